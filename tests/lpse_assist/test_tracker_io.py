"""The SQL tracker store's loads and saves off the event loop store exactly what Rasa's do."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from sqlalchemy import event, text

from lpse_assist import tracker_io

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [greet]
slots:
  topic:
    type: text
    influence_conversation: false
    mappings: [{type: custom}]
responses:
  utter_greet: [{text: "Halo"}]
"""
)


@pytest.fixture
def rasa_only() -> Iterator[None]:
    tracker_io.uninstall()
    yield
    tracker_io.uninstall()


def store_at(path: Path) -> SQLTrackerStore:
    return SQLTrackerStore(DOMAIN, dialect="sqlite", db=str(path))


def statements(store: SQLTrackerStore) -> list[tuple[str, int]]:
    """Every SQL statement the store's engine runs from now on, with the thread that ran it."""
    seen: list[tuple[str, int]] = []

    def record(*args: Any) -> None:
        seen.append((str(args[2]), threading.get_ident()))

    event.listen(store.engine, "before_cursor_execute", record)
    return seen


def turn(tracker: Any, text_: str, at: float) -> None:
    """One exchange: the user's message, the bot's answer, listening again."""
    tracker.update(UserUttered(text_, {"name": "greet", "confidence": 1.0}, timestamp=at))
    tracker.update(ActionExecuted("utter_greet", timestamp=at + 0.1))
    tracker.update(BotUttered("Halo", timestamp=at + 0.2))
    tracker.update(SlotSet("topic", f"t{at}", timestamp=at + 0.3))
    tracker.update(ActionExecuted("action_listen", timestamp=at + 0.4))


async def conversation(store: SQLTrackerStore) -> None:
    """A new conversation, three turns (each: load, change, save), a second save of the
    same tracker, then a new session with a turn."""
    tracker = await store.get_or_create_tracker("whatsapp:+6281200000001")
    start = 2_000_000_000.0  # the same in both runs, after the creation's action_listen
    for i in range(3):
        tracker = await store.retrieve("whatsapp:+6281200000001")
        assert tracker is not None
        turn(tracker, f"halo {i}", start + 1 + i)
        await store.save(tracker)
    tracker.update(SlotSet("topic", None, timestamp=start + 5))
    await store.save(tracker)  # the same object again: counted, nothing stored twice
    tracker = await store.retrieve("whatsapp:+6281200000001")
    assert tracker is not None
    tracker.update(ActionExecuted("action_session_start", timestamp=start + 10))
    tracker.update(SessionStarted(timestamp=start + 10.1))
    tracker.update(ActionExecuted("action_listen", timestamp=start + 10.2))
    turn(tracker, "lagi", start + 11)
    await store.save(tracker)


def rows(store: SQLTrackerStore) -> list[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT sender_id, type_name, timestamp, intent_name, action_name, data "
                    "FROM events ORDER BY id"
                )
            )
        )


def test_the_same_rows_are_stored_as_with_rasas_own_methods(
    tmp_path: Path, rasa_only: None
) -> None:
    rasa_store = store_at(tmp_path / "rasa.db")
    asyncio.run(conversation(rasa_store))
    tracker_io.install()
    tracker_io.install()  # twice: no change
    assert tracker_io.installed()
    ours = store_at(tmp_path / "ours.db")
    asyncio.run(conversation(ours))
    # The same rows (the timestamps of the first action_listen differ: made when created).
    expected = rows(rasa_store)[1:]
    assert len(expected) + 1 == 1 + 3 * 5 + 3 + 5 + 1  # the first listen, turns, slot, session
    assert rows(ours)[1:] == expected
    # And loads give the same trackers (the current session only).
    tracker_io.uninstall()
    theirs = asyncio.run(rasa_store.retrieve("whatsapp:+6281200000001"))
    tracker_io.install()
    mine = asyncio.run(ours.retrieve("whatsapp:+6281200000001"))
    assert theirs is not None and mine is not None
    assert list(mine.events) == list(theirs.events)
    assert len(mine.events) == 7  # session_started, action_listen, the turn
    full = asyncio.run(ours.retrieve_full_tracker("whatsapp:+6281200000001"))
    assert full is not None and len(full.events) == len(expected) + 1


def test_a_loaded_tracker_is_saved_without_the_count_and_off_the_event_loop(
    tmp_path: Path, rasa_only: None
) -> None:
    tracker_io.install()
    store = store_at(tmp_path / "t.db")

    async def scenario() -> tuple[list[tuple[str, int]], int]:
        await store.get_or_create_tracker("+6281200000002")
        seen = statements(store)
        tracker = await store.retrieve("+6281200000002")
        assert tracker is not None
        turn(tracker, "halo", time.time())
        await store.save(tracker)
        return seen, threading.get_ident()

    seen, loop_thread = asyncio.run(scenario())
    kinds = [sql.split()[0].upper() for sql, _ in seen]
    assert kinds.count("SELECT") == 1  # the load; the save did not count
    assert kinds.count("INSERT") >= 1
    assert all(thread != loop_thread for _, thread in seen)


def test_a_tracker_not_loaded_by_this_store_is_counted(tmp_path: Path, rasa_only: None) -> None:
    tracker_io.install()
    first, second = store_at(tmp_path / "a.db"), store_at(tmp_path / "b.db")

    async def scenario() -> list[str]:
        await first.get_or_create_tracker("+6281200000003")
        await second.get_or_create_tracker("+6281200000003")
        tracker = await first.retrieve("+6281200000003")
        assert tracker is not None
        seen = statements(second)
        turn(tracker, "halo", time.time())
        await second.save(tracker)  # loaded by another store: counted
        return [sql.split()[0].upper() for sql, _ in seen]

    kinds = asyncio.run(scenario())
    assert "SELECT" in kinds
    assert len(rows(second)) == len(rows(first)) + 5


def test_the_event_loop_serves_others_while_the_database_is_slow(
    tmp_path: Path, rasa_only: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save that waits for the database (here: 0.3 s) leaves the event loop free."""
    tracker_io.install()
    store = store_at(tmp_path / "slow.db")
    original = tracker_io._save_sync

    def slow(*args: Any) -> None:
        threading.Event().wait(0.3)
        original(*args)

    monkeypatch.setattr(tracker_io, "_save_sync", slow)

    async def scenario() -> int:
        tracker = await store.get_or_create_tracker("+6281200000004")
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        turn(tracker, "halo", time.time())
        await store.save(tracker)
        task.cancel()
        return ticks

    assert asyncio.run(scenario()) >= 10
