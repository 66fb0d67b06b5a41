"""The outage notice in the dialogue and the outage escalation, on a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.service_outage import (
    ActionCheckOutageNotice,
    ActionEscalateOutage,
    ActionShowOutageNotice,
    shown_in_session,
)
from lpse_assist.notice import notice_store, reset_notice_store
from lpse_assist.tickets import ticket_store
from tests.actions.conftest import ROOT, make_tracker, user_event

NOTICE = "SPSE sedang pemeliharaan sampai 22.00 WIB"


@pytest.fixture(autouse=True)
def fresh_notice_store(ticket_db: Any) -> Iterator[None]:
    """The notice store on the test's SQLite file (``ticket_db`` sets TRACKER_DB)."""
    reset_notice_store()
    yield
    reset_notice_store()


def tracker(events: list[dict[str, Any]], slots: dict[str, Any] | None = None) -> Tracker:
    return make_tracker(events, slots, sender_id="whatsapp:+6281234567890")


def bot(text: str, notice: str | None = None) -> dict[str, Any]:
    """A bot event as Rasa stores it: a response sent by an action keeps its name and
    variables in the metadata."""
    metadata = {"utter_action": "utter_outage_notice", "notice": notice} if notice else {}
    return {"event": "bot", "text": text, "metadata": metadata}


async def run(action: Any, state: Tracker, domain: dict[str, Any]) -> tuple[list[Any], Any]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, state, domain)
    return events, dispatcher


# --------------------------------------------------------------------------- the check


async def test_without_a_notice_the_check_changes_nothing(domain: dict[str, Any]) -> None:
    events, dispatcher = await run(
        ActionCheckOutageNotice(), tracker([user_event("login_problem")]), domain
    )
    assert events == [] and dispatcher.messages == []


async def test_an_active_notice_is_marked_to_be_shown(domain: dict[str, Any]) -> None:
    notice_store().publish(NOTICE)
    events, dispatcher = await run(
        ActionCheckOutageNotice(), tracker([user_event("greet")]), domain
    )
    assert events == [SlotSet("outage_notice", NOTICE)]
    assert dispatcher.messages == []  # the user sees nothing from the check itself


async def test_a_notice_already_shown_in_this_session_is_not_repeated(
    domain: dict[str, Any],
) -> None:
    notice_store().publish(NOTICE)
    shown = [
        user_event("greet"),
        bot(f"*Pengumuman LPSE*: {NOTICE}", NOTICE),
        user_event("login_problem"),
    ]
    events, _ = await run(ActionCheckOutageNotice(), tracker(shown), domain)
    assert events == []


async def test_a_new_session_or_a_new_notice_is_shown_again(domain: dict[str, Any]) -> None:
    old_session = [user_event("greet"), bot(f"Pengumuman LPSE: {NOTICE}", NOTICE)]
    new_session = [*old_session, {"event": "session_started"}, user_event("login_problem")]
    assert shown_in_session(old_session, NOTICE)
    assert not shown_in_session(new_session, NOTICE)
    # Another message that happens to contain the words is not the notice.
    assert not shown_in_session([bot(f"Info: {NOTICE}")], NOTICE)
    notice_store().publish("SPSE kembali normal")
    events, _ = await run(ActionCheckOutageNotice(), tracker(old_session), domain)
    assert events == [SlotSet("outage_notice", "SPSE kembali normal")]


async def test_a_cleared_notice_empties_a_slot_still_set(domain: dict[str, Any]) -> None:
    notice_store().publish(NOTICE)
    notice_store().clear()
    state = tracker([user_event("login_problem")], slots={"outage_notice": NOTICE})
    events, _ = await run(ActionCheckOutageNotice(), state, domain)
    assert events == [SlotSet("outage_notice", None)]


# --------------------------------------------------------------------------- showing it


async def test_the_notice_is_a_template_variable_of_the_domain_response(
    domain: dict[str, Any],
) -> None:
    text = "SPSE {notice} 0(x) sedang pemeliharaan"
    state = tracker([user_event("greet")], slots={"outage_notice": text})
    events, dispatcher = await run(ActionShowOutageNotice(), state, domain)
    assert events == [SlotSet("outage_notice", None)]
    assert dispatcher.messages[0]["response"] == "utter_outage_notice"
    assert dispatcher.messages[0]["notice"] == text

    # Rasa's own NLG fills the template: the operator's braces stay text.
    rasa_domain = Domain.load(str(ROOT / "domain.yml"))
    nlg = TemplatedNaturalLanguageGenerator(rasa_domain.responses)
    rasa_tracker = DialogueStateTracker("u", rasa_domain.slots)
    for channel, expected in (("twilio", f"*Pengumuman LPSE*: {text}"), ("sms", None)):
        rendered = await nlg.generate("utter_outage_notice", rasa_tracker, channel, notice=text)
        assert rendered is not None
        assert rendered["text"] == (expected or f"Pengumuman LPSE: {text}")


async def test_nothing_to_show_still_empties_the_slot(domain: dict[str, Any]) -> None:
    events, dispatcher = await run(ActionShowOutageNotice(), tracker([]), domain)
    assert events == [SlotSet("outage_notice", None)] and dispatcher.messages == []


# --------------------------------------------------------------------------- escalation


def responses(dispatcher: Any) -> list[str]:
    return [m["response"] for m in dispatcher.messages]


async def test_without_a_notice_an_outage_is_escalated_with_a_ticket(
    domain: dict[str, Any],
) -> None:
    state = tracker([{**user_event("service_outage", "spse down"), "message_id": "SM1"}])
    events, dispatcher = await run(ActionEscalateOutage(), state, domain)
    said = responses(dispatcher)
    assert events == []
    assert said[0] == "utter_escalate_service_outage"
    assert "utter_contact_lpse_support" in said
    assert said[-1] == "utter_ticket_reference"
    [ticket] = ticket_store().list()
    assert ticket.topic == "service_outage"
    assert dispatcher.messages[-1]["reference"] == ticket.reference


async def test_during_a_notice_an_outage_gets_the_contacts_without_a_ticket(
    domain: dict[str, Any],
) -> None:
    notice_store().publish(NOTICE)
    state = tracker([{**user_event("service_outage", "spse down"), "message_id": "SM2"}])
    _, dispatcher = await run(ActionEscalateOutage(), state, domain)
    said = responses(dispatcher)
    assert said[0] == "utter_escalate_service_outage_known"
    assert "utter_contact_lpse_support" in said
    assert "utter_ticket_reference" not in said
    assert ticket_store().list() == []
