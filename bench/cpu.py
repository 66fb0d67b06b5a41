"""CPU time each part of a benchmark used, from ``/proc`` (Linux).

Latency on a shared 2-core machine depends on whatever else runs; the CPU seconds a process
spends per message do not (much). ``snapshot`` reads every process's user + system time;
``spent`` gives, between two snapshots, the CPU seconds of each named group of processes
(the Rasa process, the action server, PostgreSQL, ...) and of everything else.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessTime:
    """One process: its command name, its parent and the CPU seconds it has used."""

    comm: str
    ppid: int
    seconds: float


def parse_stat(text: str) -> ProcessTime | None:
    """``/proc/<pid>/stat``: ``comm`` is in parentheses (and may hold spaces or parentheses);
    ``utime`` and ``stime`` are fields 14 and 15, in clock ticks."""
    start, end = text.find("("), text.rfind(")")
    if start < 0 or end < start:
        return None
    fields = text[end + 2 :].split()
    if len(fields) < 13:
        return None
    try:
        ppid = int(fields[1])
        ticks = int(fields[11]) + int(fields[12])
    except ValueError:
        return None
    return ProcessTime(text[start + 1 : end], ppid, ticks / TICKS)


def snapshot(proc: Path = PROC) -> dict[int, ProcessTime]:
    """Every process's CPU time now (processes that vanish while reading are skipped)."""
    result: dict[int, ProcessTime] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parsed = parse_stat((entry / "stat").read_text(errors="replace"))
        except OSError:
            continue
        if parsed is not None:
            result[int(entry.name)] = parsed
    return result


def machine_seconds(proc: Path = PROC) -> float:
    """CPU seconds the whole machine has been busy (all cores; ``/proc/stat`` minus idle)."""
    try:
        first = (proc / "stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return 0.0
    values = [int(v) for v in first[1:9]]  # user nice system idle iowait irq softirq steal
    return (sum(values) - values[3] - values[4]) / TICKS


def descendants(root: int, processes: Mapping[int, ProcessTime]) -> set[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for pid, info in processes.items():
        children.setdefault(info.ppid, []).append(pid)
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in found:
            continue
        found.add(pid)
        todo.extend(children.get(pid, []))
    return found


Classifier = Callable[[int, ProcessTime], "str | None"]


def spent(
    before: Mapping[int, ProcessTime],
    after: Mapping[int, ProcessTime],
    classify: Classifier,
) -> dict[str, float]:
    """CPU seconds per group between the snapshots; ``classify(pid, info)`` names a process's
    group (None: ``other``). A process that started in between counts from zero."""
    totals: dict[str, float] = {}
    for pid, info in after.items():
        earlier = before.get(pid)
        base = earlier.seconds if earlier is not None and earlier.comm == info.comm else 0.0
        used = max(0.0, info.seconds - base)
        if used:
            group = classify(pid, info) or "other"
            totals[group] = totals.get(group, 0.0) + used
    return totals
