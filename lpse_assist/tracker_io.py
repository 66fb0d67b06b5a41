"""Rasa's SQL tracker store without blocking the event loop on the database.

Rasa 3.6's ``SQLTrackerStore`` is declared ``async`` but runs its SQLAlchemy work inline: a
tracker load waits for its query, a save waits for a count query, the inserts and the
commit (on PostgreSQL with durable commits, the flush of the write-ahead log). All that time
Rasa's one event loop does nothing else: no other conversation is parsed, predicted or
answered. Under the load benchmark's 20 messages a second that waiting was a third of the
event loop's busy time (docs/benchmarks.md).

``install()`` makes the store's load (``_retrieve``) and ``save`` run the same statements in
a worker thread (``asyncio.to_thread``); the event loop serves other conversations meanwhile.
One thing is left out: the count query of a save, when the tracker being saved is the very
object this store just loaded. That query asks how many events of the current session are
stored (Rasa then inserts the tracker's events after that many); the load read exactly those
rows, and nothing else writes the conversation while the caller holds its lock (Rasa's ticket
lock, held from load to save in Rasa's handler and in ours). Any other tracker (a new
conversation, a copy, a second save) is counted as before. Errors surface as before (Rasa's
``FailSafeTrackerStore`` around the store sees the same exceptions).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Sequence
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

logger = logging.getLogger(__name__)

# Attribute of a loaded tracker: (id of the store, id of the tracker, stored events).
_LOADED = "_lpse_loaded_from_store"
_rasa_methods: dict[str, Any] = {}


def _retrieve_sync(
    store: SQLTrackerStore, sender_id: str, all_sessions: bool
) -> DialogueStateTracker | None:
    """``SQLTrackerStore._retrieve`` (Rasa 3.6), synchronous; remembers how many events of
    the current session the store held."""
    with store.session_scope() as session:
        rows = store._event_query(
            session, sender_id, fetch_events_from_all_sessions=all_sessions
        ).all()
        events = [json.loads(row.data) for row in rows]
    if not (store.domain and events):
        logger.debug("No tracker stored for this sender id.")
        return None
    tracker = DialogueStateTracker.from_dict(sender_id, events, store.domain.slots)
    if not all_sessions:
        setattr(tracker, _LOADED, (id(store), id(tracker), len(events)))
    return tracker


async def _retrieve(
    self: SQLTrackerStore, sender_id: str, fetch_events_from_all_sessions: bool
) -> DialogueStateTracker | None:
    """The tracker of a conversation, read in a worker thread."""
    return await asyncio.to_thread(_retrieve_sync, self, sender_id, fetch_events_from_all_sessions)


def stored_count(store: SQLTrackerStore, tracker: DialogueStateTracker) -> int | None:
    """How many of the tracker's events the store holds, when this store loaded this very
    tracker object (``None``: unknown, count them)."""
    loaded = getattr(tracker, _LOADED, None)
    if loaded is None or loaded[0] != id(store) or loaded[1] != id(tracker):
        return None
    return int(loaded[2])


def _save_sync(
    store: SQLTrackerStore, sender_id: str, events: Sequence[Event], known: int | None
) -> None:
    """``SQLTrackerStore.save`` (Rasa 3.6) after the event broker, synchronous; ``known``:
    the stored events of the session, when known (no count query)."""
    with store.session_scope() as session:
        if known is None:
            known = store._event_query(
                session, sender_id, fetch_events_from_all_sessions=False
            ).count()
        for event in itertools.islice(events, known, len(events)):
            data = event.as_dict()
            intent = data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY)
            session.add(
                store.SQLEvent(
                    sender_id=sender_id,
                    type_name=event.type_name,
                    timestamp=data.get("timestamp"),
                    intent_name=intent,
                    action_name=data.get("name"),
                    data=json.dumps(data),
                )
            )
        session.commit()


async def _save(self: SQLTrackerStore, tracker: DialogueStateTracker) -> None:
    """Store the tracker's new events, in a worker thread."""
    await self.stream_events(tracker)
    known = stored_count(self, tracker)
    if known is not None:
        delattr(tracker, _LOADED)  # one save per load: a later save counts again
    # A snapshot: the worker thread never reads the live tracker.
    events = list(tracker.events)
    await asyncio.to_thread(_save_sync, self, tracker.sender_id, events, known)
    logger.debug("Tracker stored to the database.")


def install() -> None:
    """Run the SQL tracker store's loads and saves in worker threads (once per process)."""
    if _rasa_methods:
        return
    _rasa_methods["_retrieve"] = SQLTrackerStore._retrieve
    _rasa_methods["save"] = SQLTrackerStore.save
    SQLTrackerStore._retrieve = _retrieve  # type: ignore[method-assign]
    SQLTrackerStore.save = _save  # type: ignore[method-assign]


def installed() -> bool:
    """True once ``install`` ran in this process."""
    return bool(_rasa_methods)


def uninstall() -> None:
    """Rasa's own methods again (tests)."""
    for name, method in _rasa_methods.items():
        setattr(SQLTrackerStore, name, method)
    _rasa_methods.clear()
