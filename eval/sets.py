"""The held-out test sets, read from one manifest (tests/nlu/sets.yml), and the data they hold.

The manifest is the only list of sets: the harness scores what it names, in its order, and the
table in tests/nlu/README.md is generated from it:

    python -m eval.sets --readme     # rewrite the table (make nlu-sets-table)
    python -m eval.sets --check      # exit 1 when the README's table is out of date
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from eval.metrics import add_typos

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "tests" / "nlu" / "sets.yml"
README = ROOT / "tests" / "nlu" / "README.md"
TABLE_START = "<!-- sets table: generated from sets.yml by `make nlu-sets-table`; do not edit -->"
TABLE_END = "<!-- end of sets table -->"

Example = tuple[str, str]  # (text, intent)


@dataclass(frozen=True)
class TestSet:
    """A held-out file (never trained on), or its copy with random typos."""

    key: str
    title: str
    path: str
    typos: bool = False
    # Written by the team and looked at while the training data grew: figures are optimistic.
    seen: bool = False


@dataclass(frozen=True)
class Goal:
    """One of the issue's targets for ours: `metric` (a Scores attribute) ≥ `minimum`."""

    set: str
    metric: str
    minimum: float


@dataclass(frozen=True)
class Manifest:
    """Every test set in the report's order (typo copies after their set), the set of the
    per-intent table (`main`), the public set of the threshold table, and the goals."""

    sets: list[TestSet]
    main: str
    public: str
    goals: list[Goal] = field(default_factory=list)
    # README table rows: (file, written by, seen by the team?), one per file.
    rows: list[tuple[str, str, str]] = field(default_factory=list, compare=False)

    @property
    def titles(self) -> dict[str, str]:
        """Title of every data set of a run by key, CV first."""
        return {"cv": "k-fold CV on data/nlu", **{t.key: t.title for t in self.sets}}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: a results file keeps the sets it was run on (`from_dict` reads it)."""
        return {
            "sets": [asdict(t) for t in self.sets],
            "main": self.main,
            "public": self.public,
            "goals": [asdict(g) for g in self.goals],
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Manifest:
        return cls(
            sets=[TestSet(**t) for t in raw["sets"]],
            main=raw["main"],
            public=raw["public"],
            goals=[Goal(**g) for g in raw["goals"]],
        )


def set_titles(name: str, kind: str, seen: bool) -> tuple[str, str]:
    """Titles of a set and of its typo copy: headline sets plain, dev sets marked."""

    def title(extra: str) -> str:
        if seen:
            return f"dev: {name}{extra} (seen)"
        return f"held-out informal, {name}{extra}" if kind == "informal" else f"{name}{extra}"

    return title(""), title(", random typos")


def read_manifest(path: Path = MANIFEST) -> Manifest:
    """The manifest at `path`; a set of kind `informal` also gets its typo copy."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    folder = path.parent.relative_to(ROOT) if path.is_relative_to(ROOT) else path.parent
    sets: list[TestSet] = []
    rows: list[tuple[str, str, str]] = []
    for entry in raw["sets"]:
        kind, seen = entry["kind"], bool(entry["seen"])
        if kind not in ("informal", "public"):
            raise ValueError(f"{path}: set {entry['key']}: kind must be informal or public")
        title, typo_title = set_titles(entry["name"], kind, seen)
        file = f"{folder}/{entry['file']}"
        sets.append(TestSet(entry["key"], title, file, seen=seen))
        if kind == "informal":
            sets.append(TestSet(f"{entry['key']}-typos", typo_title, file, typos=True, seen=seen))
        rows.append((entry["file"], entry["written_by"], entry["history"]))
    keys = [t.key for t in sets]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{path}: a key is used twice")
    goals = [Goal(g["set"], g["metric"], float(g["minimum"])) for g in raw.get("goals") or []]
    for name in (raw["main"], raw["public"], *(g.set for g in goals)):
        if name not in keys:
            raise ValueError(f"{path}: {name!r} is not a set of the manifest")
    return Manifest(sets, raw["main"], raw["public"], goals, rows)


# ----------------------------------------------------------------------------- data


def load_examples(path: Path) -> list[Example]:
    """(text, intent) of every NLU example under `path` (file or folder)."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    return [
        (m.get("text"), m.get("intent"))
        for m in data.intent_examples
        if m.get("text") and m.get("intent")
    ]


def load_test_sets(seed: int, manifest: Manifest | None = None) -> dict[str, Sequence[Example]]:
    """Every held-out set of the manifest by key; typo copies get seeded random typos."""
    tests: dict[str, Sequence[Example]] = {}
    for test_set in (manifest or read_manifest()).sets:
        examples = load_examples(ROOT / test_set.path)
        if test_set.typos:
            examples = [(add_typos(text, f"{seed}:{text}"), i) for text, i in examples]
        tests[test_set.key] = examples
    return tests


def training_overlaps(
    training: Sequence[Example],
    tests: dict[str, Sequence[Example]],
    manifest: Manifest | None = None,
) -> str:
    """How many messages of each clean held-out set also occur word for word in the training
    data (short small talk does: outside writers type `ok` too); the figures include them."""
    known = {text.strip().lower() for text, _ in training}
    counts = [
        f"{t.key} {sum(text.strip().lower() in known for text, _ in tests[t.key])}"
        f"/{len(tests[t.key])}"
        for t in (manifest or read_manifest()).sets
        if not t.typos and t.key in tests
    ]
    return ", ".join(counts)


# ----------------------------------------------------------------------------- README table


def readme_table(manifest: Manifest) -> str:
    """The README's table of sets, one row per file, in the manifest's order."""
    lines = [
        "| file | written by | seen by the team while the training data grew? |",
        "|---|---|---|",
    ]
    lines += [f"| `{file}` | {written} | {history} |" for file, written, history in manifest.rows]
    return "\n".join(lines)


def with_table(readme: str, table: str) -> str:
    """`readme` with the text between the table markers replaced by `table`."""
    start, end = readme.find(TABLE_START), readme.find(TABLE_END)
    if start < 0 or end < start:
        raise ValueError(f"README: the markers {TABLE_START!r} and {TABLE_END!r} are missing")
    return readme[: start + len(TABLE_START)] + "\n" + table + "\n" + readme[end:]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The held-out sets' table in the README.")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--readme", action="store_true", help=f"rewrite the table in {README}")
    what.add_argument("--check", action="store_true", help="exit 1 if the table is out of date")
    args = parser.parse_args(argv)
    current = README.read_text(encoding="utf-8")
    wanted = with_table(current, readme_table(read_manifest()))
    if args.check:
        if wanted != current:
            print(f"{README}: the sets table differs from {MANIFEST}; run make nlu-sets-table")
            return 1
        return 0
    if wanted != current:
        README.write_text(wanted, encoding="utf-8")
        print(f"{README}: table rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
