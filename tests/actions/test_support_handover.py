"""The escalation message when the helpdesk answers in the console: the user is told the
local helpdesk replies in this conversation, with the reference, and LKPP's channels are
offered only for what LKPP alone can do; without any agent account, the contacts as before."""

from __future__ import annotations

from typing import Any

from rasa_sdk.executor import CollectingDispatcher

from actions.support import ActionEscalateSupport
from lpse_assist.console.store import ConsoleStore
from lpse_assist.tickets import ticket_store
from tests.actions.conftest import make_tracker, user_event


async def _escalate(domain: dict[str, Any]) -> list[dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        [user_event("login_problem", "gak bisa login")], {"topic": "login_problem"}
    )
    await ActionEscalateSupport().run(dispatcher, tracker, domain)
    return dispatcher.messages


async def test_without_agents_the_user_gets_the_contacts_and_the_reference(
    domain: dict[str, Any],
) -> None:
    responses = [m["response"] for m in await _escalate(domain)]
    assert responses[0] == "utter_escalate_login_problem"
    assert "utter_contact_lpse_support" in responses
    assert responses[-1] == "utter_ticket_reference"
    assert "utter_ticket_helpdesk_reply" not in responses


async def test_with_an_agent_the_helpdesk_answers_here(domain: dict[str, Any]) -> None:
    ConsoleStore(ticket_store().engine).set_agent("siti", "kata-sandi-uji-123")
    messages = await _escalate(domain)
    responses = [m["response"] for m in messages]
    assert responses[:3] == [
        "utter_escalate_login_problem",
        "utter_ticket_helpdesk_reply",
        "utter_contact_lkpp_only",
    ]
    assert messages[1]["reference"].startswith("LPSE-")
    # No reference to take to anybody else, no local helpdesk phone lines.
    assert "utter_ticket_reference" not in responses
    assert not [r for r in responses if r.startswith("utter_contact_helpdesk_")]
    assert "utter_contact_lpse_support" in responses


async def test_outside_office_hours_the_user_hears_when_the_helpdesk_replies(
    domain: dict[str, Any], monkeypatch: Any
) -> None:
    from lpse_assist.settings import reset_settings_cache

    # Open one minute a week, Sunday 00:00: closed now unless the test runs right then.
    monkeypatch.setenv("HELPDESK_OFFICE_HOURS", "sun 00:00-00:01")
    reset_settings_cache()
    ConsoleStore(ticket_store().engine).set_agent("siti", "kata-sandi-uji-123")
    messages = await _escalate(domain)
    later = [m for m in messages if m["response"] == "utter_ticket_helpdesk_reply_later"]
    assert len(later) == 1 and later[0]["when"] in ("Minggu, 00:00 WIB", "Minggu, 00:00 +07")
    assert "utter_ticket_helpdesk_reply" not in [m["response"] for m in messages]
