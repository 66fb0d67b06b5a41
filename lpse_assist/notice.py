"""The operator's outage notice: published without retraining or restarting, seen by every
replica at once, gone by itself when it expires.

The notice lives in the tracker store's own SQL database (table ``lpse_notices``: SQLite by
default, PostgreSQL in production), next to the conversations and tickets, so every Rasa
replica and action server reads the same one. ``make notice`` (``scripts/notice.py``)
publishes, shows and clears it; the action server reads it when users greet, report an
outage or a login problem (``actions/service_outage.py``).

* At most one notice is active: publishing clears the previous one. Rows are kept (with the
  time they were cleared) as a record of what users were told.
* It expires at ``expires_at``: the operator's ``UNTIL`` (local time, ``TICKET_TIMEZONE``),
  else ``DEFAULT_DURATION`` (6 hours) after publishing, never more than ``MAX_DURATION``
  (7 days) ahead: a forgotten notice must not keep telling users that SPSE is down.
* The text is data: one line, at most ``MAX_CHARS`` characters, no brackets or braces
  (``lpse_assist.safe_text``), and its SMS form (GSM-7) at most ``MAX_SMS_SEGMENTS`` segments.
* Nothing connects at import time; the engine is created on first use.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any

from sqlalchemy import Column, DateTime, Integer, MetaData, Table, Text, insert, select, update

from lpse_assist.db import SqlStore, local_zone
from lpse_assist.render import sms_segments, to_gsm7
from lpse_assist.safe_text import one_line
from lpse_assist.settings import ticket_settings, tracker_db_settings

logger = logging.getLogger(__name__)

MAX_CHARS = 200
MAX_SMS_SEGMENTS = 2
DEFAULT_DURATION = timedelta(hours=6)
MAX_DURATION = timedelta(days=7)
# What the operator may type as UNTIL (local time in TICKET_TIMEZONE).
UNTIL_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H.%M", "%Y-%m-%d %H:%M:%S")
# A turn must not wait long for the notice: without it the user still gets the answer.
READ_TIMEOUT_SECONDS = 3.0

metadata = MetaData()
notices_table = Table(
    "lpse_notices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("text", Text, nullable=False),
    # UTC, naive (same on SQLite and PostgreSQL), like the tickets.
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False, index=True),
    Column("cleared_at", DateTime, nullable=True),
)


class NoticeError(ValueError):
    """What the operator typed cannot be published; the message says why (Indonesian)."""


@dataclass(frozen=True)
class Notice:
    """One published notice."""

    id: int
    text: str
    created_at: datetime  # aware, UTC
    expires_at: datetime  # aware, UTC

    @classmethod
    def from_row(cls, row: Any) -> Notice:
        """A notice from a row of ``lpse_notices``."""
        return cls(
            id=row["id"],
            text=row["text"],
            created_at=row["created_at"].replace(tzinfo=timezone.utc),
            expires_at=row["expires_at"].replace(tzinfo=timezone.utc),
        )

    def local_expiry(self, zone: tzinfo) -> str:
        """When it expires, in the operator's time zone, to the minute."""
        return self.expires_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def clean_text(raw: str) -> str:
    """The notice as users will see it; ``NoticeError`` if it is empty or too long."""
    text = one_line(raw)
    if not text:
        raise NoticeError("TEXT kosong: tulis isi pengumuman.")
    if len(text) > MAX_CHARS:
        raise NoticeError(f"TEXT terlalu panjang: {len(text)} karakter, paling banyak {MAX_CHARS}.")
    sms = to_gsm7(text)
    if not sms:
        raise NoticeError("TEXT tidak dapat dikirim lewat SMS: tidak ada huruf GSM-7.")
    if sms_segments(sms) > MAX_SMS_SEGMENTS:
        raise NoticeError(f"TEXT terlalu panjang untuk SMS: lebih dari {MAX_SMS_SEGMENTS} segmen.")
    return text


def parse_until(raw: str, zone: tzinfo, now: datetime) -> datetime:
    """The operator's ``UNTIL`` (local time) as an aware UTC time, later than ``now`` and at
    most ``MAX_DURATION`` ahead; ``NoticeError`` otherwise."""
    value = raw.strip()
    for fmt in UNTIL_FORMATS:
        try:
            local = datetime.strptime(value, fmt)
            break
        except ValueError:
            continue
    else:
        raise NoticeError(f"UNTIL {raw!r} tidak dikenali: tulis seperti 2026-12-05 22:00.")
    until = local.replace(tzinfo=zone).astimezone(timezone.utc)
    if until <= now:
        raise NoticeError(f"UNTIL {value} sudah lewat.")
    if until - now > MAX_DURATION:
        raise NoticeError(f"UNTIL {value} terlalu jauh: paling lama {MAX_DURATION.days} hari.")
    return until


class NoticeStore(SqlStore):
    """Notices in the tracker store's SQL database (SQLAlchemy Core, synchronous).

    Async callers run these methods in a worker thread (``active_notice``).
    """

    metadata = metadata

    def publish(
        self, text: str, until: datetime | None = None, now: datetime | None = None
    ) -> Notice:
        """Make ``text`` the active notice until ``until`` (default: ``DEFAULT_DURATION``
        from now); the previous notice is cleared. ``text`` is cleaned (``clean_text``)."""
        self.ensure_schema()
        text = clean_text(text)
        now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
        expires = (until or now + DEFAULT_DURATION).astimezone(timezone.utc)
        if expires <= now:
            raise NoticeError("Waktu berakhir pengumuman sudah lewat.")
        with self.engine.begin() as conn:
            self._clear(conn, now)
            result = conn.execute(
                insert(notices_table).values(
                    text=text,
                    created_at=now.replace(tzinfo=None),
                    expires_at=expires.replace(tzinfo=None),
                )
            )
            key = result.inserted_primary_key
        notice = Notice(int(key[0]) if key else 0, text, now, expires)
        logger.info("Outage notice %s published until %s.", notice.id, notice.expires_at)
        return notice

    def active(self, now: datetime | None = None) -> Notice | None:
        """The notice users see now, or ``None``."""
        self.ensure_schema()
        now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None)
        query = (
            select(notices_table)
            .where(notices_table.c.cleared_at.is_(None), notices_table.c.expires_at > now)
            .order_by(notices_table.c.id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return Notice.from_row(row) if row is not None else None

    def clear(self, now: datetime | None = None) -> int:
        """Take the notice down; the number of notices that were still active."""
        self.ensure_schema()
        now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
        with self.engine.begin() as conn:
            cleared = self._clear(conn, now)
        logger.info("Outage notice cleared (%d active).", cleared)
        return cleared

    @staticmethod
    def _clear(conn: Any, now: datetime) -> int:
        naive = now.replace(tzinfo=None)
        result = conn.execute(
            update(notices_table)
            .where(notices_table.c.cleared_at.is_(None), notices_table.c.expires_at > naive)
            .values(cleared_at=naive)
        )
        return int(result.rowcount or 0)


@lru_cache(maxsize=1)
def notice_store() -> NoticeStore:
    """The process's notice store, on the tracker store's database (settings read once)."""
    return NoticeStore(tracker_db_settings().url, local_zone(ticket_settings().timezone))


def reset_notice_store() -> None:
    """Forget the store (tests, after ``reset_settings_cache``)."""
    if notice_store.cache_info().currsize:
        notice_store().dispose()
    notice_store.cache_clear()


async def active_notice() -> Notice | None:
    """The active notice, read in a worker thread; ``None`` when there is none or the
    database does not answer in time (logged: the user still gets the answer)."""
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(notice_store().active), timeout=READ_TIMEOUT_SECONDS
        )
    except Exception:
        logger.warning("Could not read the outage notice.", exc_info=True)
        return None
