"""The helpdesk's office hours (``HELPDESK_OFFICE_HOURS``), in the ticket time zone.

Format: ``"mon-fri 08:00-16:00"``, several parts separated by ``;`` (``"mon-thu 08:00-16:00;
fri 08:00-11:00"``); days in English or Indonesian (``sen-jum``). Empty: not configured, the
helpdesk counts as always open (no "outside office hours" message). Pure functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

_DAYS = {
    "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
    "sen": 0, "sel": 1, "rab": 2, "kam": 3, "jum": 4, "sab": 5, "min": 6,
}  # fmt: skip
DAY_NAMES = ["Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"]
_PART = re.compile(
    r"^\s*([a-z]{3})(?:\s*-\s*([a-z]{3}))?\s+(\d{1,2})[:.](\d{2})\s*-\s*(\d{1,2})[:.](\d{2})\s*$"
)


@dataclass(frozen=True)
class Window:
    """Open on ``day`` (0 = Monday) from ``start`` to ``end``."""

    day: int
    start: time
    end: time


def parse(spec: str) -> list[Window]:
    """The opening windows of a spec; ``ValueError`` names the part that is wrong."""
    windows: list[Window] = []
    for part in (p for p in spec.lower().split(";") if p.strip()):
        match = _PART.match(part)
        if not match or match.group(1) not in _DAYS or (match.group(2) or "mon") not in _DAYS:
            raise ValueError(
                f"office hours: cannot read {part.strip()!r} (e.g. mon-fri 08:00-16:00)"
            )
        first = _DAYS[match.group(1)]
        last = _DAYS[match.group(2)] if match.group(2) else first
        start = time(int(match.group(3)), int(match.group(4)))
        end = time(int(match.group(5)), int(match.group(6)))
        if end <= start:
            raise ValueError(f"office hours: {part.strip()!r} ends before it starts")
        day = first
        while True:
            windows.append(Window(day, start, end))
            if day == last:
                break
            day = (day + 1) % 7
    return windows


def is_open(windows: list[Window], moment: datetime) -> bool:
    """True during office hours (always, when none are configured). ``moment``: local time."""
    if not windows:
        return True
    now = moment.time()
    return any(w.day == moment.weekday() and w.start <= now < w.end for w in windows)


def opened_at(windows: list[Window], moment: datetime) -> datetime | None:
    """When the window ``moment`` falls in opened (``None`` when closed or not configured)."""
    for w in windows:
        if w.day == moment.weekday() and w.start <= moment.time() < w.end:
            return moment.replace(hour=w.start.hour, minute=w.start.minute, second=0, microsecond=0)
    return None


def next_opening(windows: list[Window], moment: datetime) -> datetime | None:
    """The next time the helpdesk opens after ``moment`` (local), or ``None``."""
    best: datetime | None = None
    for offset in range(8):
        day = (moment + timedelta(days=offset)).date()
        for w in windows:
            if w.day != day.weekday():
                continue
            start = datetime.combine(day, w.start, tzinfo=moment.tzinfo)
            if start > moment and (best is None or start < best):
                best = start
        if best is not None:
            return best
    return best


def describe(moment: datetime) -> str:
    """``"Senin, 08:00 WIB"``: when the helpdesk opens, as users read it."""
    zone = moment.strftime("%Z")
    return f"{DAY_NAMES[moment.weekday()]}, {moment:%H:%M}" + (f" {zone}" if zone else "")
