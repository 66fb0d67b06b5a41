"""Human handover: a helpdesk agent takes over a conversation on the user's own number.

One small interface, :class:`Handover`, between the bot and whatever inbox the helpdesk uses:

* ``ticket_opened(ticket)``: an escalation made a ticket; True when a person will answer in
  this conversation (the escalation message then says so instead of listing phone numbers).
* ``human_mode(conversation_id)``: who holds the conversation, or ``None`` (the bot answers).
* ``user_message_in(...)``: the Twilio channel offers each user message; True means it was
  kept for the agent and the bot stays silent (empty TwiML).
* ``agent_message_out(...)``: an agent's reply, sent through Twilio's REST API.
* ``take`` / ``release``: an agent takes the conversation, or ends human mode (closing the
  ticket or handing it back), and the user is told.

:class:`SqlHandover` implements it for the built-in console (``lpse_assist.console``) on the
tracker store's database, so every replica sees the same human mode: table ``lpse_handover``
(one row per conversation in human mode) and ``lpse_handover_messages`` (what the user wrote
while in human mode, and every agent message with its delivery status). An external inbox
(Chatwoot) would implement the same five methods over its API.

The texts the user receives from the console (closing, handing back) are sent outside a Rasa
turn, so they are read from ``domain.yml`` here: responses ``utter_handover_closed`` and
``utter_handover_returned`` (with ``channel: sms`` variations), edited like any other text.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import yaml
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from lpse_assist import office_hours
from lpse_assist.console.tables import active_agents_exist, create_tables
from lpse_assist.intents import EMPTY_MESSAGE_INTENT, MEDIA_INTENT, UNSUPPORTED_MEDIA_INTENT
from lpse_assist.privacy import mask_phone
from lpse_assist.settings import (
    PROJECT_ROOT,
    HelpdeskHoursSettings,
    TwilioSettings,
    twilio_settings,
)
from lpse_assist.tickets import OPEN as OPEN_STATUS
from lpse_assist.tickets import (
    REAL_ACCOUNT_SID,
    Ticket,
    TicketStore,
    ticket_store,
    tickets_table,
)
from lpse_assist.transcript import last_user_time
from lpse_assist.twilio_rest import TwilioRestSender

logger = logging.getLogger(__name__)

# WhatsApp accepts free-form messages only this long after the user's last message.
WHATSAPP_WINDOW_SECONDS = 24 * 3600
MAX_REPLY_CHARS = 1600  # Twilio's limit for one message body
IN, OUT = "in", "out"
# Messages the system sent on the helpdesk's behalf (the queue notice): shown as the bot's.
NOTICE = "notice"
RECEIVED, SENDING, SENT, FAILED = "received", "sending", "sent", "failed"
# Twilio's delivery states, in the order they can follow each other.
_DELIVERY_RANK = {
    SENDING: 0,
    "queued": 1,
    SENT: 2,
    "delivered": 3,
    "read": 4,
    "undelivered": 5,
    FAILED: 5,
}
CLOSED_RESPONSE = "utter_handover_closed"
RETURNED_RESPONSE = "utter_handover_returned"
QUEUE_RESPONSE = "utter_handover_queue"
# What staff see for inputs without words (the channel turns them into intents).
_NO_WORDS = {
    f"/{MEDIA_INTENT}": "[gambar / tangkapan layar]",
    f"/{UNSUPPORTED_MEDIA_INTENT}": "[lampiran yang tidak didukung: lokasi, suara, video, ...]",
    f"/{EMPTY_MESSAGE_INTENT}": "[pesan kosong]",
}

metadata = MetaData()
handover_table = Table(
    "lpse_handover",
    metadata,
    # The whole sender id (whatsapp:+62... or +62...): one row = human mode.
    Column("conversation_id", String(128), primary_key=True),
    Column("reference", String(32), nullable=False),
    Column("agent", String(64), nullable=False),
    Column("since", DateTime, nullable=False),  # UTC, naive
)
messages_table = Table(
    "lpse_handover_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reference", String(32), nullable=False, index=True),
    Column("conversation_id", String(128), nullable=False, index=True),
    Column("direction", String(8), nullable=False),  # in | out
    Column("agent", String(64), nullable=False, default=""),
    Column("body", Text, nullable=False),
    Column("medium", String(16), nullable=False),
    # Inbound: Twilio's MessageSid (a retried webhook is stored once). Outbound: NULL.
    Column("message_sid", String(64), nullable=True, unique=True),
    Column("twilio_sid", String(64), nullable=True),
    Column("status", String(16), nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("created_at", DateTime, nullable=False),  # UTC, naive
)


@dataclass(frozen=True)
class HumanMode:
    """A conversation an agent holds."""

    conversation_id: str
    reference: str
    agent: str
    since: datetime  # aware, UTC


@dataclass(frozen=True)
class HandoverMessage:
    """A message of the human part of a conversation."""

    id: int
    reference: str
    direction: str
    agent: str
    body: str
    medium: str
    status: str
    note: str
    created_at: datetime  # aware, UTC
    twilio_sid: str = ""

    @classmethod
    def from_row(cls, row: Any) -> HandoverMessage:
        return cls(
            id=row["id"],
            reference=row["reference"],
            direction=row["direction"],
            agent=row["agent"] or "",
            body=row["body"],
            medium=row["medium"],
            status=row["status"],
            note=row["note"] or "",
            created_at=row["created_at"].replace(tzinfo=timezone.utc),
            twilio_sid=row["twilio_sid"] or "",
        )


@dataclass(frozen=True)
class Route:
    """How a reply reaches the user: to, from, medium, and why (for the console)."""

    to: str
    from_: str
    medium: str
    note: str = ""


class Handover(Protocol):
    """What the bot and the channel need from a helpdesk inbox."""

    async def ticket_opened(self, ticket: Ticket) -> bool: ...

    async def human_mode(self, conversation_id: str) -> HumanMode | None: ...

    async def user_message_in(
        self, conversation_id: str, message_sid: str, text: str, medium: str
    ) -> bool: ...

    async def agent_message_out(self, ticket: Ticket, agent: str, body: str) -> HandoverMessage: ...

    async def release(self, ticket: Ticket, agent: str, note: str, closed: bool) -> None: ...


# --------------------------------------------------------------------------- texts


@lru_cache(maxsize=1)
def _domain_responses() -> dict[str, Any]:
    path = Path(PROJECT_ROOT / "domain.yml")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    responses = data.get("responses") or {}
    return responses if isinstance(responses, dict) else {}


def response_text(name: str, medium: str, **values: str) -> str:
    """The text of a domain response for ``medium`` (its ``channel:`` variation if any)."""
    variations = [v for v in _domain_responses().get(name) or [] if isinstance(v, dict)]
    chosen = next((v for v in variations if v.get("channel") == medium), None)
    chosen = chosen or next((v for v in variations if not v.get("channel")), None)
    if chosen is None:
        raise KeyError(f"domain.yml has no response {name}")
    template = str(chosen.get("text") or "")
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


# --------------------------------------------------------------------------- the SQL handover


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


class SqlHandover:
    """The built-in console's handover, in the tracker store's SQL database."""

    def __init__(
        self,
        engine: Engine,
        twilio: TwilioSettings,
        sender: TwilioRestSender | None = None,
    ) -> None:
        self.engine = engine
        self.twilio = twilio
        self.sender = sender or TwilioRestSender.from_settings(twilio)
        self._schema_ready = False

    def ensure_schema(self) -> None:
        """Create the handover tables if they are missing (idempotent, race-tolerant)."""
        if not self._schema_ready:
            create_tables(metadata, self.engine)
            self._schema_ready = True

    # ----------------------------------------------------------------- the interface

    async def ticket_opened(self, ticket: Ticket) -> bool:
        """True when an agent account exists: someone will answer in the console."""
        return await asyncio.to_thread(active_agents_exist, self.engine)

    async def human_mode(self, conversation_id: str) -> HumanMode | None:
        """Who holds the conversation, or ``None``."""
        return await asyncio.to_thread(self.mode_of, conversation_id)

    async def user_message_in(
        self, conversation_id: str, message_sid: str, text: str, medium: str
    ) -> bool:
        """Keep the message for the agent when the conversation is in human mode."""
        return await asyncio.to_thread(
            self.store_inbound, conversation_id, message_sid, text, medium
        )

    async def agent_message_out(self, ticket: Ticket, agent: str, body: str) -> HandoverMessage:
        """Take the conversation (if needed), record the reply, send it; returns its record."""
        await asyncio.to_thread(self.take, ticket, agent)
        return await self.send(ticket, agent, body)

    async def release(self, ticket: Ticket, agent: str, note: str, closed: bool) -> None:
        """End human mode (the bot answers again) and tell the user, with the note."""
        await asyncio.to_thread(self.end_human_mode, ticket.conversation_id)
        medium = self.route(ticket.conversation_id).medium
        if closed:
            text = response_text(CLOSED_RESPONSE, medium, note=note.strip() or "-")
        else:
            text = response_text(RETURNED_RESPONSE, medium)
        await self.send(ticket, agent, text)

    # ----------------------------------------------------------------- synchronous parts

    def mode_of(self, conversation_id: str) -> HumanMode | None:
        """The human-mode row of a conversation, or ``None``."""
        self.ensure_schema()
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(handover_table).where(
                        handover_table.c.conversation_id == conversation_id
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        return HumanMode(
            row["conversation_id"],
            row["reference"],
            row["agent"],
            row["since"].replace(tzinfo=timezone.utc),
        )

    def holders(self) -> dict[str, str]:
        """Agent holding each ticket in human mode, by reference."""
        self.ensure_schema()
        with self.engine.connect() as conn:
            rows = conn.execute(select(handover_table.c.reference, handover_table.c.agent)).all()
        return {reference: agent for reference, agent in rows}

    def take(self, ticket: Ticket, agent: str) -> None:
        """Put the ticket's conversation in human mode, held by ``agent``."""
        if not ticket.conversation_id:
            raise ValueError(f"ticket {ticket.reference} has no conversation to take over")
        self.ensure_schema()
        values = {"reference": ticket.reference, "agent": agent, "since": _naive(_now())}
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(handover_table).values(conversation_id=ticket.conversation_id, **values)
                )
        except IntegrityError:
            # Already in human mode: the agent who acts last holds it (since stays).
            with self.engine.begin() as conn:
                conn.execute(
                    update(handover_table)
                    .where(handover_table.c.conversation_id == ticket.conversation_id)
                    .values(reference=ticket.reference, agent=agent)
                )

    def end_human_mode(self, conversation_id: str) -> None:
        """The bot answers this conversation again."""
        self.ensure_schema()
        with self.engine.begin() as conn:
            conn.execute(
                delete(handover_table).where(handover_table.c.conversation_id == conversation_id)
            )

    def store_inbound(self, conversation_id: str, message_sid: str, text: str, medium: str) -> bool:
        """Keep a user message for the agent if the conversation is in human mode."""
        self.ensure_schema()
        body = _NO_WORDS.get(text, text)
        try:
            with self.engine.begin() as conn:
                reference = conn.execute(
                    select(handover_table.c.reference).where(
                        handover_table.c.conversation_id == conversation_id
                    )
                ).scalar()
                if reference is None:
                    return False
                status = conn.execute(
                    select(tickets_table.c.status).where(tickets_table.c.reference == reference)
                ).scalar()
                if status != OPEN_STATUS:
                    # Closed elsewhere (make tickets close): the bot answers again.
                    conn.execute(
                        delete(handover_table).where(
                            handover_table.c.conversation_id == conversation_id
                        )
                    )
                    return False
                conn.execute(
                    insert(messages_table).values(
                        reference=reference,
                        conversation_id=conversation_id,
                        direction=IN,
                        agent="",
                        body=body,
                        medium=medium,
                        message_sid=message_sid or None,
                        status=RECEIVED,
                        note="",
                        created_at=_naive(_now()),
                    )
                )
        except IntegrityError:
            # Twilio retried a message that is already stored: stay silent again.
            return True
        logger.info(
            "Message from %s kept for the helpdesk (ticket %s).",
            mask_phone(conversation_id),
            reference,
        )
        return True

    def messages(self, reference: str, after_id: int = 0) -> list[HandoverMessage]:
        """The human part of a ticket's conversation, oldest first."""
        return self.messages_of([reference], after_id)

    def messages_of(self, references: list[str], after_id: int = 0) -> list[HandoverMessage]:
        """The human part of these tickets' conversations, oldest first (one query)."""
        if not references:
            return []
        self.ensure_schema()
        query = (
            select(messages_table)
            .where(messages_table.c.reference.in_(references), messages_table.c.id > after_id)
            .order_by(messages_table.c.id)
        )
        with self.engine.connect() as conn:
            return [HandoverMessage.from_row(r) for r in conn.execute(query).mappings()]

    def last_inbound_time(self, conversation_id: str) -> float | None:
        """When the user last wrote while in human mode (epoch seconds)."""
        self.ensure_schema()
        query = select(func.max(messages_table.c.created_at)).where(
            messages_table.c.conversation_id == conversation_id,
            messages_table.c.direction == IN,
        )
        with self.engine.connect() as conn:
            value = conn.execute(query).scalar()
        return value.replace(tzinfo=timezone.utc).timestamp() if value is not None else None

    def route(self, conversation_id: str, now: float | None = None) -> Route:
        """Where a reply goes: WhatsApp within 24 h of the user's last message, else SMS."""
        if not conversation_id.lower().startswith("whatsapp:"):
            return Route(conversation_id, self.twilio.sms_number, "sms")
        now = time.time() if now is None else now
        times = [
            t
            for t in (
                last_user_time(self.engine, conversation_id),
                self.last_inbound_time(conversation_id),
            )
            if t is not None
        ]
        if times and now - max(times) <= WHATSAPP_WINDOW_SECONDS:
            return Route(conversation_id, self.twilio.whatsapp_number, "whatsapp")
        return Route(
            conversation_id.split(":", 1)[1],
            self.twilio.sms_number,
            "sms",
            "Di luar jendela 24 jam WhatsApp: dikirim lewat SMS dari nomor SMS.",
        )

    def _record_out(
        self, ticket: Ticket, agent: str, body: str, route: Route, direction: str = OUT
    ) -> int:
        self.ensure_schema()
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(messages_table).values(
                    reference=ticket.reference,
                    conversation_id=ticket.conversation_id,
                    direction=direction,
                    agent=agent,
                    body=body,
                    medium=route.medium,
                    message_sid=None,
                    status=SENDING,
                    note=route.note,
                    created_at=_naive(_now()),
                )
            )
            return int(result.inserted_primary_key[0])

    def _set_status(self, message_id: int, status: str, sid: str = "", note: str = "") -> None:
        values: dict[str, Any] = {"status": status}
        if sid:
            values["twilio_sid"] = sid
        if note:
            values["note"] = note
        with self.engine.begin() as conn:
            conn.execute(
                update(messages_table).where(messages_table.c.id == message_id).values(**values)
            )

    def message(self, message_id: int) -> HandoverMessage:
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(messages_table).where(messages_table.c.id == message_id))
                .mappings()
                .one()
            )
        return HandoverMessage.from_row(row)

    # ----------------------------------------------------------------- sending

    def _cannot_send(self, route: Route) -> str:
        """Why nothing can be sent with these settings, or ``""``."""
        if not (self.twilio.account_sid and self.twilio.auth_token and route.from_):
            return "Pengaturan Twilio (akun, token, nomor pengirim) belum lengkap."
        if not self.twilio.api_base_url and not REAL_ACCOUNT_SID.match(self.twilio.account_sid):
            # The development defaults (ACdev...) must never reach api.twilio.com.
            return "TWILIO_ACCOUNT_SID bukan akun Twilio sungguhan: pesan tidak dikirim."
        return ""

    async def send(
        self, ticket: Ticket, agent: str, body: str, direction: str = OUT
    ) -> HandoverMessage:
        """Record and send one message to the ticket's user; returns it with its status."""
        body = body.strip()[:MAX_REPLY_CHARS]
        route = await asyncio.to_thread(self.route, ticket.conversation_id)
        message_id = await asyncio.to_thread(
            self._record_out, ticket, agent, body, route, direction
        )
        problem = self._cannot_send(route)
        if problem:
            logger.warning("Reply on ticket %s not sent: %s", ticket.reference, problem)
            note = f"{route.note} {problem}".strip()
            await asyncio.to_thread(self._set_status, message_id, FAILED, "", note)
            return await asyncio.to_thread(self.message, message_id)
        try:
            sids = await self.sender.send(
                route.to, route.from_, [body], self.status_callback(message_id)
            )
        except Exception:
            logger.exception("Sending on ticket %s crashed.", ticket.reference)
            sids = []
        if sids:
            await asyncio.to_thread(self._set_status, message_id, SENT, sids[0])
            logger.info(
                "Reply on ticket %s sent to %s by %s.",
                ticket.reference,
                mask_phone(route.to),
                route.medium,
            )
        else:
            await asyncio.to_thread(self._set_status, message_id, FAILED)
            logger.error(
                "Reply on ticket %s to %s failed after retries.",
                ticket.reference,
                mask_phone(route.to),
            )
        return await asyncio.to_thread(self.message, message_id)

    # ----------------------------------------------------------------- delivery reports

    def status_callback(self, message_id: int) -> str | None:
        """Where Twilio reports a message's delivery: the bot's Twilio channel (``/status``
        next to ``TWILIO_WEBHOOK_URL``), which calls :meth:`record_delivery`. ``None`` without
        a public webhook URL (local development): the status stays "sent"."""
        if not self.twilio.webhook_url:
            return None
        base = self.twilio.webhook_url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[0]
        return f"{base}/status?handover={message_id}"

    def record_delivery(self, message_id: str, twilio_sid: str, status: str) -> bool:
        """Keep the delivery status Twilio reported for an agent message; a report that
        arrives late (``sent`` after ``delivered``) does not undo a later state."""
        if not message_id.isdigit() or status not in _DELIVERY_RANK:
            return False
        self.ensure_schema()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(messages_table.c.status).where(
                    messages_table.c.id == int(message_id),
                    messages_table.c.twilio_sid == twilio_sid,
                )
            ).first()
            if row is None:
                return False
            if _DELIVERY_RANK.get(row[0], 0) >= _DELIVERY_RANK[status]:
                return True
            conn.execute(
                update(messages_table)
                .where(messages_table.c.id == int(message_id))
                .values(status=status)
            )
        return True

    # ----------------------------------------------------------------- the queue notice

    async def queue_notices(
        self, tickets: list[Ticket], hours: HelpdeskHoursSettings, zone: tzinfo, now: datetime
    ) -> list[str]:
        """Tell each user whose open ticket nobody took ``queue_minutes`` into office hours
        that it waits in the queue (once per ticket); returns the references told."""
        windows = office_windows(hours)
        local = now.astimezone(zone)
        if not hours.queue_minutes or not office_hours.is_open(windows, local):
            return []
        opened = office_hours.opened_at(windows, local)
        holders = await asyncio.to_thread(self.holders)
        told = []
        for ticket in tickets:
            if ticket.status != OPEN_STATUS or not ticket.conversation_id:
                continue
            if ticket.reference in holders:
                continue
            since = max(ticket.created_at, opened) if opened else ticket.created_at
            if (now - since).total_seconds() < hours.queue_minutes * 60:
                continue
            sent = await asyncio.to_thread(self.messages, ticket.reference)
            if any(m.direction in (OUT, NOTICE) for m in sent):
                continue
            medium = self.route(ticket.conversation_id).medium
            text = response_text(QUEUE_RESPONSE, medium, reference=ticket.reference)
            await self.send(ticket, "", text, direction=NOTICE)
            told.append(ticket.reference)
        return told


def office_windows(hours: HelpdeskHoursSettings) -> list[office_hours.Window]:
    """The configured office hours; none (always open) when the setting cannot be read."""
    try:
        return office_hours.parse(hours.office_hours)
    except ValueError as error:
        logger.error("HELPDESK_OFFICE_HOURS ignored: %s", error)
        return []


def helpdesk_closed_until(
    hours: HelpdeskHoursSettings, zone: tzinfo, now: datetime | None = None
) -> str:
    """When the helpdesk opens next (``"Senin, 08:00 WIB"``) if it is closed now, else ``""``."""
    windows = office_windows(hours)
    local = (now or _now()).astimezone(zone)
    if office_hours.is_open(windows, local):
        return ""
    opening = office_hours.next_opening(windows, local)
    return office_hours.describe(opening) if opening else ""


# --------------------------------------------------------------------------- the service


def handover_service() -> SqlHandover:
    """The process's handover, on the ticket store's database (follows its resets)."""
    return _handover_on(ticket_store())


@lru_cache(maxsize=1)
def _handover_on(store: TicketStore) -> SqlHandover:
    return SqlHandover(store.engine, twilio_settings())


async def record_delivery(message_id: str, twilio_sid: str, status: str) -> None:
    """The Twilio channel's hook for the delivery report of an agent's message."""
    try:
        await asyncio.to_thread(handover_service().record_delivery, message_id, twilio_sid, status)
    except Exception:
        logger.exception("Could not record the delivery status of helpdesk message %s.", message_id)


async def divert_to_helpdesk(
    conversation_id: str, message_sid: str, text: str, medium: str
) -> bool:
    """The Twilio channel's hook: True when an agent holds the conversation and the message
    was kept for them (the bot must not answer). A database failure lets the bot answer."""
    try:
        return await handover_service().user_message_in(conversation_id, message_sid, text, medium)
    except Exception:
        logger.exception(
            "Human-mode check failed for %s; the bot answers.", mask_phone(conversation_id)
        )
        return False
