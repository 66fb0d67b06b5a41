"""Ticket status from the real ticket store (SQLite): a sender learns only about its own."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.ticket_status import ActionCheckTicketStatus, find_reference
from lpse_assist.settings import reset_settings_cache
from lpse_assist.tickets import Ticket, reset_ticket_services, ticket_store

ME = "whatsapp:+6281234567890"
SOMEONE_ELSE = "whatsapp:+6281298765432"
# 1 December 2026, 07:30 UTC = 14:30 WIB.
CREATED = datetime(2026, 12, 1, 7, 30, tzinfo=timezone.utc)


def new_ticket(sender: str, key: str, topic: str = "login_problem") -> Ticket:
    ticket, created = ticket_store().create(
        key=key,
        topic=topic,
        channel="whatsapp",
        sender_masked="masked",
        last_messages=[],
        conversation_id=sender,
        now=CREATED,
    )
    assert created
    return ticket


def tracker(sender: str, text: str, channel: str = "twilio") -> Tracker:
    parse = {"text": text, "intent": {"name": "ticket_status", "confidence": 0.9}}
    return Tracker(
        sender_id=sender,
        slots={},
        latest_message=parse,
        events=[{"event": "user", "text": text, "parse_data": parse, "input_channel": channel}],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


async def ask(
    sender: str, text: str, domain: dict[str, Any], channel: str = "twilio"
) -> list[dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    state = tracker(sender, text, channel)
    assert await ActionCheckTicketStatus().run(dispatcher, state, domain) == []
    return dispatcher.messages


# --------------------------------------------------------------------------- references


@pytest.mark.parametrize(
    "text",
    [
        "status tiket LPSE-20261201-0003",
        "lpse-20261201-0003 gmn",
        "tiket lpse 20261201 3",
        "LPSE20261201-0003",
        "no tiket 20261201-0003 udh selesai?",
        "LPSE_20261201_03",
    ],
)
def test_references_are_found_however_they_are_typed(text: str) -> None:
    assert find_reference(text) == "LPSE-20261201-0003"


@pytest.mark.parametrize(
    "text",
    [
        "laporan saya sudah diproses?",
        "wa saya 0812 3456 7890",
        "+62 812-2026-1201",
        "LPSE-20261341-0003",  # no 41st day, no 13th month
        "LPSE-20261201-0000",
        "hubungi (021) 2993 5577",
    ],
)
def test_other_numbers_are_not_references(text: str) -> None:
    assert find_reference(text) is None


# --------------------------------------------------------------------------- answers


async def test_own_open_ticket_by_reference(domain: dict[str, Any]) -> None:
    ticket = new_ticket(ME, "k1")
    [message] = await ask(ME, f"status tiket {ticket.reference.lower()}", domain)
    assert message == {
        **message,
        "response": "utter_ticket_status_open",
        "reference": ticket.reference,
        "created": "01-12-2026 14:30 WIB",
    }


async def test_own_closed_ticket_with_its_note(domain: dict[str, Any]) -> None:
    ticket = new_ticket(ME, "k1")
    ticket_store().close(ticket.reference, "Sudah dibantu lewat telepon {x}\n, silakan login.")
    closed = ticket_store().get(ticket.reference)
    assert closed is not None and closed.closed_at is not None
    status, note = await ask(ME, f"tiket {ticket.reference} sudah selesai?", domain)
    assert status["response"] == "utter_ticket_status_closed"
    assert status["reference"] == ticket.reference
    assert status["closed"] == closed.closed_at.astimezone(ticket_store().zone).strftime(
        "%d-%m-%Y %H:%M WIB"
    )
    assert note["response"] == "utter_ticket_close_note"
    assert note["note"] == "Sudah dibantu lewat telepon (x) , silakan login."


async def test_closed_without_a_note_says_only_when(domain: dict[str, Any]) -> None:
    ticket = new_ticket(ME, "k1")
    ticket_store().close(ticket.reference)
    said = await ask(ME, ticket.reference, domain)
    assert [m["response"] for m in said] == ["utter_ticket_status_closed"]


async def test_another_senders_ticket_is_not_found_and_says_nothing_about_it(
    domain: dict[str, Any],
) -> None:
    theirs = new_ticket(SOMEONE_ELSE, "k1", topic="forgot_password")
    ticket_store().close(theirs.reference, "Password direset untuk PT Rahasia")
    mine_unknown = await ask(ME, "status tiket LPSE-20261201-0099", domain)
    said = await ask(ME, f"status tiket {theirs.reference}", domain)
    # Exactly what a reference that does not exist gets: nothing about the ticket.
    assert said == [{**mine_unknown[0], "reference": theirs.reference}]
    assert said[0]["response"] == "utter_ticket_not_found"
    assert set(said[0]) & {"created", "closed", "note"} == set()


async def test_without_a_reference_the_newest_own_ticket(domain: dict[str, Any]) -> None:
    older = new_ticket(ME, "k1")
    # One open ticket per conversation: the older one was closed before the next escalation.
    ticket_store().close(older.reference, "selesai")
    newest = new_ticket(ME, "k2")
    new_ticket(SOMEONE_ELSE, "k3")  # newer, but not theirs
    latest, status = await ask(ME, "laporan saya sudah diproses?", domain)
    assert latest["response"] == "utter_ticket_status_latest"
    assert status["response"] == "utter_ticket_status_open"
    assert status["reference"] == newest.reference


async def test_without_a_reference_or_any_ticket_the_reference_is_asked_for(
    domain: dict[str, Any],
) -> None:
    new_ticket(SOMEONE_ELSE, "k1")
    said = await ask(ME, "laporan saya sudah diproses?", domain)
    assert [m["response"] for m in said] == ["utter_ask_ticket_reference"]


async def test_a_broken_store_gets_an_apology_and_the_contacts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, domain: dict[str, Any]
) -> None:
    (tmp_path / "broken.db").mkdir()  # SQLite cannot open a directory
    monkeypatch.setenv("TRACKER_DB", str(tmp_path / "broken.db"))
    reset_settings_cache()
    reset_ticket_services()
    said = [m["response"] for m in await ask(ME, "status tiket saya", domain)]
    assert said[0] == "utter_ticket_status_unavailable"
    assert "utter_contact_lpse_support" in said


async def test_a_phone_numbers_tickets_only_through_the_twilio_webhook(
    domain: dict[str, Any],
) -> None:
    # A REST client chooses its sender id: typing someone's WhatsApp id reveals nothing.
    ticket = new_ticket(ME, "k1")
    said = await ask(ME, f"status tiket {ticket.reference}", domain, channel="rest")
    assert [m["response"] for m in said] == ["utter_ticket_not_found"]
    said = await ask(ME, "laporan saya sudah diproses?", domain, channel="rest")
    assert [m["response"] for m in said] == ["utter_ask_ticket_reference"]
    # A REST conversation's own tickets (its own sender id) are its own.
    rest_ticket = new_ticket("web-5f2c", "k2")
    said = await ask("web-5f2c", rest_ticket.reference, domain, channel="rest")
    assert said[0]["response"] == "utter_ticket_status_open"
