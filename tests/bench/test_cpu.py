"""CPU time per process group, as the load benchmark reports it per message."""

from __future__ import annotations

import os
import time

from bench import cpu


def test_stat_lines_with_odd_command_names_are_read() -> None:
    fields = " ".join(["S", "7"] + ["0"] * 9 + ["250", "50"] + ["0"] * 30)
    parsed = cpu.parse_stat(f"42 (rasa (main) x) {fields}")
    assert parsed is not None
    assert (parsed.comm, parsed.ppid) == ("rasa (main) x", 7)
    assert parsed.seconds == (250 + 50) / cpu.TICKS
    assert cpu.parse_stat("garbage") is None
    assert cpu.parse_stat("1 (x) S 0") is None


def test_groups_children_and_new_processes_are_counted() -> None:
    p = cpu.ProcessTime
    before = {1: p("rasa", 0, 10.0), 2: p("python", 1, 1.0), 3: p("postgres", 0, 5.0)}
    after = {
        1: p("rasa", 0, 12.0),
        2: p("python", 1, 1.5),  # a child of the Rasa process
        3: p("postgres", 0, 5.25),
        4: p("postgres", 3, 0.25),  # a backend that started in between
        5: p("other", 0, 3.0),
        9: p("reused", 0, 0.5),  # a pid reused by another program counts from zero
    }
    before[9] = p("gone", 0, 7.0)
    rasa = cpu.descendants(1, after)
    assert rasa == {1, 2}

    def classify(pid: int, info: cpu.ProcessTime) -> str | None:
        if pid in rasa:
            return "rasa"
        return "postgresql" if info.comm == "postgres" else None

    assert cpu.spent(before, after, classify) == {"rasa": 2.5, "postgresql": 0.5, "other": 3.5}


def test_this_process_is_seen_using_cpu() -> None:
    first = cpu.snapshot()
    busy = cpu.machine_seconds()
    end = time.process_time() + 0.2
    while time.process_time() < end:
        pass
    second = cpu.snapshot()
    me = os.getpid()
    assert second[me].seconds - first[me].seconds >= 0.1
    assert cpu.machine_seconds() - busy >= 0.1
