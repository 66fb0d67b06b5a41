"""Offline audit of requirements.lock against a local copy of an OSV advisory database.

`make audit` runs pip-audit, which asks PyPI's JSON API for each pinned version. Machines that
reach PyPI only through a mirror of its package index cannot do that (pip-audit then skips
every package, and `--strict` makes it fail). This script gives the same answer from a
checkout of https://github.com/pypa/advisory-database (``vulns/<package>/*.yaml``, the PYSEC
advisories PyPI serves): ``make audit ADVISORY_DB=/path/to/advisory-database``.

Prints one line per advisory that affects a pinned version; exits 1 when there is one.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Finding:
    """An advisory that affects a pinned version."""

    package: str
    version: str
    advisory: str
    aliases: tuple[str, ...]
    fixed: tuple[str, ...]
    summary: str


def canonical(name: str) -> str:
    """PEP 503 name (``Jinja2`` -> ``jinja2``, ``ruamel.yaml`` -> ``ruamel-yaml``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned(lock: Path) -> dict[str, str]:
    """``name==version`` lines of a lock file, by canonical name."""
    pins = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].split(";", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[canonical(name.split("[", 1)[0])] = version.strip()
    return pins


def _in_ranges(version: Version, ranges: Sequence[dict[str, Any]]) -> bool:
    for entry in ranges:
        if entry.get("type") != "ECOSYSTEM":
            continue
        affected = False
        for event in entry.get("events") or []:
            try:
                if "introduced" in event:
                    start = str(event["introduced"])
                    affected = affected or start == "0" or version >= Version(start)
                elif "fixed" in event and version >= Version(str(event["fixed"])):
                    affected = False
                elif "last_affected" in event and version > Version(str(event["last_affected"])):
                    affected = False
            except InvalidVersion:
                continue
        if affected:
            return True
    return False


def affects(advisory: dict[str, Any], package: str, version: str) -> bool:
    """True when ``advisory`` lists ``package`` at ``version`` as affected."""
    try:
        parsed = Version(version)
    except InvalidVersion:
        return False
    for entry in advisory.get("affected") or []:
        if canonical(str((entry.get("package") or {}).get("name", ""))) != package:
            continue
        if version in [str(v) for v in entry.get("versions") or []]:
            return True
        if _in_ranges(parsed, entry.get("ranges") or []):
            return True
    return False


def fixed_versions(advisory: dict[str, Any]) -> tuple[str, ...]:
    """Versions that fix the advisory (from its ECOSYSTEM ranges)."""
    return tuple(
        str(event["fixed"])
        for entry in advisory.get("affected") or []
        for r in entry.get("ranges") or []
        if r.get("type") == "ECOSYSTEM"
        for event in r.get("events") or []
        if "fixed" in event
    )


def audit(pins: dict[str, str], database: Path) -> Iterator[Finding]:
    """Every advisory of ``database`` that affects a pinned version."""
    for package, version in sorted(pins.items()):
        directory = database / "vulns" / package
        for path in sorted(directory.glob("*.yaml")) if directory.is_dir() else []:
            advisory = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            if advisory.get("withdrawn") or not affects(advisory, package, version):
                continue
            text = str(advisory.get("summary") or advisory.get("details") or "")
            yield Finding(
                package=package,
                version=version,
                advisory=str(advisory.get("id", path.stem)),
                aliases=tuple(str(a) for a in advisory.get("aliases") or []),
                fixed=fixed_versions(advisory),
                summary=" ".join(text.split())[:160],
            )


def main(argv: Sequence[str] | None = None) -> int:
    """Print the findings; 1 when there is one, 0 otherwise."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=Path, help="checkout of pypa/advisory-database")
    parser.add_argument("--lock", type=Path, default=ROOT / "requirements.lock")
    args = parser.parse_args(argv)
    if not (args.database / "vulns").is_dir():
        parser.error(f"{args.database} has no vulns/ directory")
    pins = pinned(args.lock)
    findings = list(audit(pins, args.database))
    for f in findings:
        fixed = ", ".join(f.fixed) or "none"
        aliases = ", ".join(f.aliases)
        print(f"{f.package}=={f.version}  {f.advisory} ({aliases})  fixed in: {fixed}")
        print(f"    {f.summary}")
    print(f"{len(pins)} pinned packages, {len(findings)} advisories affect a pinned version.")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
