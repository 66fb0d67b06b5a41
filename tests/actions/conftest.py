"""Real rasa_sdk trackers and dispatchers, and the project's real domain."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa.shared.core.domain import Domain
from rasa_sdk import Tracker

from lpse_assist.settings import reset_settings_cache
from lpse_assist.tickets import reset_ticket_services

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    """The domain as the action server receives it."""
    return Domain.load(str(ROOT / "domain.yml")).as_dict()


@pytest.fixture(autouse=True)
def ticket_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Tickets of escalations go to a fresh SQLite file, never to the developer's store."""
    path = tmp_path / "tracker.db"
    monkeypatch.setenv("TRACKER_DB", str(path))
    monkeypatch.delenv("TRACKER_DB_DIALECT", raising=False)
    monkeypatch.delenv("POSTGRES_HOST", raising=False)
    monkeypatch.delenv("HELPDESK_NOTIFY_NUMBER", raising=False)
    reset_settings_cache()
    reset_ticket_services()
    yield path
    reset_ticket_services()
    reset_settings_cache()


def user_event(intent: str, text: str = "") -> dict[str, Any]:
    """A user event as Rasa stores it in the tracker."""
    return {
        "event": "user",
        "text": text or f"/{intent}",
        "parse_data": {"intent": {"name": intent, "confidence": 1.0}, "entities": []},
    }


def make_tracker(
    events: list[dict[str, Any]] | None = None,
    slots: dict[str, Any] | None = None,
    sender_id: str = "+6281234567890",
) -> Tracker:
    """A tracker with the given events and slots; the latest message is the last user's."""
    events = events or []
    latest: dict[str, Any] = next(
        (e["parse_data"] for e in reversed(events) if e["event"] == "user"), {}
    )
    return Tracker(
        sender_id=sender_id,
        slots=slots or {},
        latest_message=latest,
        events=events,
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )
