"""Real rasa_sdk trackers and dispatchers, and the project's real domain."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from rasa.shared.core.domain import Domain
from rasa_sdk import Tracker

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def domain() -> Dict[str, Any]:
    """The domain as the action server receives it."""
    return Domain.load(str(ROOT / "domain.yml")).as_dict()


def user_event(intent: str, text: str = "") -> Dict[str, Any]:
    """A user event as Rasa stores it in the tracker."""
    return {
        "event": "user",
        "text": text or f"/{intent}",
        "parse_data": {"intent": {"name": intent, "confidence": 1.0}, "entities": []},
    }


def make_tracker(
    events: Optional[List[Dict[str, Any]]] = None, slots: Optional[Dict[str, Any]] = None
) -> Tracker:
    """A tracker with the given user events and slots."""
    events = events or []
    latest = events[-1]["parse_data"] if events else {}
    return Tracker(
        sender_id="+6281234567890",
        slots=slots or {},
        latest_message=latest,
        events=events,
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )
