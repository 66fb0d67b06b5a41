"""How fast is ``make review`` on a tracker store with 5,000 conversations?

    .venv/bin/python bench/review_speed.py [--conversations 5000] [--db /tmp/x.db] [--keep]

Builds a SQLite tracker store with Rasa's own ``SQLTrackerStore`` (so the schema and the
stored events are exactly Rasa's), filled with WhatsApp and SMS conversations of 3-6 user
turns each (session start, user messages with a full intent ranking, slot, bot utterances,
as Rasa logs them), about 1 in 5 user messages uncertain. Then it runs ``make review``'s
command (``scripts/review.py``, a fresh process, so start-up is included) and prints the
wall time. Record results in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.machine import machine_facts
from bench.stats import median

ROOT = Path(__file__).resolve().parent.parent

# The intents a ranking can name: the domain's, without the channel's media events (send_*).
INTENTS = [
    intent
    for intent in yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["intents"]
    if not str(intent).startswith("send_")
]
PHRASES = [
    "gak bisa login",
    "lupa password akun penyedia",
    "user id saya lupa pak",
    "muncul java script error pas login",
    "data tidak tersinkronisasi",
    "ppk pindah satker",
    "paket pindah ke ppk baru gimana",
    "integrasi sikap gagal terus",
    "minta nomor helpdesk",
    "halo",
    "makasih",
    "sudah bisa",
    "belum bisa",
    "cara daftar akun baru di lpse",
    "verifikasi berkas dimana ya",
    "dokumen tender tidak bisa diupload",
    "apa itu agregasi",
]
FILLERS = ["", " pak", " bu", " min", " tolong", " ya", " dong", " segera", " lagi", " nih"]


def parse_data(text: str, rng: random.Random) -> dict[str, Any]:
    """Rasa's parse data with a full ranking; about 1 in 5 messages uncertain."""
    ranking_names = rng.sample(INTENTS, 10)
    roll = rng.random()
    top = rng.uniform(0.85, 0.99) if roll > 0.2 else rng.uniform(0.3, 0.69)
    rest = [(1 - top) * w for w in sorted((rng.random() for _ in range(9)), reverse=True)]
    total = sum(rest) or 1.0
    ranking = [{"name": ranking_names[0], "confidence": top}] + [
        {"name": n, "confidence": (1 - top) * c / total}
        for n, c in zip(ranking_names[1:], rest, strict=True)
    ]
    intent = dict(ranking[0])
    if roll < 0.08:  # FallbackClassifier: nlu_fallback on top, the model's guess below
        fallback = {"name": "nlu_fallback", "confidence": 0.5}
        ranking = [fallback] + ranking
        intent = fallback
    return {
        "text": text,
        "intent": intent,
        "entities": [],
        "intent_ranking": ranking,
        "message_id": f"SM{rng.getrandbits(128):032x}",
        "metadata": {},
    }


def conversation_events(index: int, rng: random.Random) -> list[Any]:
    """The events Rasa logs for one conversation."""
    from rasa.shared.core.events import (
        ActionExecuted,
        BotUttered,
        SessionStarted,
        SlotSet,
        UserUttered,
    )

    whatsapp = index % 3 != 0
    start = time.time() - rng.uniform(0, 30 * 86400)
    events: list[Any] = [
        ActionExecuted("action_session_start", timestamp=start),
        SessionStarted(timestamp=start),
        ActionExecuted("action_listen", timestamp=start),
    ]
    for turn in range(rng.randint(3, 6)):
        moment = start + turn * 40
        suffix = f" {index}" if rng.random() < 0.3 else ""
        text = rng.choice(PHRASES) + rng.choice(FILLERS) + suffix
        data = parse_data(text, rng)
        metadata = {"twilio": {"medium": "whatsapp" if whatsapp else "sms", "num_media": 0}}
        events.append(
            UserUttered(
                text,
                data["intent"],
                [],
                data,
                timestamp=moment,
                input_channel="twilio",
                message_id=data["message_id"],
                metadata=metadata,
            )
        )
        events.append(SlotSet("topic", data["intent"]["name"], timestamp=moment))
        events.append(ActionExecuted("utter_answer_login_problem", timestamp=moment + 0.1))
        events.append(
            BotUttered(
                "Silakan login kembali dengan User ID dan password yang benar. " * 3,
                {"elements": None, "buttons": None},
                {"utter_action": "utter_answer_login_problem"},
                timestamp=moment + 0.1,
            )
        )
        events.append(ActionExecuted("action_listen", timestamp=moment + 0.2))
    return events


async def build_store(path: Path, conversations: int, seed: int = 6) -> int:
    """Fill a SQLite tracker store at ``path`` through Rasa's SQLTrackerStore."""
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker
    from sqlalchemy import event

    domain = Domain.load(str(ROOT / "domain.yml"))
    store = SQLTrackerStore(domain, dialect="sqlite", db=str(path))

    # Only the generation is sped up (no fsync per conversation); the review reads as usual.
    @event.listens_for(store.engine, "connect")
    def _fast(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.execute("PRAGMA synchronous=OFF")

    store.engine.dispose()
    rng = random.Random(seed)
    count = 0
    for index in range(conversations):
        prefix = "whatsapp:+62812" if index % 3 else "+62813"
        sender = f"{prefix}{index:07d}"
        tracker = DialogueStateTracker.from_events(
            sender, conversation_events(index, rng), domain.slots
        )
        await store.save(tracker)
        count += sum(1 for e in tracker.events if e.type_name == "user")
    return count


async def time_rasa_trackers(path: Path, count: int) -> float:
    """Seconds to load ``count`` conversations through Rasa's tracker store."""
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain

    store = SQLTrackerStore(Domain.load(str(ROOT / "domain.yml")), dialect="sqlite", db=str(path))
    keys = list(await store.keys())[:count]
    started = time.perf_counter()
    for key in keys:
        await store.retrieve(key)
    return time.perf_counter() - started


def main() -> int:
    """Build the store (unless it exists) and time the review command."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=5000)
    parser.add_argument("--db", type=Path, help="store to use or create (default: a temp file)")
    parser.add_argument("--keep", action="store_true", help="keep the temp store")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--compare-rasa",
        type=int,
        default=0,
        metavar="N",
        help="also time loading N conversations as Rasa trackers, for contrast",
    )
    args = parser.parse_args()
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

    workdir = Path(tempfile.mkdtemp(prefix="lpse-review-bench-"))
    db = args.db or workdir / "tracker.db"
    if not db.exists():
        started = time.perf_counter()
        messages = asyncio.run(build_store(db, args.conversations))
        print(
            f"built {db}: {args.conversations} conversations, {messages} user messages, "
            f"{db.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - started:.0f} s"
        )

    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTGRES_")}
    env.update(TRACKER_DB=str(db), TRACKER_DB_DIALECT="sqlite")
    times = []
    for run in range(args.runs):
        out = workdir / f"review-{run}.yml"
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "review.py"), "--out", str(out)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            print(done.stdout, done.stderr)
            return 1
        print(done.stdout.strip())
    facts = machine_facts()
    print(
        f"make review on {args.conversations} conversations: best {min(times):.2f} s, "
        f"median {median(times):.2f} s over {len(times)} runs "
        f"(whole command incl. Python start-up; {facts['cores']} cores, {facts['cpu']}, "
        f"Python {facts['python']})"
    )
    if args.compare_rasa:
        seconds = asyncio.run(time_rasa_trackers(db, args.compare_rasa))
        print(
            f"for contrast, Rasa's SQLTrackerStore.retrieve: {args.compare_rasa} "
            f"conversations in {seconds:.1f} s, about {seconds / args.compare_rasa * 5000:.0f} s "
            "for 5,000 (before any review work)"
        )
    if not args.keep and args.db is None:
        for path in workdir.iterdir():
            path.unlink()
        workdir.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
