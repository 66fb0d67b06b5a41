"""The operator's contacts file: helpdesk details and this LPSE's provider-account settings."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from lpse_assist.contacts import ACCOUNT_SYSTEMS, load_contacts, parse_contacts

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_file_leaves_the_account_system_to_the_operator() -> None:
    contacts = load_contacts(ROOT / "contacts.yml")
    assert contacts.account_system == "unknown"
    assert contacts.lpse_site == ""
    assert contacts.verification_documents == []
    # The helpdesk details are still read from the same file.
    assert contacts.call_center_phones == ["(021) 2993 5577", "(021) 5020 5577"]


@pytest.mark.parametrize("system", ACCOUNT_SYSTEMS)
def test_each_account_system_is_read(system: str) -> None:
    raw = {"provider_accounts": {"account_system": system}}
    assert parse_contacts(raw).account_system == system


@pytest.mark.parametrize("written", ["Per_LPSE", " central ", "per-lpse"])
def test_account_system_spelling_is_forgiven(written: str) -> None:
    raw = {"provider_accounts": {"account_system": written}}
    assert parse_contacts(raw).account_system in {"per_lpse", "central"}


@pytest.mark.parametrize("written", ["terpusat", "lpse", 3, ["central"]])
def test_an_unrecognised_account_system_is_unknown_and_logged(
    written: object, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="lpse_assist.contacts"):
        contacts = parse_contacts({"provider_accounts": {"account_system": written}})
    assert contacts.account_system == "unknown"
    assert "account_system" in caplog.text


@pytest.mark.parametrize(
    "accounts", [None, "central", [], {"account_system": None}, {"account_system": ""}]
)
def test_a_missing_or_malformed_block_is_unknown(accounts: object) -> None:
    contacts = parse_contacts({"provider_accounts": accounts})
    assert contacts.account_system == "unknown"
    assert contacts.lpse_site == "" and contacts.verification_documents == []


def test_site_and_document_list_are_trimmed_and_empty_items_dropped() -> None:
    raw = yaml.safe_load(
        "provider_accounts:\n"
        "  account_system: per_lpse\n"
        "  site: '  https://lpse.example.go.id  '\n"
        "  verification_documents:\n"
        "    - ' KTP direktur '\n"
        "    - ''\n"
        "    -\n"
        "    - NPWP perusahaan\n"
    )
    contacts = parse_contacts(raw)
    assert contacts.lpse_site == "https://lpse.example.go.id"
    assert contacts.verification_documents == ["KTP direktur", "NPWP perusahaan"]


def test_a_document_list_that_is_not_a_list_is_ignored() -> None:
    raw = {"provider_accounts": {"verification_documents": "KTP, NPWP"}}
    assert parse_contacts(raw).verification_documents == []


def test_an_edit_is_seen_at_once_and_an_unchanged_file_is_parsed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lpse_assist.contacts as contacts_module

    parses: list[object] = []
    real_parse = contacts_module.parse_contacts

    def counting(raw: object) -> object:
        parses.append(raw)
        return real_parse(raw)

    monkeypatch.setattr(contacts_module, "parse_contacts", counting)
    path = tmp_path / "contacts.yml"
    path.write_text("local_helpdesk:\n  phone: '0735 111'\n", encoding="utf-8")
    for _ in range(3):
        assert load_contacts(path).helpdesk["phone"] == "0735 111"
    assert len(parses) == 1
    # Same size, written at once: the text decides, not the file's time stamp.
    path.write_text("local_helpdesk:\n  phone: '0735 222'\n", encoding="utf-8")
    assert load_contacts(path).helpdesk["phone"] == "0735 222"
    path.write_text("local_helpdesk: [broken\n", encoding="utf-8")
    assert load_contacts(path).filled_helpdesk_fields() == []
    path.write_bytes(b"\xff\xfe not utf-8")
    assert load_contacts(path).filled_helpdesk_fields() == []
    path.unlink()
    assert load_contacts(path).filled_helpdesk_fields() == []
    assert len(parses) == 2
