"""What the user sees when the model is unsure about a message."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.support import escalate_with_ticket

FALLBACK_INTENT = "nlu_fallback"
# Escalation topic after two unclear messages: its response says the bot did not understand.
UNCLEAR_TOPIC = "unclear"


def previous_user_intent(tracker: Tracker) -> str | None:
    """Intent of the user message before the latest one, if any."""
    user_events = [event for event in tracker.events if event.get("event") == "user"]
    if len(user_events) < 2:
        return None
    intent = (user_events[-2].get("parse_data") or {}).get("intent") or {}
    name = intent.get("name")
    return str(name) if name else None


class ActionHandleFallback(Action):
    """First unclear message: ask to rephrase and show the menu. Second in a row: escalate,
    with a ticket for the helpdesk like every escalation."""

    def name(self) -> str:
        return "action_handle_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if previous_user_intent(tracker) == FALLBACK_INTENT:
            await escalate_with_ticket(dispatcher, tracker, domain, topic=UNCLEAR_TOPIC)
        else:
            dispatcher.utter_message(response="utter_ask_rephrase")
            dispatcher.utter_message(response="utter_menu")
        return []
