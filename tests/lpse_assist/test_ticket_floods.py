"""Ticket and notification floods: one open ticket per conversation, one notification per
ticket, a ceiling per hour shared by replicas (real SQLite file, real twilio client over real
HTTP to the local Twilio stand-in)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from lpse_assist.notify_budget import NotifyBudget, hour_key, summary_text
from lpse_assist.render import MAX_BODY_CHARS, is_gsm7, sms_segments
from lpse_assist.settings import reset_settings_cache, ticket_settings, twilio_settings
from lpse_assist.tickets import (
    HelpdeskNotifier,
    TicketStore,
    helpdesk_notifier,
    local_zone,
    open_ticket,
    reset_ticket_services,
    ticket_store,
)
from lpse_assist.twilio_local import LocalTwilio
from tests.lpse_assist.test_tickets import use_standin, user
from tests.lpse_assist.ticket_race import race_for_one_conversation

HELPDESK = "whatsapp:+6281100000010"
USER = "whatsapp:+6281234500001"
CEILING = 10
# Half past an hour: every escalation of the flood falls in the same clock hour.
NOW = datetime(2026, 12, 3, 11, 30, tzinfo=timezone.utc)


@pytest.fixture()
def flood_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, standin: LocalTwilio
) -> Iterator[LocalTwilio]:
    monkeypatch.setenv("TRACKER_DB", str(tmp_path / "tracker.db"))
    for name in ("TRACKER_DB_DIALECT", "POSTGRES_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HELPDESK_NOTIFY_PER_HOUR", str(CEILING))
    use_standin(monkeypatch, standin, HELPDESK)
    helpdesk_notifier().clock = lambda: NOW
    yield standin
    reset_ticket_services()
    reset_settings_cache()


def escalation(message_id: str, text: str, intent: str) -> list[dict[str, Any]]:
    return [user(text, intent, message_id, metadata={"twilio": {"medium": "whatsapp"}})]


def helpdesk_messages(standin: LocalTwilio) -> list[dict[str, Any]]:
    return [m for m in standin.outbound if m["via"] == "rest" and m["to"] == HELPDESK]


async def test_ten_escalations_from_one_sender_are_one_ticket_and_one_notification(
    flood_env: LocalTwilio,
) -> None:
    references = []
    for n in range(10):
        ticket = await open_ticket(
            USER, escalation(f"SMrepeat{n}", f"minta nomor cs {n}", "contact_support"), f"t{n}"
        )
        references.append(ticket.reference)
    await helpdesk_notifier().wait()
    assert len(set(references)) == 1  # the user sees the same reference every time
    assert len(ticket_store().list(status=None)) == 1
    stored = ticket_store().for_conversation(USER, status="open")
    assert stored is not None and stored.reference == references[0]
    # The open ticket follows the conversation: the latest topic and messages.
    assert stored.topic == "t9"
    assert [m["text"] for m in stored.last_messages] == ["minta nomor cs 9"]
    sent = helpdesk_messages(flood_env)
    assert len(sent) == 1 and references[0] in sent[0]["body"]
    assert stored.notify_status == "sent"


async def test_a_closed_ticket_makes_the_next_escalation_a_new_notified_ticket(
    flood_env: LocalTwilio,
) -> None:
    first = await open_ticket(USER, escalation("SMa", "belum bisa", "deny"), "login")
    ticket_store().close(first.reference, "dibantu")
    second = await open_ticket(USER, escalation("SMb", "error lagi", "deny"), "login")
    await helpdesk_notifier().wait()
    assert second.reference != first.reference
    bodies = [m["body"] for m in helpdesk_messages(flood_env)]
    # Sent in the background: in either order, each ticket once.
    assert sorted(first.reference in b for b in bodies) == [False, True]
    assert sorted(second.reference in b for b in bodies) == [False, True]


def test_one_open_ticket_when_writers_race_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    TicketStore(url).ensure_schema()
    race_for_one_conversation(url, USER)


async def flood(standin: LocalTwilio, count: int) -> None:
    """``count`` senders escalate at once (within a minute, in one clock hour): everyone gets
    a ticket, the helpdesk CEILING notifications, then one summary after the hour, sent by
    one of two replicas. Settings and the stand-in as ``flood_env`` sets them."""
    helpdesk_notifier().clock = lambda: NOW
    senders = [f"whatsapp:+62813{n:07d}" for n in range(count)]
    tickets = await asyncio.gather(
        *(
            open_ticket(s, escalation(f"SMflood{n}", "minta nomor cs", "contact_support"), "cs")
            for n, s in enumerate(senders)
        )
    )
    notifier = helpdesk_notifier()
    await notifier.wait()
    assert len({t.reference for t in tickets}) == count  # a ticket for everyone
    stored = [
        t for t in ticket_store().list(status=None, limit=10_000) if t.conversation_id in senders
    ]
    assert {t.conversation_id for t in stored} == set(senders)
    assert len(helpdesk_messages(standin)) == CEILING
    statuses = [t.notify_status for t in stored]
    assert statuses.count("sent") == CEILING and statuses.count("batched") == count - CEILING

    # The hour is not over: no summary yet. After it, exactly one, sent by one replica.
    assert await notifier.send_due_summaries(NOW + timedelta(minutes=10)) == 0
    later = NOW + timedelta(hours=1)
    other_store = TicketStore(ticket_store().url, ticket_store().zone)
    try:
        other_replica = HelpdeskNotifier(ticket_settings(), twilio_settings(), other_store)
        sent_counts = await asyncio.gather(
            notifier.send_due_summaries(later), other_replica.send_due_summaries(later)
        )
    finally:
        other_store.dispose()
    assert sorted(sent_counts) == [0, 1]
    messages = helpdesk_messages(standin)
    assert len(messages) == CEILING + 1
    summary = messages[-1]["body"]
    assert summary.startswith(f"LPSE Assist: {count - CEILING} tiket baru lainnya")
    assert len(summary) <= MAX_BODY_CHARS
    statuses = [ticket_store().get(t.reference).notify_status for t in stored]  # type: ignore[union-attr]
    assert statuses.count("summary") == count - CEILING
    assert await notifier.send_due_summaries(later + timedelta(hours=1)) == 0


async def test_a_flood_of_senders_gets_tickets_and_the_helpdesk_a_ceiling_plus_a_summary(
    flood_env: LocalTwilio,
) -> None:
    # SQLite (the embedded default) commits slowly: a small flood here, 500 senders on
    # PostgreSQL in test_postgres_stores.py.
    await flood(flood_env, 3 * CEILING)


def test_the_ceiling_holds_across_replicas(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'budget.db'}"
    stores = [TicketStore(url) for _ in range(4)]
    budgets = [NotifyBudget(lambda s=store: s.engine, CEILING) for store in stores]  # type: ignore[misc]
    budgets[0].ensure_schema()
    admitted: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(len(budgets))

    def replica(budget: NotifyBudget, index: int) -> None:
        start.wait()
        for n in range(25):
            verdict = budget.admit(f"LPSE-{index}-{n}", NOW)
            with lock:
                admitted.append(verdict)

    threads = [threading.Thread(target=replica, args=(b, i)) for i, b in enumerate(budgets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(admitted) == 100 and admitted.count(True) == CEILING
    assert budgets[1].notified_in(hour_key(NOW)) == CEILING
    # The next hour has its own ceiling.
    assert budgets[2].admit("LPSE-next", NOW + timedelta(hours=1))
    for store in stores:
        store.dispose()


def test_summary_fits_one_whatsapp_message_and_three_gsm7_segments() -> None:
    references = [f"LPSE-20261203-{n:04d}" for n in range(1, 400)]
    zone = local_zone("Asia/Jakarta")
    rich = summary_text("2026120311", references, CEILING, zone, sms=False)
    assert len(rich) <= MAX_BODY_CHARS and "18:00-19:00" in rich and "LPSE-20261203-0001" in rich
    sms = summary_text("2026120311", references, CEILING, zone, sms=True)
    assert is_gsm7(sms) and sms_segments(sms) <= 3 and "399 tiket" in sms
    few = summary_text("2026120311", references[:2], CEILING, zone, sms=True)
    assert "LPSE-20261203-0002" in few and "lainnya)" not in few
