"""Every benchmark states the same machine facts next to its figures."""

from __future__ import annotations

import os
import platform
import sys

from bench.machine import load_average, machine_facts


def test_machine_facts_name_the_machine_and_the_versions() -> None:
    facts = machine_facts()
    assert list(facts) == ["date", "cpu", "cores", "memory_gib", "os", "python", "rasa"]
    assert facts["cores"] == os.cpu_count()
    assert facts["python"] == platform.python_version()
    assert facts["rasa"].startswith("3.6.")
    assert facts["cpu"] and facts["cpu"] != "unknown"
    assert facts["memory_gib"] > 0


def test_program_versions_are_added_and_missing_ones_say_so() -> None:
    facts = machine_facts({"interpreter": [sys.executable, "--version"], "nginx": None})
    assert facts["interpreter"] == f"Python {platform.python_version()}"
    assert facts["nginx"] == "-"
    assert machine_facts({"absent": ["/nonexistent/program", "--version"]})["absent"] == "-"


def test_load_average_is_a_number() -> None:
    assert load_average() >= 0.0
