"""What the user sees when the assistant escalates or shows the contacts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.support import ActionEscalateSupport, ActionShowContacts, escalation_response
from lpse_assist.settings import reset_settings_cache
from lpse_assist.tickets import reset_ticket_services, ticket_store
from tests.actions.conftest import make_tracker, user_event

FAQ_TOPICS = [
    "login_problem",
    "login_wrong_credentials",
    "forgot_password",
    "forgot_user_id",
    "forgot_account",
    "login_javascript_error",
    "login_data_not_synced",
    "ppk_change_unit",
    "ppk_replace_package",
    "ppk_changed",
    "sikap_integration_failed",
]


@pytest.fixture()
def contacts_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A contacts file the test writes; LPSE_CONTACTS_FILE points at it."""
    path = tmp_path / "contacts.yml"
    monkeypatch.setenv("LPSE_CONTACTS_FILE", str(path))
    reset_settings_cache()
    yield path
    reset_settings_cache()


def responses(dispatcher: CollectingDispatcher) -> list[str]:
    return [message["response"] for message in dispatcher.messages]


async def run(action: Any, tracker: Any, domain: dict[str, Any]) -> CollectingDispatcher:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, domain)
    assert events == []
    return dispatcher


@pytest.mark.parametrize("topic", FAQ_TOPICS)
def test_every_faq_topic_has_its_own_escalation(topic: str, domain: dict[str, Any]) -> None:
    assert escalation_response(topic, domain) == f"utter_escalate_{topic}"


def test_unknown_or_missing_topic_gets_the_general_escalation(domain: dict[str, Any]) -> None:
    assert escalation_response(None, domain) == "utter_escalate_general"
    assert escalation_response("dapodik", domain) == "utter_escalate_general"


async def test_escalation_names_the_topic_office_then_the_contacts(
    contacts_file: Path, domain: dict[str, Any]
) -> None:
    contacts_file.write_text(
        'lkpp_call_center:\n  phones: ["(021) 2993 5577", "(021) 5020 5577"]\n'
        'local_helpdesk:\n  name: "LPSE Kab. Contoh"\n  phone: "0711-000"\n'
        '  whatsapp: ""\n  email: "helpdesk@example.go.id"\n  address: ""\n  hours: ""\n'
    )
    tracker = make_tracker([user_event("deny")], slots={"topic": "login_javascript_error"})
    dispatcher = await run(ActionEscalateSupport(), tracker, domain)
    assert responses(dispatcher) == [
        "utter_escalate_login_javascript_error",
        "utter_contact_lpse_support",
        "utter_contact_call_center",
        "utter_contact_helpdesk_name",
        "utter_contact_helpdesk_phone",
        "utter_contact_helpdesk_email",
        "utter_ticket_reference",
    ]
    by_name = {message["response"]: message for message in dispatcher.messages}
    assert by_name["utter_contact_call_center"]["phones"] == "(021) 2993 5577 / (021) 5020 5577"
    assert by_name["utter_contact_helpdesk_phone"]["phone"] == "0711-000"
    assert by_name["utter_contact_helpdesk_email"]["email"] == "helpdesk@example.go.id"


async def test_empty_helpdesk_fields_are_never_shown(
    contacts_file: Path, domain: dict[str, Any]
) -> None:
    contacts_file.write_text(
        'lkpp_call_center:\n  phones: ["(021) 2993 5577"]\n'
        'local_helpdesk:\n  name: "LPSE Kab. Contoh"\n  phone: ""\n  whatsapp: "  "\n'
    )
    dispatcher = await run(ActionShowContacts(), make_tracker(), domain)
    assert responses(dispatcher) == ["utter_contact_lpse_support", "utter_contact_call_center"]


async def test_broken_contacts_file_still_gives_lpse_support(
    contacts_file: Path, domain: dict[str, Any]
) -> None:
    contacts_file.write_text("lkpp_call_center: [unclosed\n")
    dispatcher = await run(ActionShowContacts(), make_tracker(), domain)
    assert responses(dispatcher) == ["utter_contact_lpse_support"]


async def test_shipped_contacts_file_gives_the_seed_call_center(domain: dict[str, Any]) -> None:
    reset_settings_cache()
    dispatcher = await run(ActionShowContacts(), make_tracker(), domain)
    phones = [m.get("phones") for m in dispatcher.messages if m.get("phones")]
    assert phones == ["(021) 2993 5577 / (021) 5020 5577"]


# ---------------------------------------------------------------- tickets


async def test_escalation_records_one_ticket_and_tells_the_user_its_reference(
    domain: dict[str, Any],
) -> None:
    events = [
        {**user_event("login_problem", "gak bisa login lpse"), "message_id": "SM1"},
        {**user_event("deny", "belum, hub 081234567890"), "message_id": "SM2"},
    ]
    tracker = make_tracker(events, slots={"topic": "login_problem"})
    dispatcher = await run(ActionEscalateSupport(), tracker, domain)
    assert responses(dispatcher)[0] == "utter_escalate_login_problem"
    assert responses(dispatcher)[-1] == "utter_ticket_reference"
    reference = dispatcher.messages[-1]["reference"]
    assert re.fullmatch(r"LPSE-\d{8}-0001", reference)

    tickets = ticket_store().list(status=None)
    assert [t.reference for t in tickets] == [reference]
    ticket = tickets[0]
    assert (ticket.topic, ticket.channel, ticket.sender_masked) == (
        "login_problem",
        "sms",
        "+62812****7890",
    )
    assert [m["text"] for m in ticket.last_messages] == [
        "gak bisa login lpse",
        "belum, hub 0812****90",
    ]
    assert ticket.notify_status == "skipped"  # no HELPDESK_NOTIFY_NUMBER: no notification


async def test_the_same_escalation_run_again_keeps_one_ticket(domain: dict[str, Any]) -> None:
    tracker = make_tracker([{**user_event("contact_support"), "message_id": "SM9"}])
    first = await run(ActionEscalateSupport(), tracker, domain)
    again = await run(ActionEscalateSupport(), tracker, domain)
    assert first.messages[-1]["reference"] == again.messages[-1]["reference"]
    assert len(ticket_store().list(status=None)) == 1
    later = make_tracker(
        [
            {**user_event("contact_support"), "message_id": "SM9"},
            {**user_event("contact_support"), "message_id": "SM10"},
        ]
    )
    # A new escalation of the same conversation while its ticket is open: the same ticket
    # (one open ticket per conversation, issue 17); once closed, the next one is new.
    third = await run(ActionEscalateSupport(), later, domain)
    assert third.messages[-1]["reference"] == first.messages[-1]["reference"]
    assert len(ticket_store().list(status=None)) == 1
    ticket_store().close(first.messages[-1]["reference"])
    latest = make_tracker([*later.events, {**user_event("contact_support"), "message_id": "SM11"}])
    fourth = await run(ActionEscalateSupport(), latest, domain)
    assert fourth.messages[-1]["reference"].endswith("-0002")


async def test_a_broken_ticket_database_still_gives_the_escalation(
    domain: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("TRACKER_DB", str(blocker / "tracker.db"))
    reset_settings_cache()
    reset_ticket_services()
    tracker = make_tracker([user_event("deny")], slots={"topic": "forgot_password"})
    dispatcher = await run(ActionEscalateSupport(), tracker, domain)
    assert responses(dispatcher)[0] == "utter_escalate_forgot_password"
    assert "utter_ticket_reference" not in responses(dispatcher)
