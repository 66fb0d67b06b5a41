"""What the user sees when the model is unsure, once and twice in a row."""

from __future__ import annotations

from typing import Any

from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import ActionHandleFallback
from lpse_assist.tickets import ticket_store
from tests.actions.conftest import make_tracker, user_event


async def messages_for(events: Any, domain: dict[str, Any], slots: Any = None) -> list:
    dispatcher = CollectingDispatcher()
    await ActionHandleFallback().run(dispatcher, make_tracker(events, slots), domain)
    return dispatcher.messages


async def responses_for(events: Any, domain: dict[str, Any], slots: Any = None) -> list:
    return [message["response"] for message in await messages_for(events, domain, slots)]


async def test_first_unclear_message_asks_to_rephrase_and_shows_the_menu(
    domain: dict[str, Any],
) -> None:
    events = [user_event("greet"), user_event("nlu_fallback", "zzz")]
    assert await responses_for(events, domain) == ["utter_ask_rephrase", "utter_menu"]


async def test_second_unclear_message_in_a_row_escalates(domain: dict[str, Any]) -> None:
    events = [user_event("nlu_fallback", "zzz"), user_event("nlu_fallback", "qqq")]
    result = await responses_for(events, domain, {"topic": "sikap_integration_failed"})
    assert result[0] == "utter_escalate_unclear"
    assert "utter_contact_lpse_support" in result
    assert "utter_ask_rephrase" not in result


async def test_second_unclear_message_opens_a_ticket_like_every_escalation(
    domain: dict[str, Any],
) -> None:
    events = [
        {**user_event("nlu_fallback", "zzz"), "message_id": "SM1"},
        {**user_event("nlu_fallback", "qqq"), "message_id": "SM2"},
    ]
    messages = await messages_for(events, domain, {"topic": "sikap_integration_failed"})
    assert messages[-1]["response"] == "utter_ticket_reference"
    [ticket] = ticket_store().list(status=None)
    assert messages[-1]["reference"] == ticket.reference
    # The helpdesk sees that the bot did not understand, not the earlier topic.
    assert ticket.topic == "unclear"
    assert [m["text"] for m in ticket.last_messages] == ["zzz", "qqq"]


async def test_unclear_after_a_clear_message_asks_again(domain: dict[str, Any]) -> None:
    events = [
        user_event("nlu_fallback", "zzz"),
        user_event("login_problem"),
        user_event("nlu_fallback", "qqq"),
    ]
    assert await responses_for(events, domain) == ["utter_ask_rephrase", "utter_menu"]
