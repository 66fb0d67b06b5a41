"""Escalation tickets on a real SQLite file; helpdesk notifications through the real twilio
client over real HTTP to the local Twilio stand-in."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from lpse_assist.render import is_gsm7, sms_segments
from lpse_assist.settings import reset_settings_cache
from lpse_assist.tickets import (
    TicketStore,
    helpdesk_notifier,
    local_zone,
    notification_text,
    open_ticket,
    reset_ticket_services,
    ticket_store,
)
from lpse_assist.twilio_local import LocalTwilio
from tests.lpse_assist.channels.harness import ACCOUNT_SID, AUTH_TOKEN, SMS_NUMBER, WHATSAPP_NUMBER
from tests.lpse_assist.ticket_race import race_for_references

ROOT = Path(__file__).resolve().parents[2]
USER = "whatsapp:+6281234567890"
WIB = local_zone("Asia/Jakarta")


def user(text: str, intent: str, message_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "event": "user",
        "text": text,
        "message_id": message_id,
        "timestamp": 1_795_000_000.0,
        "input_channel": "twilio",
        "parse_data": {"intent": {"name": intent, "confidence": 0.9}},
        **extra,
    }


CONVERSATION = [
    user("gak bisa login", "login_problem", "SM1", metadata={"twilio": {"medium": "whatsapp"}}),
    {"event": "bot", "text": "Pesan apa yang muncul?"},
    user(
        "/login_javascript_error",
        "login_javascript_error",
        "SM2",
        metadata={"twilio": {"medium": "whatsapp", "choice": 2}},
    ),
    user(
        "masih error, wa saya 0812 3456 7890",
        "deny",
        "SM3",
        metadata={"twilio": {"medium": "whatsapp"}},
    ),
]


@pytest.fixture()
def db_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "tracker.db"
    monkeypatch.setenv("TRACKER_DB", str(path))
    for name in ("TRACKER_DB_DIALECT", "POSTGRES_HOST", "HELPDESK_NOTIFY_NUMBER"):
        monkeypatch.delenv(name, raising=False)
    reset_settings_cache()
    reset_ticket_services()
    yield path
    reset_ticket_services()
    reset_settings_cache()


def use_standin(monkeypatch: pytest.MonkeyPatch, standin: LocalTwilio, helpdesk: str) -> None:
    monkeypatch.setenv("HELPDESK_NOTIFY_NUMBER", helpdesk)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("TWILIO_SMS_NUMBER", SMS_NUMBER)
    monkeypatch.setenv("TWILIO_WHATSAPP_NUMBER", WHATSAPP_NUMBER)
    monkeypatch.setenv("TWILIO_API_BASE_URL", standin.base_url)
    monkeypatch.setenv("TWILIO_SEND_TIMEOUT", "3")
    reset_settings_cache()
    reset_ticket_services()


# ------------------------------------------------------------------------- the store


def test_references_count_per_local_day(tmp_path: Path) -> None:
    store = TicketStore(f"sqlite:///{tmp_path / 't.db'}", WIB)
    evening_utc = datetime(2026, 11, 23, 16, 59, tzinfo=timezone.utc)  # 23:59 WIB
    after_midnight = datetime(2026, 11, 23, 17, 1, tzinfo=timezone.utc)  # 00:01 WIB, 24 Nov

    def make(key: str, now: datetime) -> str:
        ticket, created = store.create(
            key=key,
            topic="t",
            channel="sms",
            sender_masked="+62812****7890",
            last_messages=[],
            now=now,
        )
        assert created
        return ticket.reference

    assert make("a", evening_utc) == "LPSE-20261123-0001"
    assert make("b", evening_utc) == "LPSE-20261123-0002"
    assert make("c", after_midnight) == "LPSE-20261124-0001"


def test_concurrent_writers_get_distinct_consecutive_numbers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    TicketStore(url).ensure_schema()
    race_for_references(url, WIB)  # each writer has its own engine, like another process


def test_close_and_list(tmp_path: Path) -> None:
    store = TicketStore(f"sqlite:///{tmp_path / 't.db'}", WIB)
    first, _ = store.create(key="1", topic="a", channel="sms", sender_masked="x", last_messages=[])
    second, _ = store.create(key="2", topic="b", channel="sms", sender_masked="x", last_messages=[])
    closed = store.close(first.reference.lower(), "ditelepon")
    assert closed is not None and closed.status == "closed" and closed.close_note == "ditelepon"
    assert [t.reference for t in store.list()] == [second.reference]
    assert [t.reference for t in store.list(status=None)] == [second.reference, first.reference]
    assert store.close("LPSE-19990101-0001") is None


def test_a_conversation_finds_only_its_own_tickets(tmp_path: Path) -> None:
    store = TicketStore(f"sqlite:///{tmp_path / 't.db'}", WIB)
    other = "whatsapp:+6289999999999"

    def make(key: str, conversation: str) -> str:
        ticket, _ = store.create(
            key=key,
            topic="t",
            channel="whatsapp",
            sender_masked="x",
            last_messages=[],
            conversation_id=conversation,
        )
        return ticket.reference

    older = make("1", USER)
    store.close(older)  # one open ticket per conversation: the next escalation opens anew
    newer, theirs = make("2", USER), make("3", other)
    found = store.for_conversation(USER)
    assert found is not None and found.reference == newer and found.conversation_id == USER
    mine = store.for_conversation(USER, older.lower())
    assert mine is not None and mine.reference == older
    assert store.for_conversation(USER, theirs) is None  # exists, but is not theirs
    assert store.for_conversation(USER, "LPSE-19990101-0001") is None
    assert store.for_conversation("", theirs) is None
    still_open = store.for_conversation(USER, status="open")
    assert still_open is not None and still_open.reference == newer
    store.close(newer)
    assert store.for_conversation(USER, status="open") is None
    assert USER not in repr(found)  # the whole number is never printed


def test_a_table_from_an_earlier_version_gets_the_new_column(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:  # lpse_tickets as the previous release created it
        db.execute(
            "CREATE TABLE lpse_tickets (id INTEGER PRIMARY KEY, reference VARCHAR(32) NOT NULL"
            " UNIQUE, day VARCHAR(8) NOT NULL, seq INTEGER NOT NULL, escalation_key"
            " VARCHAR(64) NOT NULL UNIQUE, created_at DATETIME NOT NULL, status VARCHAR(16)"
            " NOT NULL, topic VARCHAR(100) NOT NULL, channel VARCHAR(32) NOT NULL,"
            " sender_masked VARCHAR(64) NOT NULL, last_messages TEXT NOT NULL, notify_status"
            " VARCHAR(16) NOT NULL, closed_at DATETIME, close_note TEXT)"
        )
        db.execute(
            "INSERT INTO lpse_tickets VALUES (1, 'LPSE-20261201-0001', '20261201', 1, 'k',"
            " '2026-12-01 01:00:00', 'open', 't', 'sms', 'x', '[]', 'skipped', NULL, NULL)"
        )
    store = TicketStore(f"sqlite:///{path}", WIB)
    old = store.get("LPSE-20261201-0001")
    assert old is not None and old.conversation_id == ""
    ticket, created = store.create(
        key="new",
        topic="t",
        channel="sms",
        sender_masked="x",
        last_messages=[],
        conversation_id=USER,
    )
    assert created and store.for_conversation(USER) == ticket


# ------------------------------------------------------------------------- what it records


async def test_open_ticket_keeps_masked_sender_channel_and_last_messages(db_path: Path) -> None:
    ticket = await open_ticket(USER, CONVERSATION, "login_javascript_error")
    assert ticket.sender_masked == "whatsapp:+62812****7890"
    assert ticket.channel == "whatsapp"
    assert [m["text"] for m in ticket.last_messages] == [
        "gak bisa login",
        "[pilihan 2: login_javascript_error]",
        "masih error, wa saya 0812****90",
    ]
    # The whole number is kept in conversation_id only (whose ticket it is); every other
    # column holds it masked.
    import sqlite3

    with sqlite3.connect(db_path) as db:
        db.row_factory = sqlite3.Row
        row = dict(db.execute("SELECT * FROM lpse_tickets").fetchone())
    assert row.pop("conversation_id") == USER
    assert "7890" not in repr(row).replace("****7890", "")
    again = await open_ticket(USER, CONVERSATION, "login_javascript_error")
    assert again.reference == ticket.reference


def test_sms_notification_is_gsm7_and_short() -> None:
    store = TicketStore("sqlite://", WIB)
    ticket, _ = store.create(
        key="k",
        topic="sikap_integration_failed",
        channel="whatsapp",
        sender_masked="whatsapp:+62812****7890",
        last_messages=[{"text": "“integrasi” gagal 😭 " * 40, "intent": "deny"}],
    )
    text = notification_text(ticket, WIB, sms=True)
    assert is_gsm7(text) and sms_segments(text) <= 2
    assert ticket.reference in text and "whatsapp:+62812****7890" in text
    rich = notification_text(ticket, WIB, sms=False)
    assert "😭" in rich and ticket.reference in rich


# ------------------------------------------------------------------------- notification


async def test_helpdesk_whatsapp_is_notified_through_twilio(
    db_path: Path, standin: LocalTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_standin(monkeypatch, standin, "whatsapp:+6281100000001")
    ticket = await open_ticket(USER, CONVERSATION, "login_javascript_error")
    await helpdesk_notifier().wait()
    sent = [m for m in standin.outbound if m["via"] == "rest"]
    assert len(sent) == 1
    assert sent[0]["to"] == "whatsapp:+6281100000001"
    assert sent[0]["from"] == WHATSAPP_NUMBER
    assert ticket.reference in sent[0]["body"]
    assert "login_javascript_error" in sent[0]["body"]
    assert "+6281234567890" not in sent[0]["body"]
    stored = ticket_store().get(ticket.reference)
    assert stored is not None and stored.notify_status == "sent"


async def test_helpdesk_sms_gets_a_gsm7_summary_from_the_sms_number(
    db_path: Path, standin: LocalTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_standin(monkeypatch, standin, "+6281100000002")
    ticket = await open_ticket(USER, CONVERSATION, None)
    await helpdesk_notifier().wait()
    [sent] = [m for m in standin.outbound if m["via"] == "rest"]
    assert (sent["to"], sent["from"]) == ("+6281100000002", SMS_NUMBER)
    assert is_gsm7(sent["body"]) and ticket.reference in sent["body"]


async def test_twilio_down_leaves_the_ticket_and_marks_it(
    db_path: Path, standin: LocalTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_standin(monkeypatch, standin, "+6281100000003")
    monkeypatch.setenv("TWILIO_SEND_ATTEMPTS", "2")
    reset_settings_cache()
    reset_ticket_services()
    standin.rest_failures = [500, 503]
    ticket = await open_ticket(USER, CONVERSATION, "forgot_password")
    await helpdesk_notifier().wait()
    assert standin.rest_attempts == 2
    assert [m for m in standin.outbound if m["via"] == "rest"] == []
    stored = ticket_store().get(ticket.reference)
    assert stored is not None and stored.notify_status == "failed"


async def test_no_helpdesk_number_means_no_notification(
    db_path: Path, standin: LocalTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_standin(monkeypatch, standin, "")
    ticket = await open_ticket(USER, CONVERSATION, "forgot_password")
    await helpdesk_notifier().wait()
    assert standin.rest_attempts == 0
    assert ticket.notify_status == "skipped"


# ------------------------------------------------------------------------- make tickets


def test_tickets_cli_lists_shows_and_closes(tmp_path: Path) -> None:
    db = tmp_path / "tracker.db"
    store = TicketStore(f"sqlite:///{db}", WIB)
    ticket, _ = store.create(
        key="cli",
        topic="ppk_change_unit",
        channel="sms",
        sender_masked="+62812****7890",
        last_messages=[{"text": "ppk pindah satker", "intent": "ppk_change_unit"}],
    )
    store.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTGRES_")}
    env.update(TRACKER_DB=str(db), TRACKER_DB_DIALECT="sqlite")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "tickets.py"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    listed = cli("list")
    assert listed.returncode == 0 and ticket.reference in listed.stdout
    shown = cli("show", ticket.reference)
    assert "ppk pindah satker" in shown.stdout and "+62812****7890" in shown.stdout
    assert cli("close", ticket.reference, "--note", "sudah dibantu").returncode == 0
    assert ticket.reference not in cli("list").stdout
    assert re.search(rf"{ticket.reference}\s+closed", cli("list", "--all").stdout)
    assert cli("show", "LPSE-19990101-0009").returncode == 1


async def test_development_credentials_never_reach_the_real_twilio(db_path: Path) -> None:
    from lpse_assist.settings import TicketSettings, TwilioSettings
    from lpse_assist.tickets import HelpdeskNotifier
    from lpse_assist.twilio_rest import TwilioRestSender

    calls: list[str] = []

    class Spy(TwilioRestSender):
        async def send(
            self, to: str, from_: str, bodies: Any, status_callback: str | None = None
        ) -> list[str]:
            calls.append(to)
            return ["SM1"]

    dev = TwilioSettings(
        account_sid="ACdev00000000000000000000000000000",
        auth_token="dev-auth-token-not-secret",
        sms_number=SMS_NUMBER,
        whatsapp_number=WHATSAPP_NUMBER,
        webhook_url="",
        api_base_url="",
        send_timeout=1.0,
        send_attempts=1,
    )
    store = ticket_store()
    ticket, _ = store.create(
        key="dev",
        topic="t",
        channel="sms",
        sender_masked="x",
        last_messages=[],
        notify_status="pending",
    )
    notifier = HelpdeskNotifier(
        TicketSettings("+6281100000004", "Asia/Jakarta", 5), dev, store, sender=Spy("", "")
    )
    notifier.notify(ticket)
    await notifier.wait()
    assert calls == []
    assert store.get(ticket.reference).notify_status == "failed"  # type: ignore[union-attr]
