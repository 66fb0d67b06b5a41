"""Escalation tickets: what the helpdesk picks up when the assistant could not help.

When ``action_escalate_support`` runs, a ticket is recorded in the tracker store's own SQL
database (table ``lpse_tickets``: SQLite by default, PostgreSQL in production), the user is
given its reference (``LPSE-20261124-0042``) and the helpdesk's WhatsApp or SMS number
(``HELPDESK_NOTIFY_NUMBER``) gets a short summary through Twilio's REST API. Staff list and
close tickets with ``make tickets`` (``scripts/tickets.py``).

* One ticket per escalation: the ticket is keyed by the conversation and the id of the user
  message that led to it (a unique column), so an action that runs again for the same message
  returns the same ticket.
* Numbers are per day (local date, ``TICKET_TIMEZONE``) and safe under concurrency: the pair
  (day, number) is unique, and a writer that loses the race takes the next number.
* Phone numbers are shown masked (lists, notifications, logs); numbers users typed into
  messages are masked too. The whole sender id is kept only in ``conversation_id`` (the
  tracker store in the same database is keyed by it anyway): a user's own tickets are found
  by it, and the helpdesk answers the user through it.
* Nothing connects at import time; the engine is created on first use.
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import json
import logging
import random
import re
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from lpse_assist.background import BackgroundTasks
from lpse_assist.privacy import is_whatsapp, mask_numbers_in_text, mask_phone, medium_of_sender
from lpse_assist.render import sms_segments, to_gsm7
from lpse_assist.settings import (
    TicketSettings,
    TwilioSettings,
    ticket_settings,
    tracker_db_settings,
    twilio_settings,
)
from lpse_assist.twilio_rest import TwilioRestSender

logger = logging.getLogger(__name__)

REFERENCE_PREFIX = "LPSE"
OPEN, CLOSED = "open", "closed"
# Notification states kept on the ticket, so staff see whether the helpdesk phone got it.
NOTIFY_SKIPPED, NOTIFY_PENDING, NOTIFY_SENT, NOTIFY_FAILED = "skipped", "pending", "sent", "failed"
# Writers that lose the race for a number (or hit SQLite's write lock) try again this often.
CREATE_ATTEMPTS = 20

metadata = MetaData()
tickets_table = Table(
    "lpse_tickets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reference", String(32), nullable=False, unique=True),
    Column("day", String(8), nullable=False),
    Column("seq", Integer, nullable=False),
    # sha256 of conversation + user message id: one ticket per escalation.
    Column("escalation_key", String(64), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),  # UTC, naive (same on SQLite and PG)
    Column("status", String(16), nullable=False, default=OPEN),
    Column("topic", String(100), nullable=False, default=""),
    Column("channel", String(32), nullable=False, default=""),
    Column("sender_masked", String(64), nullable=False, default=""),
    # The whole sender id (``whatsapp:+62...``): whose ticket it is. Nullable: tables created
    # before this column have rows without it (ensure_schema adds the column).
    Column("conversation_id", String(128), nullable=True, index=True),
    Column("last_messages", Text, nullable=False, default="[]"),  # JSON list
    Column("notify_status", String(16), nullable=False, default=NOTIFY_SKIPPED),
    Column("closed_at", DateTime, nullable=True),
    Column("close_note", Text, nullable=True),
    UniqueConstraint("day", "seq", name="uq_lpse_tickets_day_seq"),
)

# Short summary for helpdesk staff (not a user-facing text, so not in domain.yml). SMS
# helpdesk numbers get the GSM-7 version, cut to two segments.
NOTIFY_TEMPLATE = (
    "LPSE Assist: tiket baru {reference}\n"
    "Topik: {topic}\n"
    "Pengguna: {sender} ({channel})\n"
    "Waktu: {time}\n"
    "Pesan terakhir: {last}"
)
NOTIFY_MAX_SMS_SEGMENTS = 2
# What Twilio's account SIDs look like (the development default "ACdev000..." does not).
REAL_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
NOTIFY_MAX_LAST_CHARS = 300


def local_zone(name: str) -> tzinfo:
    """The ticket time zone; WIB (UTC+7) when the name is unknown or tzdata is missing."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("Unknown time zone %r; using WIB (UTC+7).", name)
        return timezone(timedelta(hours=7), "WIB")


@dataclass(frozen=True)
class Ticket:
    """One escalation ticket as staff see it."""

    reference: str
    created_at: datetime  # aware, UTC
    status: str
    topic: str
    channel: str
    sender_masked: str
    last_messages: list[dict[str, Any]] = field(default_factory=list)
    notify_status: str = NOTIFY_SKIPPED
    closed_at: datetime | None = None
    close_note: str | None = None
    # The whole sender id; never printed (repr) or logged.
    conversation_id: str = field(default="", repr=False)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Ticket:
        """A ticket from a row of ``lpse_tickets``."""
        try:
            messages = json.loads(row["last_messages"] or "[]")
        except ValueError:
            messages = []
        closed = row["closed_at"]
        return cls(
            reference=row["reference"],
            created_at=row["created_at"].replace(tzinfo=timezone.utc),
            status=row["status"],
            topic=row["topic"],
            channel=row["channel"],
            sender_masked=row["sender_masked"],
            last_messages=messages if isinstance(messages, list) else [],
            notify_status=row["notify_status"],
            closed_at=closed.replace(tzinfo=timezone.utc) if closed else None,
            close_note=row["close_note"],
            conversation_id=row.get("conversation_id") or "",
        )

    def local_time(self, zone: tzinfo) -> str:
        """Creation time in the helpdesk's time zone, to the minute."""
        return self.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


# --------------------------------------------------------------------------- what goes in


def escalation_key(sender_id: str, events: Sequence[Mapping[str, Any]]) -> str:
    """Identity of one escalation: the conversation and the user message that triggered it."""
    latest = next((e for e in reversed(events) if e.get("event") == "user"), None)
    marker = ""
    if latest is not None:
        marker = str(latest.get("message_id") or latest.get("timestamp") or "")
    if not marker:
        marker = uuid.uuid4().hex  # nothing identifies the message: never merge two tickets
    return hashlib.sha256(f"{sender_id}\x1f{marker}".encode()).hexdigest()


def last_user_messages(events: Sequence[Mapping[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The user's last ``limit`` messages: masked text (or the option chosen) and intent."""
    picked: list[dict[str, Any]] = []
    for event in reversed(events):
        if event.get("event") != "user":
            continue
        text = str(event.get("text") or "")
        intent = str(((event.get("parse_data") or {}).get("intent") or {}).get("name") or "")
        if text.startswith("/"):
            # A button payload (a tapped option or a typed number): show what was chosen.
            choice = ((event.get("metadata") or {}).get("twilio") or {}).get("choice")
            text = f"[pilihan {choice}: {intent}]" if choice else f"[{intent}]"
        else:
            text = mask_numbers_in_text(text)
        stamp = event.get("timestamp")
        when = (
            datetime.fromtimestamp(float(stamp), tz=timezone.utc).isoformat(timespec="seconds")
            if isinstance(stamp, (int, float))
            else ""
        )
        picked.append({"text": text[:500], "intent": intent, "time": when})
        if len(picked) >= limit:
            break
    picked.reverse()
    return picked


def channel_of(sender_id: str, events: Sequence[Mapping[str, Any]]) -> str:
    """``whatsapp``, ``sms`` or the input channel (``rest``, ...) of the conversation."""
    latest = next((e for e in reversed(events) if e.get("event") == "user"), None) or {}
    medium = ((latest.get("metadata") or {}).get("twilio") or {}).get("medium")
    if medium in ("whatsapp", "sms"):
        return str(medium)
    return medium_of_sender(sender_id, latest.get("input_channel"))


# --------------------------------------------------------------------------- the store


class TicketStore:
    """Tickets in the tracker store's SQL database (SQLAlchemy Core, synchronous).

    Async callers run these methods in a worker thread (``asyncio.to_thread``).
    """

    def __init__(self, url: str, zone: tzinfo | None = None) -> None:
        self.url = url
        self.zone = zone or local_zone("Asia/Jakarta")
        self._engine: Engine | None = None
        self._schema_ready = False

    @property
    def engine(self) -> Engine:
        """The engine, created on first use (never at import)."""
        if self._engine is None:
            kwargs: dict[str, Any] = {"future": True, "pool_pre_ping": True}
            if self.url.startswith("sqlite"):
                # Rasa writes to the same file: wait for its write lock instead of failing.
                kwargs["connect_args"] = {"timeout": 30}
                path = self.url.split("///", 1)[-1]
                if path and path != ":memory:":
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._engine = create_engine(self.url, **kwargs)
        return self._engine

    def ensure_schema(self) -> None:
        """Create ``lpse_tickets`` if it does not exist (idempotent, race-tolerant)."""
        if self._schema_ready:
            return
        try:
            metadata.create_all(self.engine, checkfirst=True)
        except (OperationalError, ProgrammingError, IntegrityError):
            # Another process created it between the check and the CREATE: fine if it's there.
            metadata.create_all(self.engine, checkfirst=True)
        self._add_missing_columns()
        self._schema_ready = True

    def _add_missing_columns(self) -> None:
        """Bring a table made by an earlier version up to date (columns are only added)."""
        present = {c["name"] for c in inspect(self.engine).get_columns(tickets_table.name)}
        for column in tickets_table.columns:
            if column.name in present:
                continue
            kind = column.type.compile(dialect=self.engine.dialect)
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        text(f"ALTER TABLE {tickets_table.name} ADD COLUMN {column.name} {kind}")
                    )
            except (OperationalError, ProgrammingError):
                # Another replica added it first.
                logger.info("Column %s of %s already added.", column.name, tickets_table.name)

    def create(
        self,
        *,
        key: str,
        topic: str,
        channel: str,
        sender_masked: str,
        last_messages: builtins.list[dict[str, Any]],
        notify_status: str = NOTIFY_SKIPPED,
        conversation_id: str = "",
        now: datetime | None = None,
    ) -> tuple[Ticket, bool]:
        """Record a ticket; ``(ticket, True)`` when new, ``(the existing one, False)`` when
        this escalation ``key`` already has one."""
        self.ensure_schema()
        now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
        day = now.astimezone(self.zone).strftime("%Y%m%d")
        table = tickets_table
        last_error: Exception | None = None
        for attempt in range(CREATE_ATTEMPTS):
            try:
                with self.engine.begin() as conn:
                    existing = (
                        conn.execute(select(table).where(table.c.escalation_key == key))
                        .mappings()
                        .first()
                    )
                    if existing is not None:
                        return Ticket.from_row(existing), False
                    seq = (
                        conn.execute(
                            select(func.coalesce(func.max(table.c.seq), 0)).where(
                                table.c.day == day
                            )
                        ).scalar_one()
                        + 1
                    )
                    reference = f"{REFERENCE_PREFIX}-{day}-{seq:04d}"
                    conn.execute(
                        insert(table).values(
                            reference=reference,
                            day=day,
                            seq=seq,
                            escalation_key=key,
                            created_at=now.replace(tzinfo=None),
                            status=OPEN,
                            topic=topic,
                            channel=channel,
                            sender_masked=sender_masked,
                            conversation_id=conversation_id or None,
                            last_messages=json.dumps(last_messages, ensure_ascii=False),
                            notify_status=notify_status,
                        )
                    )
                ticket = self.get(reference) or Ticket(
                    reference, now, OPEN, topic, channel, sender_masked, last_messages
                )
                return ticket, True
            except (IntegrityError, OperationalError) as error:
                # Someone took this number (or holds SQLite's write lock): try again.
                last_error = error
                time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
        raise RuntimeError(f"could not record a ticket after {CREATE_ATTEMPTS} attempts") from (
            last_error
        )

    def get(self, reference: str) -> Ticket | None:
        """The ticket with this reference (case-insensitive), or ``None``."""
        self.ensure_schema()
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(tickets_table).where(
                        tickets_table.c.reference == reference.strip().upper()
                    )
                )
                .mappings()
                .first()
            )
        return Ticket.from_row(row) if row is not None else None

    def for_conversation(
        self, conversation_id: str, reference: str | None = None, status: str | None = None
    ) -> Ticket | None:
        """The conversation's own ticket: the one with ``reference`` if it is theirs, else
        their newest (with ``status``, when given). Another conversation's ticket is ``None``.
        """
        if not conversation_id:
            return None
        self.ensure_schema()
        query = select(tickets_table).where(tickets_table.c.conversation_id == conversation_id)
        if reference:
            query = query.where(tickets_table.c.reference == reference.strip().upper())
        if status:
            query = query.where(tickets_table.c.status == status)
        with self.engine.connect() as conn:
            row = conn.execute(query.order_by(tickets_table.c.id.desc())).mappings().first()
        return Ticket.from_row(row) if row is not None else None

    def list(self, status: str | None = OPEN, limit: int = 50) -> builtins.list[Ticket]:
        """Newest tickets first; ``status=None`` lists all."""
        self.ensure_schema()
        query = select(tickets_table).order_by(tickets_table.c.id.desc()).limit(limit)
        if status:
            query = query.where(tickets_table.c.status == status)
        with self.engine.connect() as conn:
            return [Ticket.from_row(row) for row in conn.execute(query).mappings()]

    def close(self, reference: str, note: str = "") -> Ticket | None:
        """Mark a ticket closed (with an optional note); ``None`` if there is no such ticket."""
        self.ensure_schema()
        with self.engine.begin() as conn:
            conn.execute(
                update(tickets_table)
                .where(tickets_table.c.reference == reference.strip().upper())
                .values(
                    status=CLOSED,
                    closed_at=datetime.now(timezone.utc).replace(tzinfo=None),
                    close_note=note or None,
                )
            )
        return self.get(reference)

    def set_notify_status(self, reference: str, status: str) -> None:
        """Remember whether the helpdesk phone was notified."""
        self.ensure_schema()
        with self.engine.begin() as conn:
            conn.execute(
                update(tickets_table)
                .where(tickets_table.c.reference == reference)
                .values(notify_status=status)
            )

    def dispose(self) -> None:
        """Close pooled connections."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


# --------------------------------------------------------------------------- notification


def notification_text(ticket: Ticket, zone: tzinfo, sms: bool) -> str:
    """The helpdesk's summary of a new ticket; GSM-7 and at most two segments for SMS."""
    last = " | ".join(m.get("text", "") for m in ticket.last_messages if m.get("text"))
    last = last[-NOTIFY_MAX_LAST_CHARS:] or "-"

    def render(last_part: str) -> str:
        return NOTIFY_TEMPLATE.format(
            reference=ticket.reference,
            topic=ticket.topic or "umum",
            sender=ticket.sender_masked,
            channel=ticket.channel,
            time=ticket.local_time(zone),
            last=last_part,
        )

    if not sms:
        return render(last)
    text = to_gsm7(render(last))
    while sms_segments(text) > NOTIFY_MAX_SMS_SEGMENTS and len(last) > 10:
        last = last[: max(10, len(last) - 20)].rstrip() + "..."
        text = to_gsm7(render(last))
    return text


class HelpdeskNotifier:
    """Tells the helpdesk phone about new tickets, in the background (never blocks a reply)."""

    def __init__(
        self,
        tickets: TicketSettings,
        twilio: TwilioSettings,
        store: TicketStore,
        sender: TwilioRestSender | None = None,
    ) -> None:
        self.number = tickets.notify_number
        self.twilio = twilio
        self.store = store
        self.sender = sender or TwilioRestSender(
            twilio.account_sid,
            twilio.auth_token,
            twilio.api_base_url,
            twilio.send_timeout,
            twilio.send_attempts,
        )
        self._sends = BackgroundTasks()

    @property
    def enabled(self) -> bool:
        """True when a helpdesk number is set."""
        return bool(self.number)

    def from_number(self) -> str:
        """The bot's own number on the helpdesk number's medium."""
        if is_whatsapp(self.number):
            return self.twilio.whatsapp_number
        return self.twilio.sms_number

    def notify(self, ticket: Ticket) -> None:
        """Start sending the summary of ``ticket``; returns at once."""
        if not self.enabled:
            return
        self._sends.start(self._send(ticket))

    async def _send(self, ticket: Ticket) -> None:
        status = NOTIFY_FAILED
        masked = mask_phone(self.number)
        try:
            from_ = self.from_number()
            if not (self.twilio.account_sid and self.twilio.auth_token and from_):
                logger.warning(
                    "HELPDESK_NOTIFY_NUMBER is set but Twilio credentials or the sender "
                    "number are missing; ticket %s not notified.",
                    ticket.reference,
                )
            elif not self.twilio.api_base_url and not REAL_ACCOUNT_SID.match(
                self.twilio.account_sid
            ):
                # The local development defaults (ACdev...) must never reach api.twilio.com.
                logger.warning(
                    "TWILIO_ACCOUNT_SID is not a real Twilio account and no "
                    "TWILIO_API_BASE_URL is set; ticket %s not notified.",
                    ticket.reference,
                )
            else:
                sms = not is_whatsapp(self.number)
                body = notification_text(ticket, self.store.zone, sms=sms)
                sids = await self.sender.send(self.number, from_, [body])
                if sids:
                    status = NOTIFY_SENT
                    logger.info("Helpdesk %s notified of ticket %s.", masked, ticket.reference)
                else:
                    logger.error(
                        "Could not notify helpdesk %s of ticket %s.", masked, ticket.reference
                    )
        except Exception:
            logger.exception(
                "Notifying helpdesk %s of ticket %s crashed.", masked, ticket.reference
            )
        try:
            await asyncio.to_thread(self.store.set_notify_status, ticket.reference, status)
        except Exception:
            logger.warning(
                "Could not save the notification status of %s.", ticket.reference, exc_info=True
            )

    async def wait(self) -> None:
        """Wait for notifications under way (tests, shutdown)."""
        await self._sends.wait()


# --------------------------------------------------------------------------- the service


@lru_cache(maxsize=1)
def ticket_store() -> TicketStore:
    """The process's ticket store, on the tracker store's database (settings read once)."""
    return TicketStore(tracker_db_settings().url, local_zone(ticket_settings().timezone))


@lru_cache(maxsize=1)
def helpdesk_notifier() -> HelpdeskNotifier:
    """The process's helpdesk notifier."""
    return HelpdeskNotifier(ticket_settings(), twilio_settings(), ticket_store())


def reset_ticket_services() -> None:
    """Forget the store and notifier (tests, after ``reset_settings_cache``)."""
    if ticket_store.cache_info().currsize:
        ticket_store().dispose()
    ticket_store.cache_clear()
    helpdesk_notifier.cache_clear()


async def open_ticket(
    sender_id: str, events: Iterable[Mapping[str, Any]], topic: str | None
) -> Ticket:
    """Record the ticket of an escalation and start notifying the helpdesk.

    The database work runs in a worker thread, the notification in the background.
    """
    events = list(events)
    store = ticket_store()
    notifier = helpdesk_notifier()
    key = escalation_key(sender_id, events)
    ticket, created = await asyncio.to_thread(
        store.create,
        key=key,
        topic=topic or "umum",
        channel=channel_of(sender_id, events),
        sender_masked=mask_phone(sender_id),
        conversation_id=sender_id,
        last_messages=last_user_messages(events, ticket_settings().last_messages),
        notify_status=NOTIFY_PENDING if notifier.enabled else NOTIFY_SKIPPED,
    )
    logger.info(
        "Ticket %s for %s (topic %s).", ticket.reference, mask_phone(sender_id), topic or "umum"
    )
    # The same escalation seen again (an action retried) was already notified.
    if created and notifier.enabled:
        notifier.notify(ticket)
    return ticket
