"""Escalation: tell the user where to take a problem the assistant could not solve."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from lpse_assist.contacts import Contacts, load_contacts

if TYPE_CHECKING:
    from lpse_assist.tickets import Ticket

logger = logging.getLogger(__name__)

GENERAL_ESCALATION = "utter_escalate_general"


def escalation_response(topic: str | None, domain: dict[str, Any]) -> str:
    """The response naming the office and documents for this topic.

    A trainer adds a topic's escalation by adding `utter_escalate_<topic>` to the domain;
    topics without one get the general escalation.
    """
    if topic:
        name = f"utter_escalate_{topic}"
        if name in domain.get("responses", {}):
            return name
    return GENERAL_ESCALATION


def send_contacts(dispatcher: CollectingDispatcher, contacts: Contacts) -> None:
    """Send LPSE Support, the call center and every filled helpdesk field; skip empty ones."""
    send_lkpp_contacts(dispatcher, contacts)
    fields = contacts.filled_helpdesk_fields()
    if fields and contacts.helpdesk_name:
        dispatcher.utter_message(
            response="utter_contact_helpdesk_name", name=contacts.helpdesk_name
        )
    for name in fields:
        dispatcher.utter_message(
            response=f"utter_contact_helpdesk_{name}", **{name: contacts.helpdesk[name]}
        )


def escalate(dispatcher: CollectingDispatcher, domain: dict[str, Any], topic: str | None) -> None:
    """Send the escalation advice for `topic`, then the contacts."""
    response = escalation_response(topic, domain)
    logger.info("Escalating conversation (topic=%s)", topic or "general")
    dispatcher.utter_message(response=response)
    send_contacts(dispatcher, load_contacts())


TICKET_REFERENCE = "utter_ticket_reference"
# Rasa waits about 10 s for the whole action: a database that is slow to answer (SQLite
# locked by a long write) costs the user the reference, never the escalation itself.
TICKET_TIMEOUT_SECONDS = 5.0


async def record_ticket(tracker: Tracker, topic: str | None) -> Ticket | None:
    """Record the escalation's ticket for `topic` and notify the helpdesk; ``None`` if that
    failed.

    A broken database (or an action-server image without SQLAlchemy) must never cost the user
    the escalation advice: the failure is logged and the user simply gets no reference.
    """
    try:
        from lpse_assist.tickets import open_ticket

        return await asyncio.wait_for(
            open_ticket(tracker.sender_id, tracker.events, topic),
            timeout=TICKET_TIMEOUT_SECONDS,
        )
    except Exception:
        logger.exception("Could not record the escalation ticket.")
        return None


HELPDESK_REPLY = "utter_ticket_helpdesk_reply"
HELPDESK_REPLY_LATER = "utter_ticket_helpdesk_reply_later"
LKPP_ONLY = "utter_contact_lkpp_only"


async def helpdesk_reply(ticket: Ticket) -> tuple[str, dict[str, str]] | None:
    """The response (and its values) saying the helpdesk console answers in this
    conversation (when, outside office hours); ``None`` (the contacts, as before) when no
    agent account exists or the check fails."""
    try:
        from lpse_assist.handover import handover_service, helpdesk_closed_until
        from lpse_assist.settings import helpdesk_hours_settings
        from lpse_assist.tickets import ticket_store

        answers = await asyncio.wait_for(
            handover_service().ticket_opened(ticket), timeout=TICKET_TIMEOUT_SECONDS
        )
        if not answers:
            return None
        later = helpdesk_closed_until(helpdesk_hours_settings(), ticket_store().zone)
    except Exception:
        logger.exception("Could not tell whether the helpdesk console is in use.")
        return None
    if later:
        return HELPDESK_REPLY_LATER, {"reference": ticket.reference, "when": later}
    return HELPDESK_REPLY, {"reference": ticket.reference}


def send_lkpp_contacts(dispatcher: CollectingDispatcher, contacts: Contacts) -> None:
    """LKPP's own channels: LPSE Support and the call center."""
    dispatcher.utter_message(response="utter_contact_lpse_support")
    if contacts.call_center_phones:
        dispatcher.utter_message(
            response="utter_contact_call_center",
            phones=" / ".join(contacts.call_center_phones),
        )


async def escalate_with_ticket(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    domain: dict[str, Any],
    topic: str | None = None,
) -> None:
    """Escalation advice for `topic` (default: the `topic` slot) and the contacts, then the
    reference of the ticket the helpdesk got."""
    topic = topic or tracker.get_slot("topic")
    ticket = await record_ticket(tracker, topic)
    reply = await helpdesk_reply(ticket) if ticket is not None else None
    if reply is not None:
        # The local helpdesk answers in this conversation (console): no phone numbers to
        # call with a reference they cannot use; LKPP only for what LKPP alone can do.
        dispatcher.utter_message(response=escalation_response(topic, domain))
        dispatcher.utter_message(response=reply[0], **reply[1])
        dispatcher.utter_message(response=LKPP_ONLY)
        send_lkpp_contacts(dispatcher, load_contacts())
        return
    escalate(dispatcher, domain, topic)
    if ticket is not None:
        dispatcher.utter_message(response=TICKET_REFERENCE, reference=ticket.reference)


class ActionEscalateSupport(Action):
    """User sees where to go for their topic, what to attach, the contacts, and the
    reference of the ticket the helpdesk got."""

    def name(self) -> str:
        return "action_escalate_support"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        await escalate_with_ticket(dispatcher, tracker, domain)
        return []


class ActionShowContacts(Action):
    """User sees the support contacts (LPSE Support, call center, local helpdesk)."""

    def name(self) -> str:
        return "action_show_contacts"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        send_contacts(dispatcher, load_contacts())
        return []
