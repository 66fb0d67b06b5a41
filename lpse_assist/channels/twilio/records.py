"""Idempotency and reply records: what was answered to which Twilio message.

Twilio's ``MessageSid`` becomes the ``message_id`` of the user event, and each answered
MessageSid gets one row in the table ``lpse_twilio_replies`` of the tracker store's own SQL
database (SQLite in the embedded default, PostgreSQL in production), so every replica sees it:

* **idempotency**: a MessageSid that is in the conversation's current session, or has a row,
  was answered; Twilio's retry of it gets an empty ``<Response/>`` (also when no user event
  was logged: a number that is no option, or a retry after a new session started);
* **SMS fallback**: a WhatsApp reply's SMS rendering, sent when Twilio reports the WhatsApp
  message undelivered; the first status callback *claims* the fallback with one conditional
  UPDATE, so several callbacks (parts of one reply, ``undelivered`` then ``failed``, other
  replicas) send the SMS version once.

These records used to be ``AgentUttered`` events in the tracker (issue 19): each lengthened
the session Rasa loads and replays on every message, writing one cost a second tracker load
and save per message, and the fallback read every session of the conversation. A row keyed
by the MessageSid costs one indexed insert and one lookup.

Rows older than ``RETENTION_SECONDS`` are deleted now and then: Twilio retries within
minutes, delivery reports arrive within hours. A row holds the bot's SMS text and the
conversation id (which the tracker holds anyway), never the user's text.

The SQL statements are short primary-key statements run in the event loop, as Rasa's own SQL
tracker store runs its queries. Stores that are not SQL (Rasa's in-memory store, the channel
tests) get the same behaviour from ``MemoryReplyStore``, within one process.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from rasa.shared.core.events import Event, UserUttered
from sqlalchemy import Column, Float, MetaData, String, Table, Text, delete, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from lpse_assist.channels.twilio.output import sms_bodies
from lpse_assist.render import Medium
from lpse_assist.tracker_db import innermost, sql_engine_of

logger = logging.getLogger(__name__)

# A week: far beyond Twilio's retries (minutes) and late delivery reports (hours).
RETENTION_SECONDS = 7 * 24 * 3600
# Old rows are deleted once every this many records (one cheap indexed DELETE).
PRUNE_EVERY = 500
# MemoryReplyStore keeps at most this many records (one process, tests and demos).
MEMORY_LIMIT = 100_000

metadata = MetaData()

replies_table = Table(
    "lpse_twilio_replies",
    metadata,
    Column("inbound_sid", String(64), primary_key=True),
    Column("conversation_id", String(255), nullable=False),
    Column("medium", String(16), nullable=False),
    # JSON list of the SMS bodies of a WhatsApp reply; NULL for SMS conversations.
    Column("sms_bodies", Text),
    Column("created_at", Float, nullable=False, index=True),
    # Set once, by the first status callback that takes on the SMS fallback.
    Column("fallback_status", String(32)),
    Column("fallback_failed_sid", String(64)),
    Column("fallback_at", Float),
)


@dataclass(frozen=True)
class Reply:
    """The record of one answered inbound message."""

    inbound_sid: str
    conversation_id: str
    medium: str
    sms_bodies: list[str] | None
    fallback_status: str | None = None


class ReplyStore(Protocol):
    """Where the channel keeps its reply records."""

    def handled(self, inbound_sid: str) -> bool:
        """True when this MessageSid was answered (by any replica)."""

    def record(
        self, inbound_sid: str, conversation_id: str, medium: str, sms_bodies: list[str] | None
    ) -> None:
        """Note that ``inbound_sid`` was answered (a second record of it is ignored)."""

    def get(self, inbound_sid: str) -> Reply | None:
        """The record of ``inbound_sid``, if any."""

    def claim_fallback(
        self, inbound_sid: str, conversation_id: str, status: str, failed_sid: str
    ) -> list[str] | None:
        """The SMS bodies to send if this caller is the first to take on the fallback of
        this reply; ``None`` when there is no such WhatsApp reply or it was claimed already."""


def _bodies(raw: Any) -> list[str] | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return None
    return [str(b) for b in value] if isinstance(value, list) else None


class SqlReplyStore:
    """Reply records in the tracker store's SQL database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._schema_ready = False
        self._records = 0

    def ensure_schema(self) -> None:
        """Create the table if it does not exist (idempotent; tolerates a racing replica)."""
        if self._schema_ready:
            return
        try:
            metadata.create_all(self.engine, checkfirst=True)
        except (OperationalError, ProgrammingError, IntegrityError):
            metadata.create_all(self.engine, checkfirst=True)
        self._schema_ready = True

    def handled(self, inbound_sid: str) -> bool:
        self.ensure_schema()
        table = replies_table
        with self.engine.connect() as conn:
            row = conn.execute(
                select(table.c.inbound_sid).where(table.c.inbound_sid == inbound_sid)
            ).first()
        return row is not None

    def record(
        self, inbound_sid: str, conversation_id: str, medium: str, sms_bodies: list[str] | None
    ) -> None:
        self.ensure_schema()
        values = {
            "inbound_sid": inbound_sid,
            "conversation_id": conversation_id,
            "medium": medium,
            "sms_bodies": json.dumps(sms_bodies, ensure_ascii=False)
            if sms_bodies is not None
            else None,
            "created_at": time.time(),
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(replies_table).values(**values))
        except IntegrityError:
            # Recorded already (two replicas cannot both process one MessageSid under the
            # conversation lock, but a record that outlived a crash can be there).
            logger.info("Reply to %s was recorded already.", inbound_sid)
        self._records += 1
        if self._records % PRUNE_EVERY == 0:
            self.prune()

    def get(self, inbound_sid: str) -> Reply | None:
        self.ensure_schema()
        table = replies_table
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(table).where(table.c.inbound_sid == inbound_sid))
                .mappings()
                .first()
            )
        if row is None:
            return None
        return Reply(
            inbound_sid=row["inbound_sid"],
            conversation_id=row["conversation_id"],
            medium=row["medium"],
            sms_bodies=_bodies(row["sms_bodies"]),
            fallback_status=row["fallback_status"],
        )

    def claim_fallback(
        self, inbound_sid: str, conversation_id: str, status: str, failed_sid: str
    ) -> list[str] | None:
        self.ensure_schema()
        table = replies_table
        with self.engine.begin() as conn:
            # One conditional UPDATE: of several callers, exactly one changes the row.
            claimed = conn.execute(
                update(table)
                .where(
                    table.c.inbound_sid == inbound_sid,
                    table.c.conversation_id == conversation_id,
                    table.c.sms_bodies.is_not(None),
                    table.c.fallback_status.is_(None),
                )
                .values(
                    fallback_status=status[:32],
                    fallback_failed_sid=failed_sid[:64],
                    fallback_at=time.time(),
                )
            ).rowcount
            if claimed != 1:
                return None
            raw = conn.execute(
                select(table.c.sms_bodies).where(table.c.inbound_sid == inbound_sid)
            ).scalar_one()
        return _bodies(raw) or []

    def prune(self, now: float | None = None) -> int:
        """Delete records older than ``RETENTION_SECONDS``; how many went."""
        self.ensure_schema()
        cutoff = (now if now is not None else time.time()) - RETENTION_SECONDS
        with self.engine.begin() as conn:
            deleted = conn.execute(
                delete(replies_table).where(replies_table.c.created_at < cutoff)
            ).rowcount
        return int(deleted or 0)


class MemoryReplyStore:
    """Reply records in this process only: for Rasa's in-memory tracker store."""

    def __init__(self, limit: int = MEMORY_LIMIT) -> None:
        self._rows: OrderedDict[str, Reply] = OrderedDict()
        self._limit = limit

    def handled(self, inbound_sid: str) -> bool:
        return inbound_sid in self._rows

    def record(
        self, inbound_sid: str, conversation_id: str, medium: str, sms_bodies: list[str] | None
    ) -> None:
        if inbound_sid in self._rows:
            return
        self._rows[inbound_sid] = Reply(inbound_sid, conversation_id, medium, sms_bodies)
        while len(self._rows) > self._limit:
            self._rows.popitem(last=False)

    def get(self, inbound_sid: str) -> Reply | None:
        return self._rows.get(inbound_sid)

    def claim_fallback(
        self, inbound_sid: str, conversation_id: str, status: str, failed_sid: str
    ) -> list[str] | None:
        del failed_sid
        reply = self._rows.get(inbound_sid)
        if (
            reply is None
            or reply.conversation_id != conversation_id
            or reply.sms_bodies is None
            or reply.fallback_status is not None
        ):
            return None
        self._rows[inbound_sid] = Reply(
            reply.inbound_sid, reply.conversation_id, reply.medium, reply.sms_bodies, status
        )
        return list(reply.sms_bodies)


# One reply store per tracker store: records are shared exactly as far as the conversations
# are (all replicas on one database; agents of one process on one in-memory store).
_STORES: weakref.WeakKeyDictionary[Any, ReplyStore] = weakref.WeakKeyDictionary()


def reply_store_for(tracker_store: Any) -> ReplyStore:
    """A SQL reply store on the tracker store's database, else one in this process."""
    inner = innermost(tracker_store)
    store = _STORES.get(inner)
    if store is not None:
        return store
    engine = sql_engine_of(inner)
    if engine is None:
        logger.warning(
            "The tracker store is not SQL: Twilio reply records are kept in this process "
            "only, like its conversations."
        )
        store = MemoryReplyStore()
    else:
        store = SqlReplyStore(engine)
    _STORES[inner] = store
    return store


def already_handled(events: Iterable[Event], message_sid: str) -> bool:
    """True when the loaded session holds the user event of this MessageSid."""
    return any(isinstance(e, UserUttered) and e.message_id == message_sid for e in events)


async def record_reply(
    agent: Any,
    store: ReplyStore,
    tracker: Any,
    message_sid: str,
    medium: Medium,
    messages: Sequence[Mapping[str, Any]],
) -> None:
    """Store what was answered to ``message_sid`` (and its SMS rendering for WhatsApp).

    The insert (a commit, which waits for the disk) runs in a worker thread, so the event
    loop goes on answering other messages meanwhile.
    """
    bodies = await sms_bodies(agent, tracker, messages) if medium == "whatsapp" else None
    await asyncio.to_thread(store.record, message_sid, str(tracker.sender_id), medium, bodies)


class RecentIds:
    """A small LRU set: a fast path for Twilio retries that hit this replica again."""

    def __init__(self, size: int) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def __contains__(self, item: str) -> bool:
        if item in self._ids:
            self._ids.move_to_end(item)
            return True
        return False

    def add(self, item: str) -> None:
        self._ids[item] = None
        self._ids.move_to_end(item)
        while len(self._ids) > self._size:
            self._ids.popitem(last=False)
