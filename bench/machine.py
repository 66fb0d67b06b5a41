"""Machine facts that every benchmark report states next to its figures (the load benchmark,
the NLU speed benchmark, the NLU evaluation, the review benchmark)."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any


def cpu_model(default: str = "unknown") -> str:
    """The CPU's model name from /proc/cpuinfo, or `default` where there is none."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return default


def memory_gib() -> float:
    """Total memory in GiB (one decimal), 0 where /proc/meminfo is missing."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return 0.0


def program_version(argv: Sequence[str]) -> str:
    """First line a program prints for its version (`-` when it cannot be run)."""
    try:
        result = subprocess.run(list(argv), capture_output=True, text=True, timeout=10)
        return (result.stdout or result.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "-"


def load_average() -> float:
    """The one-minute load average (NaN where the system has none)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def machine_facts(programs: Mapping[str, Sequence[str] | None] | None = None) -> dict[str, Any]:
    """Date, CPU, cores, memory, OS, Python and Rasa versions, and the version line of each
    of `programs` (name -> argv; None: not installed, shown as `-`)."""
    try:
        rasa = version("rasa")
    except PackageNotFoundError:
        rasa = "-"
    facts: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": cpu_model(default="") or platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "memory_gib": memory_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "rasa": rasa,
    }
    for name, argv in (programs or {}).items():
        facts[name] = program_version(argv) if argv else "-"
    return facts
