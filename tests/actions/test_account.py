"""What a provider sees about registration, verification documents and data changes, for each
account system the operator can configure in contacts.yml."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.account import (
    ActionAnswerChangeProviderData,
    ActionAnswerRegisterAccount,
    ActionAnswerVerificationDocuments,
)
from lpse_assist.contacts import ACCOUNT_SYSTEMS
from lpse_assist.settings import reset_settings_cache
from tests.actions.conftest import make_tracker, user_event

CONTACTS = (
    'lkpp_call_center:\n  phones: ["(021) 2993 5577"]\n'
    'local_helpdesk:\n  name: "LPSE Kab. Contoh"\n  phone: "0711-000"\n'
)


@pytest.fixture()
def configure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Write a contacts file with the given provider_accounts block; the actions read it."""
    path = tmp_path / "contacts.yml"
    monkeypatch.setenv("LPSE_CONTACTS_FILE", str(path))
    reset_settings_cache()

    def write(system: str, site: str = "", documents: list[str] | None = None) -> None:
        items = "".join(f"\n    - {d!r}" for d in documents or [])
        path.write_text(
            CONTACTS + f"provider_accounts:\n  account_system: {system}\n  site: {site!r}\n"
            f"  verification_documents:{items or ' []'}\n"
        )

    yield write
    reset_settings_cache()


async def run(action: Any, domain: dict[str, Any], intent: str) -> CollectingDispatcher:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, make_tracker([user_event(intent)]), domain)
    assert events == []
    return dispatcher


def sent(dispatcher: CollectingDispatcher) -> list[str]:
    return [message["response"] for message in dispatcher.messages]


HELPDESK = [
    "utter_contact_lpse_support",
    "utter_contact_call_center",
    "utter_contact_helpdesk_name",
    "utter_contact_helpdesk_phone",
]


@pytest.mark.parametrize(
    "action,topic",
    [
        (ActionAnswerRegisterAccount(), "register_account"),
        (ActionAnswerVerificationDocuments(), "verification_documents"),
        (ActionAnswerChangeProviderData(), "change_provider_data"),
    ],
)
@pytest.mark.parametrize("system", ACCOUNT_SYSTEMS)
async def test_each_system_gets_its_own_answer_and_unknown_adds_the_helpdesk(
    action: Any, topic: str, system: str, configure: Any, domain: dict[str, Any]
) -> None:
    configure(system)
    dispatcher = await run(action, domain, topic)
    expected = [f"utter_answer_{topic}_{system}"]
    if system == "unknown":
        expected += HELPDESK
    assert sent(dispatcher) == expected
    for name in sent(dispatcher):
        assert name in domain["responses"]


async def test_no_contacts_file_means_unknown_never_a_guess(
    configure: Any, domain: dict[str, Any]
) -> None:
    # `configure` pointed LPSE_CONTACTS_FILE at a file that was never written.
    dispatcher = await run(ActionAnswerRegisterAccount(), domain, "register_account")
    assert sent(dispatcher) == ["utter_answer_register_account_unknown", HELPDESK[0]]


@pytest.mark.parametrize("system", ["per_lpse", "unknown"])
async def test_registration_gives_the_lpse_site_when_configured(
    system: str, configure: Any, domain: dict[str, Any]
) -> None:
    configure(system, site="https://spse.example.go.id")
    dispatcher = await run(ActionAnswerRegisterAccount(), domain, "register_account")
    assert sent(dispatcher)[:2] == [f"utter_answer_register_account_{system}", "utter_lpse_site"]
    assert dispatcher.messages[1]["site"] == "https://spse.example.go.id"


async def test_central_registration_does_not_send_users_to_the_lpse_site(
    configure: Any, domain: dict[str, Any]
) -> None:
    configure("central", site="https://spse.example.go.id")
    dispatcher = await run(ActionAnswerRegisterAccount(), domain, "register_account")
    assert sent(dispatcher) == ["utter_answer_register_account_central"]


async def test_no_site_line_without_a_site(configure: Any, domain: dict[str, Any]) -> None:
    configure("per_lpse")
    dispatcher = await run(ActionAnswerRegisterAccount(), domain, "register_account")
    assert "utter_lpse_site" not in sent(dispatcher)


@pytest.mark.parametrize("system", ACCOUNT_SYSTEMS)
async def test_the_operators_document_list_replaces_the_usual_one(
    system: str, configure: Any, domain: dict[str, Any]
) -> None:
    configure(system, documents=["KTP direktur (asli)", "NPWP perusahaan"])
    dispatcher = await run(ActionAnswerVerificationDocuments(), domain, "verification_documents")
    assert sent(dispatcher) == ["utter_answer_verification_documents_configured"]
    assert dispatcher.messages[0]["documents"] == "- KTP direktur (asli)\n- NPWP perusahaan"
    template = domain["responses"]["utter_answer_verification_documents_configured"][0]["text"]
    assert "{documents}" in template


async def test_the_document_list_does_not_change_other_answers(
    configure: Any, domain: dict[str, Any]
) -> None:
    configure("per_lpse", documents=["KTP direktur"])
    dispatcher = await run(ActionAnswerChangeProviderData(), domain, "change_provider_data")
    assert sent(dispatcher) == ["utter_answer_change_provider_data_per_lpse"]
