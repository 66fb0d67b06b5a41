"""Escalation: tell the user where to take a problem the assistant could not solve."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from lpse_assist.contacts import Contacts, load_contacts

logger = logging.getLogger(__name__)

GENERAL_ESCALATION = "utter_escalate_general"


def escalation_response(topic: Optional[str], domain: Dict[str, Any]) -> str:
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
    dispatcher.utter_message(response="utter_contact_lpse_support")
    if contacts.call_center_phones:
        dispatcher.utter_message(
            response="utter_contact_call_center",
            phones=" / ".join(contacts.call_center_phones),
        )
    fields = contacts.filled_helpdesk_fields()
    if fields and contacts.helpdesk_name:
        dispatcher.utter_message(
            response="utter_contact_helpdesk_name", name=contacts.helpdesk_name
        )
    for name in fields:
        dispatcher.utter_message(
            response=f"utter_contact_helpdesk_{name}", **{name: contacts.helpdesk[name]}
        )


def escalate(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    domain: Dict[str, Any],
    topic: Optional[str] = None,
) -> None:
    """Send the escalation advice for `topic` (default: the `topic` slot), then the contacts."""
    topic = topic or tracker.get_slot("topic")
    response = escalation_response(topic, domain)
    logger.info("Escalating conversation (topic=%s)", topic or "general")
    dispatcher.utter_message(response=response)
    send_contacts(dispatcher, load_contacts())


class ActionEscalateSupport(Action):
    """User sees where to go for their topic, what to attach, and the contacts."""

    def name(self) -> str:
        return "action_escalate_support"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[Dict[str, Any]]:
        escalate(dispatcher, tracker, domain)
        return []


class ActionShowContacts(Action):
    """User sees the support contacts (LPSE Support, call center, local helpdesk)."""

    def name(self) -> str:
        return "action_show_contacts"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[Dict[str, Any]]:
        send_contacts(dispatcher, load_contacts())
        return []
