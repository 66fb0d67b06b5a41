"""A ceiling on helpdesk notifications per hour, shared by every replica through the database.

Each notification costs money (a Twilio message) and a flood of them buries the helpdesk
phone. The first ``HELPDESK_NOTIFY_PER_HOUR`` new tickets of a clock hour (UTC) are notified
one by one; the others are recorded as batched, and after the hour one summary lists them
("12 tiket baru lainnya 14:00-15:00 ..."). Staff see every ticket with ``make tickets``.

Table ``lpse_helpdesk_notifications`` (next to ``lpse_tickets``): one row per new ticket, with
``slot`` 1..ceiling when it was notified, NULL when batched, and one row with slot 0 per hour
whose summary went out. ``(hour, slot)`` is unique, so under concurrency no two writers take
the same slot (the loser takes the next, or is batched) and exactly one writer sends an
hour's summary, the same pattern as the ticket numbers.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone, tzinfo
from typing import TypeVar

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    and_,
    func,
    insert,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from lpse_assist.render import MAX_BODY_CHARS, sms_segments, to_gsm7

logger = logging.getLogger(__name__)
T = TypeVar("T")

SUMMARY_SLOT = 0
# A summary waits this long after its hour: a batched ticket committed at 14:59:59.9 is in it.
SUMMARY_GRACE = timedelta(seconds=10)
CLAIM_ATTEMPTS = 20
SUMMARY_MAX_SMS_SEGMENTS = 3

metadata = MetaData()
notifications_table = Table(
    "lpse_helpdesk_notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hour", String(10), nullable=False),  # UTC, YYYYMMDDHH
    # 1..ceiling: notified; NULL: batched into the summary; 0: the hour's summary was sent.
    Column("slot", Integer, nullable=True),
    Column("reference", String(32), nullable=False, default=""),
    Column("created_at", DateTime, nullable=False),  # UTC, naive
    UniqueConstraint("hour", "slot", name="uq_lpse_helpdesk_notifications_hour_slot"),
)

# Short message for helpdesk staff (not a user-facing text, so not in domain.yml).
SUMMARY_TEMPLATE = (
    "LPSE Assist: {count} tiket baru lainnya {start}-{end} (batas {ceiling} pemberitahuan "
    "per jam).\nTiket: {references}\nDaftar lengkap: make tickets"
)


def hour_key(moment: datetime) -> str:
    """The UTC clock hour of ``moment``: ``YYYYMMDDHH``."""
    return moment.astimezone(timezone.utc).strftime("%Y%m%d%H")


def hour_start(key: str) -> datetime:
    """The UTC start of an hour key."""
    return datetime.strptime(key, "%Y%m%d%H").replace(tzinfo=timezone.utc)


def summary_due_at(key: str) -> datetime:
    """When the summary of an hour may go out."""
    return hour_start(key) + timedelta(hours=1) + SUMMARY_GRACE


def summary_text(key: str, references: list[str], ceiling: int, zone: tzinfo, sms: bool) -> str:
    """The hour's summary: how many tickets, the hour, as many references as fit (GSM-7 and
    at most three segments for SMS, one WhatsApp message otherwise)."""
    start = hour_start(key).astimezone(zone)
    end = start + timedelta(hours=1)

    def render(shown: int) -> str:
        listed = ", ".join(references[:shown])
        if shown < len(references):
            listed += f" (+{len(references) - shown} lainnya)"
        text = SUMMARY_TEMPLATE.format(
            count=len(references),
            start=start.strftime("%H:%M"),
            end=end.strftime("%H:%M %Z"),
            ceiling=ceiling,
            references=listed or "-",
        )
        return to_gsm7(text) if sms else text

    def fits(text: str) -> bool:
        if sms:
            return sms_segments(text) <= SUMMARY_MAX_SMS_SEGMENTS
        return len(text) <= MAX_BODY_CHARS

    # The most references that fit (fewer always fit when more do): binary search.
    low, high = 0, len(references)
    while low < high:
        middle = (low + high + 1) // 2
        if fits(render(middle)):
            low = middle
        else:
            high = middle - 1
    return render(low)


class NotifyBudget:
    """The hourly ceiling, counted in the tickets' database (synchronous; call from a
    worker thread)."""

    def __init__(self, engine: Callable[[], Engine], ceiling: int) -> None:
        self._engine = engine
        self.ceiling = max(0, ceiling)
        self._schema_ready = False

    def ensure_schema(self) -> None:
        """Create the table if needed (idempotent, race-tolerant)."""
        if self._schema_ready:
            return
        try:
            metadata.create_all(self._engine(), checkfirst=True)
        except (OperationalError, ProgrammingError, IntegrityError):
            metadata.create_all(self._engine(), checkfirst=True)
        self._schema_ready = True

    @staticmethod
    def _retrying(attempt: Callable[[], T], what: str) -> T:
        last: Exception | None = None
        for n in range(CLAIM_ATTEMPTS):
            try:
                return attempt()
            except (IntegrityError, OperationalError) as error:
                # Someone took this slot (or holds SQLite's write lock): look again.
                last = error
                time.sleep(random.uniform(0.005, 0.05) * (n + 1))
        raise RuntimeError(f"could not {what} after {CLAIM_ATTEMPTS} attempts") from last

    def admit(self, reference: str, now: datetime) -> bool:
        """True: notify this ticket now (a slot of this hour was free); False: batched."""
        self.ensure_schema()
        table = notifications_table
        hour = hour_key(now)
        created = now.astimezone(timezone.utc).replace(tzinfo=None)

        def attempt() -> bool:
            with self._engine().begin() as conn:
                used = conn.execute(
                    select(func.coalesce(func.max(table.c.slot), 0)).where(
                        and_(table.c.hour == hour, table.c.slot > SUMMARY_SLOT)
                    )
                ).scalar_one()
                slot = used + 1 if used < self.ceiling else None
                conn.execute(
                    insert(table).values(
                        hour=hour, slot=slot, reference=reference, created_at=created
                    )
                )
                return slot is not None

        return self._retrying(attempt, "count a notification")

    def due_summaries(self, now: datetime) -> list[str]:
        """Hours with batched tickets whose summary is due and not sent yet, oldest first."""
        self.ensure_schema()
        table = notifications_table
        sent = select(table.c.hour).where(table.c.slot == SUMMARY_SLOT)
        query = (
            select(table.c.hour)
            .where(and_(table.c.slot.is_(None), table.c.hour.not_in(sent)))
            .group_by(table.c.hour)
            .order_by(table.c.hour)
        )
        with self._engine().connect() as conn:
            hours = [str(row[0]) for row in conn.execute(query)]
        return [h for h in hours if summary_due_at(h) <= now]

    def claim_summary(self, hour: str, now: datetime) -> list[str] | None:
        """The references batched in ``hour`` if this writer is the one to send its summary;
        ``None`` when another writer already claimed it."""
        self.ensure_schema()
        table = notifications_table
        created = now.astimezone(timezone.utc).replace(tzinfo=None)

        def attempt() -> list[str] | None:
            try:
                with self._engine().begin() as conn:
                    conn.execute(
                        insert(table).values(
                            hour=hour, slot=SUMMARY_SLOT, reference="", created_at=created
                        )
                    )
                    rows = conn.execute(
                        select(table.c.reference)
                        .where(and_(table.c.hour == hour, table.c.slot.is_(None)))
                        .order_by(table.c.id)
                    )
                    return [str(row[0]) for row in rows]
            except IntegrityError:
                return None  # another writer has it

        return self._retrying(attempt, "claim a summary")

    def notified_in(self, hour: str) -> int:
        """How many tickets of ``hour`` were notified one by one (staff, tests)."""
        self.ensure_schema()
        table = notifications_table
        with self._engine().connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).where(
                        and_(table.c.hour == hour, table.c.slot > SUMMARY_SLOT)
                    )
                ).scalar_one()
            )
