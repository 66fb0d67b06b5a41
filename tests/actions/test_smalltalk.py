"""What the user sees when the problem is solved, and that the topic is closed."""

from __future__ import annotations

from typing import Any

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.smalltalk import ActionCloseTopic
from actions.support import ActionEscalateSupport
from tests.actions.conftest import make_tracker, user_event


async def test_solved_problem_is_closed_politely_and_its_topic_forgotten(
    domain: dict[str, Any],
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker([user_event("affirm", "sudah bisa")], {"topic": "forgot_password"})
    events = await ActionCloseTopic().run(dispatcher, tracker, domain)
    assert [m["response"] for m in dispatcher.messages] == ["utter_solved"]
    assert events == [SlotSet("topic", None)]


async def test_after_closing_the_helpdesk_request_gets_the_general_escalation(
    domain: dict[str, Any],
) -> None:
    """The slot value the action returns is what the next escalation reads."""
    dispatcher = CollectingDispatcher()
    tracker = make_tracker([user_event("affirm")], {"topic": "forgot_password"})
    [closed] = await ActionCloseTopic().run(dispatcher, tracker, domain)
    later = make_tracker([user_event("contact_support")], {"topic": closed["value"]})
    escalation = CollectingDispatcher()
    await ActionEscalateSupport().run(escalation, later, domain)
    assert escalation.messages[0]["response"] == "utter_escalate_general"
