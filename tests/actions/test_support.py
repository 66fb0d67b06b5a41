"""What the user sees when the assistant escalates or shows the contacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.support import ActionEscalateSupport, ActionShowContacts, escalation_response
from lpse_assist.settings import reset_settings_cache
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
def contacts_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A contacts file the test writes; LPSE_CONTACTS_FILE points at it."""
    path = tmp_path / "contacts.yml"
    monkeypatch.setenv("LPSE_CONTACTS_FILE", str(path))
    reset_settings_cache()
    yield path
    reset_settings_cache()


def responses(dispatcher: CollectingDispatcher) -> List[str]:
    return [message["response"] for message in dispatcher.messages]


async def run(action: Any, tracker: Any, domain: Dict[str, Any]) -> CollectingDispatcher:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, domain)
    assert events == []
    return dispatcher


@pytest.mark.parametrize("topic", FAQ_TOPICS)
def test_every_faq_topic_has_its_own_escalation(topic: str, domain: Dict[str, Any]) -> None:
    assert escalation_response(topic, domain) == f"utter_escalate_{topic}"


def test_unknown_or_missing_topic_gets_the_general_escalation(domain: Dict[str, Any]) -> None:
    assert escalation_response(None, domain) == "utter_escalate_general"
    assert escalation_response("dapodik", domain) == "utter_escalate_general"


async def test_escalation_names_the_topic_office_then_the_contacts(
    contacts_file: Path, domain: Dict[str, Any]
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
    ]
    by_name = {message["response"]: message for message in dispatcher.messages}
    assert by_name["utter_contact_call_center"]["phones"] == "(021) 2993 5577 / (021) 5020 5577"
    assert by_name["utter_contact_helpdesk_phone"]["phone"] == "0711-000"
    assert by_name["utter_contact_helpdesk_email"]["email"] == "helpdesk@example.go.id"


async def test_empty_helpdesk_fields_are_never_shown(
    contacts_file: Path, domain: Dict[str, Any]
) -> None:
    contacts_file.write_text(
        'lkpp_call_center:\n  phones: ["(021) 2993 5577"]\n'
        'local_helpdesk:\n  name: "LPSE Kab. Contoh"\n  phone: ""\n  whatsapp: "  "\n'
    )
    dispatcher = await run(ActionShowContacts(), make_tracker(), domain)
    assert responses(dispatcher) == ["utter_contact_lpse_support", "utter_contact_call_center"]


async def test_broken_contacts_file_still_gives_lpse_support(
    contacts_file: Path, domain: Dict[str, Any]
) -> None:
    contacts_file.write_text("lkpp_call_center: [unclosed\n")
    dispatcher = await run(ActionShowContacts(), make_tracker(), domain)
    assert responses(dispatcher) == ["utter_contact_lpse_support"]


async def test_shipped_contacts_file_gives_the_seed_call_center(domain: Dict[str, Any]) -> None:
    reset_settings_cache()
    dispatcher = await run(ActionShowContacts(), make_tracker(), domain)
    phones = [m.get("phones") for m in dispatcher.messages if m.get("phones")]
    assert phones == ["(021) 2993 5577 / (021) 5020 5577"]
