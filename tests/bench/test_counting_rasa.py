"""The long-conversation benchmark counts every tracker load and save, our save included."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted

from bench.counting_rasa import count_tracker_store_calls, read_counts
from lpse_assist import tracker_io


def test_loads_and_saves_are_counted_with_our_save_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("retrieve", "retrieve_full_tracker", "save", "_retrieve"):
        monkeypatch.setattr(SQLTrackerStore, name, getattr(SQLTrackerStore, name))
    monkeypatch.setattr(tracker_io, "_rasa_methods", {})
    counts = tmp_path / "counts.txt"
    count_tracker_store_calls(str(counts))
    assert tracker_io.installed()
    store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tmp_path / "t.db"))

    async def talk() -> None:
        await store.get_or_create_tracker("+6281200000009")  # a load, then a save
        tracker = await store.retrieve("+6281200000009")
        assert tracker is not None
        tracker.update(ActionExecuted("utter_greet"))
        await store.save(tracker)
        await store.retrieve_full_tracker("+6281200000009")

    asyncio.run(talk())
    assert read_counts(str(counts)) == {"load": 2, "load_full": 1, "save": 2}
