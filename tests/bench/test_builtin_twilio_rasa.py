"""Rasa's own channel in the benchmark: unchanged, or with our process-wide fixes."""

from __future__ import annotations

import sys

import pytest
import rasa.__main__
from rasa.core.actions.action import RemoteAction
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event

from bench import builtin_twilio_rasa
from bench.load import scenario
from lpse_assist import action_results, event_types, rasa_speedups, tracker_io


@pytest.fixture
def rasa_as_shipped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rasa's methods and our modules' state restored after the test."""
    monkeypatch.setattr(Event, "resolve_by_type", Event.__dict__["resolve_by_type"])
    monkeypatch.setattr(
        RemoteAction, "_validate_action_result", RemoteAction._validate_action_result
    )
    for name in ("save", "_retrieve"):
        monkeypatch.setattr(SQLTrackerStore, name, getattr(SQLTrackerStore, name))
    monkeypatch.setattr(event_types, "_rasa_resolve", None)
    monkeypatch.setattr(action_results, "_rasa_validate", None)
    monkeypatch.setattr(tracker_io, "_rasa_methods", {})
    monkeypatch.setattr(sys, "argv", list(sys.argv))


@pytest.mark.parametrize("fixed", [False, True])
def test_the_speedups_are_installed_only_when_asked(
    fixed: bool, rasa_as_shipped: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    monkeypatch.setattr(builtin_twilio_rasa, "redirect_twilio_api", lambda url: None)
    monkeypatch.setattr(rasa.__main__, "main", lambda: seen.append(rasa_speedups.installed()))
    monkeypatch.setenv("BENCH_TWILIO_API_BASE_URL", "http://127.0.0.1:9")
    if fixed:
        monkeypatch.setenv("BENCH_RASA_SPEEDUPS", "1")
    else:
        monkeypatch.delenv("BENCH_RASA_SPEEDUPS", raising=False)
    assert builtin_twilio_rasa.main() == 0
    assert seen == [fixed]


def test_both_builtin_scenarios_run_rasas_channel() -> None:
    assert scenario("builtin-1").builtin and scenario("builtin-fixed-1").builtin
    assert "rasa_speedups" in scenario("builtin-fixed-1").description
