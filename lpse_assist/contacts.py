"""Contact details for escalation, read from the operator's contacts YAML file."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lpse_assist.settings import contact_settings

logger = logging.getLogger(__name__)

# The local helpdesk fields, in the order users see them; each maps to a response
# `utter_contact_helpdesk_<field>` in domain.yml.
HELPDESK_FIELDS = ("phone", "whatsapp", "email", "address", "hours")

# How providers get an SPSE account at this LPSE (contacts.yml, `provider_accounts`):
# on the LPSE's own SPSE site, at LKPP's central account service, or not yet known (the
# default: the answers name both and point to the helpdesk, never guess).
ACCOUNT_SYSTEMS = ("per_lpse", "central", "unknown")
UNKNOWN_ACCOUNT_SYSTEM = "unknown"


@dataclass(frozen=True)
class Contacts:
    """What the user may be told about where to get help. Empty values mean unknown."""

    call_center_phones: list[str] = field(default_factory=list)
    helpdesk_name: str = ""
    helpdesk: dict[str, str] = field(default_factory=dict)
    account_system: str = UNKNOWN_ACCOUNT_SYSTEM
    # The LPSE's own site address; empty when the operator has not given it.
    lpse_site: str = ""
    # The LPSE's own list of documents for provider verification; empty: the usual list.
    verification_documents: list[str] = field(default_factory=list)

    def filled_helpdesk_fields(self) -> list[str]:
        """Helpdesk fields that have a value, in display order."""
        return [name for name in HELPDESK_FIELDS if self.helpdesk.get(name)]


def _text(value: Any) -> str:
    return str(value).strip() if value is not None else ""


def parse_contacts(raw: Any) -> Contacts:
    """Build Contacts from the parsed YAML, dropping empty or malformed values."""
    if not isinstance(raw, dict):
        return Contacts()
    call_center = raw.get("lkpp_call_center") or {}
    phones_raw = call_center.get("phones") if isinstance(call_center, dict) else None
    if not isinstance(phones_raw, list):
        phones_raw = []
    phones = [_text(phone) for phone in phones_raw if _text(phone)]
    helpdesk_raw = raw.get("local_helpdesk") or {}
    if not isinstance(helpdesk_raw, dict):
        helpdesk_raw = {}
    helpdesk = {name: _text(helpdesk_raw.get(name)) for name in HELPDESK_FIELDS}
    accounts = raw.get("provider_accounts") or {}
    if not isinstance(accounts, dict):
        accounts = {}
    documents_raw = accounts.get("verification_documents")
    if not isinstance(documents_raw, list):
        documents_raw = []
    return Contacts(
        call_center_phones=phones,
        helpdesk_name=_text(helpdesk_raw.get("name")),
        helpdesk=helpdesk,
        account_system=parse_account_system(accounts.get("account_system")),
        lpse_site=_text(accounts.get("site")),
        verification_documents=[_text(d) for d in documents_raw if _text(d)],
    )


def parse_account_system(value: Any) -> str:
    """One of ACCOUNT_SYSTEMS; anything else (a typo, empty) is `unknown`, logged: an
    unrecognised setting must not make the bot state one system's procedure as fact."""
    text = _text(value).lower().replace("-", "_")
    if text in ACCOUNT_SYSTEMS:
        return text
    if text:
        logger.warning(
            "provider_accounts.account_system %r is not one of %s: using %r",
            text,
            ", ".join(ACCOUNT_SYSTEMS),
            UNKNOWN_ACCOUNT_SYSTEM,
        )
    return UNKNOWN_ACCOUNT_SYSTEM


# The contacts parsed last, per file, with the text they were parsed from.
_parsed: dict[str, tuple[str, Contacts]] = {}


def load_contacts(path: Path | None = None) -> Contacts:
    """Read the contacts file; a missing or broken file gives no contacts, never an exception.

    The file is read on every call so that an operator's edit takes effect without a restart;
    it is a few hundred bytes. Parsing it (YAML: a few milliseconds of the action server's
    event loop per escalation) happens only when its text changed.
    """
    path = path or contact_settings().contacts_file
    key = str(path)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        parsed = _parsed.get(key)
        if parsed is not None and parsed[0] == text:
            return parsed[1]
        contacts = parse_contacts(yaml.safe_load(text))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        logger.error("Cannot read contacts file %s: %s", path, error)
        return Contacts()
    _parsed[key] = (text, contacts)
    return contacts
