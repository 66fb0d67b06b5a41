"""Conversation review: the user messages the model was unsure about, ready to label.

``make review`` reads Rasa's SQL tracker store (table ``events``) directly with SQLAlchemy,
streaming the user events in batches (no Rasa tracker objects: building thousands of
trackers is what makes Rasa's own tools slow), and writes a YAML (or CSV) file under
``review/`` listing each message whose intent confidence was below a threshold or that went
to ``nlu_fallback``: the text (phone numbers typed in it masked), the intent the model would
have picked, its confidence, how often it was sent, and the masked senders. A trainer fills
in ``label:`` and moves the text into ``data/nlu/`` (see docs/training.md).

Button payloads (``/intent``) and inputs without words are not reviewed: the user did not
type them.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, create_engine, select
from sqlalchemy.engine import Engine

from lpse_assist.privacy import mask_numbers_in_text, mask_phone

FALLBACK_INTENT = "nlu_fallback"
DEFAULT_THRESHOLD = 0.7
# Rows fetched per round trip; the data column is a few kB of JSON per user event.
BATCH_SIZE = 2000
# Senders listed per item (a message sent by hundreds of people needs no full list).
MAX_SENDERS_PER_ITEM = 5

# Rasa's SQLTrackerStore table, only the columns read here (no reflection: one less query).
_events = Table(
    "events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("type_name", String(255)),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("data", Text),
)


@dataclass
class ReviewItem:
    """One distinct message text the model was unsure about."""

    text: str
    predicted: str
    confidence: float
    fallback: bool
    count: int = 1
    senders: list[str] = field(default_factory=list)
    first_seen: float = 0.0
    last_seen: float = 0.0


@dataclass
class ReviewResult:
    """What one review found."""

    items: list[ReviewItem]
    user_messages: int
    conversations: int
    threshold: float


def best_guess(parse_data: dict[str, Any]) -> tuple[str, float, bool]:
    """``(intent, confidence, fell_back)``: with ``nlu_fallback``, the model's runner-up."""
    intent = parse_data.get("intent") or {}
    name = str(intent.get("name") or "")
    confidence = float(intent.get("confidence") or 0.0)
    if name != FALLBACK_INTENT:
        return name, confidence, False
    for ranked in parse_data.get("intent_ranking") or []:
        if ranked.get("name") and ranked.get("name") != FALLBACK_INTENT:
            return str(ranked["name"]), float(ranked.get("confidence") or 0.0), True
    return "", 0.0, True


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def iter_user_rows(engine: Engine, since: float | None = None) -> Iterator[tuple[str, float, str]]:
    """``(sender_id, timestamp, data)`` of every user event, streamed in batches."""
    query = select(_events.c.sender_id, _events.c.timestamp, _events.c.data).where(
        _events.c.type_name == "user"
    )
    if since is not None:
        query = query.where(_events.c.timestamp >= since)
    with engine.connect() as conn:
        # stream_results: a server-side cursor on PostgreSQL, so memory stays flat.
        result = conn.execution_options(stream_results=True, yield_per=BATCH_SIZE).execute(query)
        for partition in result.partitions(BATCH_SIZE):
            for sender_id, timestamp, data in partition:
                yield sender_id, timestamp or 0.0, data


def review(
    rows: Iterable[tuple[str, float, str]], threshold: float = DEFAULT_THRESHOLD
) -> ReviewResult:
    """Collect the uncertain messages of ``rows`` (see ``iter_user_rows``)."""
    items: dict[str, ReviewItem] = {}
    senders_seen: set[str] = set()
    user_messages = 0
    loads = json.loads
    for sender_id, timestamp, data in rows:
        senders_seen.add(sender_id)
        user_messages += 1
        try:
            event = loads(data)
        except (TypeError, ValueError):
            continue
        text = event.get("text")
        if not isinstance(text, str) or not text.strip() or text.startswith("/"):
            continue
        predicted, confidence, fallback = best_guess(event.get("parse_data") or {})
        if not fallback and confidence >= threshold:
            continue
        key = _normalise(text)
        masked_sender = mask_phone(sender_id)
        item = items.get(key)
        if item is None:
            items[key] = ReviewItem(
                text=mask_numbers_in_text(_one_line(text)),
                predicted=predicted,
                confidence=confidence,
                fallback=fallback,
                senders=[masked_sender],
                first_seen=timestamp,
                last_seen=timestamp,
            )
            continue
        item.count += 1
        item.fallback = item.fallback or fallback
        if confidence < item.confidence:
            item.predicted, item.confidence = predicted, confidence
        if masked_sender not in item.senders and len(item.senders) < MAX_SENDERS_PER_ITEM:
            item.senders.append(masked_sender)
        item.first_seen = min(item.first_seen, timestamp)
        item.last_seen = max(item.last_seen, timestamp)
    ordered = sorted(
        items.values(), key=lambda i: (not i.fallback, i.predicted, -i.count, i.confidence)
    )
    return ReviewResult(ordered, user_messages, len(senders_seen), threshold)


def review_database(
    url: str, threshold: float = DEFAULT_THRESHOLD, since: float | None = None
) -> ReviewResult:
    """Review the tracker store at ``url`` (an SQLAlchemy URL)."""
    engine = create_engine(url, future=True)
    try:
        return review(iter_user_rows(engine, since), threshold)
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- output


def _time(timestamp: float, zone: tzinfo) -> str:
    if not timestamp:
        return ""
    return (
        datetime.fromtimestamp(timestamp, tz=timezone.utc)
        .astimezone(zone)
        .strftime("%Y-%m-%d %H:%M %Z")
    )


def _quote(text: str) -> str:
    # JSON strings are valid YAML double-quoted scalars: safe for any user text.
    return json.dumps(text, ensure_ascii=False)


def write_yaml(result: ReviewResult, path: Path, source: str, zone: tzinfo) -> None:
    """The review file trainers label (YAML, one entry per distinct message)."""
    fallback_count = sum(1 for i in result.items if i.fallback)
    now = datetime.now(timezone.utc).astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    lines = [
        f"# LPSE Assist conversation review, {now}",
        f"# Source: {source}",
        f"# {result.user_messages} user messages in {result.conversations} conversations; "
        f"{len(result.items)} distinct messages to review ({fallback_count} went to the "
        f"fallback, the rest had confidence below {result.threshold:.2f}).",
        "#",
        "# How to label: set `label:` to the intent the message should get (a name from the",
        "# `intents:` list of domain.yml, or out_of_scope), leave it empty to skip. Then add",
        "# the text as an example under that intent in data/nlu/ and run `make validate`.",
        "# `predicted` is what the model would have answered, `confidence` how sure it was.",
        "# Phone numbers are masked. Do not commit this file (review/ is ignored by git).",
        "threshold: " + f"{result.threshold:.2f}",
        "items:" if result.items else "items: []",
    ]
    for item in result.items:
        lines.extend(
            [
                f"  - text: {_quote(item.text)}",
                '    label: ""',
                f"    predicted: {item.predicted or 'null'}",
                f"    confidence: {item.confidence:.3f}",
                f"    fallback: {'true' if item.fallback else 'false'}",
                f"    count: {item.count}",
                "    senders: [" + ", ".join(_quote(s) for s in item.senders) + "]",
                f"    last_seen: {_quote(_time(item.last_seen, zone))}",
            ]
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


CSV_COLUMNS = (
    "text",
    "label",
    "predicted",
    "confidence",
    "fallback",
    "count",
    "senders",
    "last_seen",
)


def write_csv(result: ReviewResult, path: Path, zone: tzinfo) -> None:
    """The same review as CSV (for a spreadsheet)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for item in result.items:
            writer.writerow(
                [
                    item.text,
                    "",
                    item.predicted,
                    f"{item.confidence:.3f}",
                    "yes" if item.fallback else "no",
                    item.count,
                    " ".join(item.senders),
                    _time(item.last_seen, zone),
                ]
            )


def default_output(directory: Path, fmt: str, zone: tzinfo) -> Path:
    """``review/review-YYYYMMDD-HHMMSS.yml`` (or ``.csv``)."""
    stamp = datetime.now(timezone.utc).astimezone(zone).strftime("%Y%m%d-%H%M%S")
    return directory / f"review-{stamp}.{'csv' if fmt == 'csv' else 'yml'}"


def summary(result: ReviewResult, path: Path, seconds: float) -> str:
    """One line for the terminal."""
    return (
        f"review: {result.user_messages} user messages in {result.conversations} "
        f"conversations, {len(result.items)} to review -> {path} ({seconds:.1f} s)"
    )


def load_labelled(path: Path) -> list[tuple[str, str]]:
    """``(label, text)`` of every labelled item of a YAML review file."""
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    pairs = []
    for item in data.get("items") or []:
        label = str(item.get("label") or "").strip()
        text = str(item.get("text") or "").strip()
        if label and text:
            pairs.append((label, text))
    return pairs


def nlu_files_by_intent(nlu_dir: Path) -> dict[str, Path]:
    """Which file of ``data/nlu`` holds each intent's examples."""
    import yaml

    found: dict[str, Path] = {}
    for path in sorted(nlu_dir.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu") or []:
            if isinstance(block, dict) and "intent" in block:
                found.setdefault(str(block["intent"]), path)
    return found


def apply_labels(review_file: Path, nlu_dir: Path) -> tuple[int, list[str]]:
    """Add every labelled text as an example of its intent in ``data/nlu``.

    Returns ``(examples added, problems)``; a label that is no intent with examples, or a
    text that is already an example, is reported and skipped. Comments and layout of the
    NLU files are kept (ruamel.yaml round trip).
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.scalarstring import LiteralScalarString

    files = nlu_files_by_intent(nlu_dir)
    problems: list[str] = []
    by_file: dict[Path, list[tuple[str, str]]] = {}
    for label, text in load_labelled(review_file):
        if label not in files:
            problems.append(f"no intent {label!r} in {nlu_dir}: skipped {text!r}")
            continue
        by_file.setdefault(files[label], []).append((label, text))
    added = 0
    yaml = YAML()
    yaml.preserve_quotes = True  # type: ignore[assignment]
    yaml.width = 4096  # type: ignore[assignment]
    # Rasa's NLU file layout: "- intent:" flush under "nlu:", examples as a literal block.
    yaml.indent(mapping=2, sequence=2, offset=0)
    for path, pairs in by_file.items():
        data = yaml.load(path.read_text(encoding="utf-8"))
        blocks = {b["intent"]: b for b in data["nlu"] if "intent" in b}
        existing_all = {
            _normalise(line.strip()[2:])
            for b in blocks.values()
            for line in str(b.get("examples") or "").splitlines()
            if line.strip().startswith("- ")
        }
        for label, text in pairs:
            if _normalise(text) in existing_all:
                problems.append(f"already an example: {text!r}")
                continue
            block = blocks[label]
            examples = str(block.get("examples") or "")
            if examples and not examples.endswith("\n"):
                examples += "\n"
            block["examples"] = LiteralScalarString(f"{examples}- {_one_line(text)}\n")
            existing_all.add(_normalise(text))
            added += 1
        with path.open("w", encoding="utf-8") as handle:
            yaml.dump(data, handle)
    return added, problems


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def uncertain_count(items: Sequence[ReviewItem]) -> int:
    """How many messages (not distinct texts) the items stand for."""
    return sum(item.count for item in items)
