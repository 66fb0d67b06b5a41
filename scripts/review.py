"""Trainers: the user messages the model was unsure about, ready to label (``make review``).

    scripts/review.py [--threshold 0.7] [--days 30] [--format yml|csv] [--out FILE]
    scripts/review.py apply review/review-20261124-103000.yml

Reads the tracker store (``TRACKER_DB`` for SQLite; ``POSTGRES_*`` in production) and writes
``review/review-<time>.yml``. ``apply`` adds the labelled texts to ``data/nlu/``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from lpse_assist.review import (
    DEFAULT_THRESHOLD,
    apply_labels,
    default_output,
    review_database,
    summary,
    write_csv,
    write_yaml,
)
from lpse_assist.settings import ticket_settings, tracker_db_settings
from lpse_assist.tickets import local_zone

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``make review``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["apply"]:
        parser = argparse.ArgumentParser(prog="make review ARGS='apply'")
        parser.add_argument("command")
        parser.add_argument("file", type=Path)
        parser.add_argument("--nlu-dir", type=Path, default=ROOT / "data" / "nlu")
        args = parser.parse_args(argv)
        added, problems = apply_labels(args.file, args.nlu_dir)
        for problem in problems:
            print(f"review: {problem}")
        print(f"review: {added} example(s) added to {args.nlu_dir}; now run `make validate`")
        return 0

    parser = argparse.ArgumentParser(prog="make review", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help=f"review messages below this confidence (default {DEFAULT_THRESHOLD})",
    )
    parser.add_argument("--days", type=float, help="only messages of the last N days")
    parser.add_argument("--format", choices=["yml", "csv"], default="yml")
    parser.add_argument("--out", type=Path, help="output file (default review/review-<time>.yml)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    database = tracker_db_settings()
    zone = local_zone(ticket_settings().timezone)
    if database.dialect == "sqlite" and not Path(database.url.split("///", 1)[1]).exists():
        print(f"review: no tracker store at {database.describe()} (no conversations yet)")
        return 0
    since = time.time() - args.days * 86400 if args.days else None
    result = review_database(database.url, args.threshold, since)
    out = args.out or default_output(ROOT / "review", args.format, zone)
    if args.format == "csv":
        write_csv(result, out, zone)
    else:
        write_yaml(result, out, database.describe(), zone)
    print(summary(result, out, time.perf_counter() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
