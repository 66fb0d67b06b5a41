"""Closing a solved problem."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher


class ActionCloseTopic(Action):
    """User sees that we are glad it is solved; the topic is forgotten, so a later request for
    the helpdesk gets the general escalation, not the solved problem's office and documents."""

    def name(self) -> str:
        return "action_close_topic"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(response="utter_solved")
        return [SlotSet("topic", None)]
