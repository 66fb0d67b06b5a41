"""Office hours: the spec format, open or closed, and the next opening as users read it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from lpse_assist import office_hours as oh

WIB = timezone(timedelta(hours=7), "WIB")
HOURS = oh.parse("mon-thu 08:00-16:00; jum 08:00-11:30")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in the week of Monday 2026-11-30 (WIB)."""
    return datetime(2026, 11, 30, hour, minute, tzinfo=WIB) + timedelta(days=day)


def test_spec_in_english_or_indonesian_days() -> None:
    assert [w.day for w in HOURS] == [0, 1, 2, 3, 4]
    assert oh.parse("sen-jum 08:00-16:00") == oh.parse("Mon-Fri 08.00-16.00")
    assert [w.day for w in oh.parse("sat-mon 09:00-10:00")] == [5, 6, 0]
    assert oh.parse("") == []


@pytest.mark.parametrize("spec", ["mon-fri", "xyz 08:00-16:00", "mon 16:00-08:00", "mon 8-16"])
def test_unreadable_specs_say_so(spec: str) -> None:
    with pytest.raises(ValueError, match="office hours"):
        oh.parse(spec)


def test_open_and_closed() -> None:
    assert oh.is_open(HOURS, at(0, 8)) and oh.is_open(HOURS, at(3, 15, 59))
    assert not oh.is_open(HOURS, at(0, 16)) and not oh.is_open(HOURS, at(4, 11, 30))
    assert not oh.is_open(HOURS, at(5, 10))  # Saturday
    assert oh.is_open([], at(5, 3))  # not configured: always
    assert oh.opened_at(HOURS, at(1, 9, 15)) == at(1, 8)
    assert oh.opened_at(HOURS, at(1, 17)) is None


def test_next_opening_in_indonesian() -> None:
    assert oh.next_opening(HOURS, at(0, 7)) == at(0, 8)
    assert oh.next_opening(HOURS, at(0, 17)) == at(1, 8)
    friday_evening = oh.next_opening(HOURS, at(4, 12))
    assert friday_evening == at(7, 8)  # Monday
    assert oh.describe(friday_evening) == "Senin, 08:00 WIB"
    assert oh.next_opening([], at(0, 7)) is None
