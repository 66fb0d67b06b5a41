"""Outages: the operator's notice first, then what providers can do, with escalation.

How the notice gets into the dialogue without changing it when there is none:

1. ``action_check_outage_notice`` fills the ``outage_notice`` slot (a custom slot mapping,
   run by Rasa after greetings, outage reports and login problems only). It sets the slot
   to the notice's text when a notice is active and not yet shown in this session, and
   returns nothing at all when there is no notice: the tracker is then exactly as before.
2. The rules in ``data/rules/service_outage.yml`` for a set slot run
   ``action_show_outage_notice`` first (the notice, then the slot emptied), then the usual
   answer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.support import escalate_with_ticket, send_contacts
from lpse_assist.contacts import load_contacts
from lpse_assist.notice import active_notice

logger = logging.getLogger(__name__)

NOTICE_SLOT = "outage_notice"
NOTICE_RESPONSE = "utter_outage_notice"
OUTAGE_TOPIC = "service_outage"
KNOWN_OUTAGE_RESPONSE = "utter_escalate_service_outage_known"


def shown_in_session(events: Iterable[Mapping[str, Any]], text: str) -> bool:
    """True when the bot already sent this notice since the session started.

    Rasa keeps the response name and the variables an action sent in the bot event's
    metadata (``utter_action``, ``notice``): an exact match, whatever else the bot said.
    """
    shown = False
    for event in events:
        kind = event.get("event")
        if kind == "session_started":
            shown = False
        elif kind == "bot":
            metadata = event.get("metadata") or {}
            if metadata.get("utter_action") == NOTICE_RESPONSE and metadata.get("notice") == text:
                shown = True
    return shown


class ActionCheckOutageNotice(Action):
    """Nothing the user sees: remembers whether a notice is waiting to be shown."""

    def name(self) -> str:
        return "action_check_outage_notice"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        notice = await active_notice()
        pending = None
        if notice is not None and not shown_in_session(tracker.events, notice.text):
            pending = notice.text
        if pending == tracker.get_slot(NOTICE_SLOT):
            return []
        return [SlotSet(NOTICE_SLOT, pending)]


class ActionShowOutageNotice(Action):
    """User sees the operator's notice (``utter_outage_notice``)."""

    def name(self) -> str:
        return "action_show_outage_notice"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        text = tracker.get_slot(NOTICE_SLOT)
        if text:
            dispatcher.utter_message(response=NOTICE_RESPONSE, notice=str(text))
        return [SlotSet(NOTICE_SLOT, None)]


class ActionEscalateOutage(Action):
    """Without a notice: where to report the outage, the contacts and a ticket. While a
    notice is published the LPSE already knows: the contacts, without a new ticket."""

    def name(self) -> str:
        return "action_escalate_outage"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if await active_notice() is not None:
            logger.info("Outage report during a published notice: contacts, no ticket.")
            dispatcher.utter_message(response=KNOWN_OUTAGE_RESPONSE)
            send_contacts(dispatcher, load_contacts())
        else:
            await escalate_with_ticket(dispatcher, tracker, domain, topic=OUTAGE_TOPIC)
        return []
