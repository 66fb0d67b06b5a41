"""``make review`` on a small real tracker store written by Rasa's own SQLTrackerStore."""

from __future__ import annotations

import asyncio
import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from lpse_assist.review import apply_labels, best_guess, review_database

ROOT = Path(__file__).resolve().parents[2]
WA_USER = "whatsapp:+6281234567890"
SMS_USER = "+6285712345678"


def said(text: str, intent: str, confidence: float, runner_up: str | None = None) -> Any:
    """A user message as Rasa logs it (FallbackClassifier's shape when intent is nlu_fallback)."""
    ranking: list[dict[str, Any]] = [{"name": intent, "confidence": confidence}]
    if runner_up:
        ranking.append({"name": runner_up, "confidence": 0.31})
    ranking.append({"name": "greet", "confidence": 0.01})
    parse = {"text": text, "intent": ranking[0], "entities": [], "intent_ranking": ranking}
    return UserUttered(text, ranking[0], [], parse, input_channel="twilio")


def conversation(sender: str, *messages: Any) -> DialogueStateTracker:
    events: list[Any] = [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
    ]
    for message in messages:
        events += [
            message,
            ActionExecuted("utter_greet"),
            BotUttered("ok"),
            ActionExecuted("action_listen"),
        ]
    return DialogueStateTracker.from_events(sender, events)


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("review") / "tracker.db"
    domain = Domain.load(str(ROOT / "domain.yml"))
    store = SQLTrackerStore(domain, dialect="sqlite", db=str(path))
    trackers = [
        conversation(
            WA_USER,
            said("gak bisa login", "login_problem", 0.97),  # sure: not reviewed
            said("akun sy kekunci", "login_problem", 0.42),  # unsure
            said("/deny", "deny", 1.0),  # a tapped option: not typed, not reviewed
            said("cara daftar dapodik", "nlu_fallback", 0.5, runner_up="out_of_scope"),
        ),
        conversation(
            SMS_USER,
            said("Akun sy  kekunci", "forgot_password", 0.38),  # same text, other sender
            said("tlg telp sy di 0812-3456-7890", "contact_support", 0.55),
        ),
    ]

    async def save_all() -> None:
        for tracker in trackers:
            await store.save(tracker)

    # A private loop: asyncio.run would reset the thread's event loop under pytest-asyncio.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(save_all())
    finally:
        loop.close()
    store.engine.dispose()
    return path


def run_review(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTGRES_")}
    env.update(TRACKER_DB=str(store), TRACKER_DB_DIALECT="sqlite")
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "review.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_best_guess_looks_past_the_fallback() -> None:
    parse = {
        "intent": {"name": "nlu_fallback", "confidence": 0.5},
        "intent_ranking": [
            {"name": "nlu_fallback", "confidence": 0.5},
            {"name": "sikap_integration_failed", "confidence": 0.44},
        ],
    }
    assert best_guess(parse) == ("sikap_integration_failed", 0.44, True)
    assert best_guess({"intent": {"name": "greet", "confidence": 0.9}}) == ("greet", 0.9, False)


def test_review_file_lists_the_uncertain_messages_masked(store_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "review.yml"
    done = run_review(store_path, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "6 user messages in 2 conversations, 3 to review" in done.stdout
    items = yaml.safe_load(out.read_text(encoding="utf-8"))["items"]
    by_text = {item["text"].lower(): item for item in items}
    assert set(by_text) == {"cara daftar dapodik", "akun sy kekunci", "tlg telp sy di 0812****90"}

    fallback = by_text["cara daftar dapodik"]
    assert (fallback["predicted"], fallback["fallback"]) == ("out_of_scope", True)
    assert fallback["senders"] == ["whatsapp:+62812****7890"]

    repeated = by_text["akun sy kekunci"]
    assert repeated["count"] == 2
    assert repeated["predicted"] == "forgot_password" and repeated["confidence"] == 0.38
    assert sorted(repeated["senders"]) == ["+62857****5678", "whatsapp:+62812****7890"]
    assert all(item["label"] == "" for item in items)
    assert "6281234567890" not in out.read_text() and "3456-7890" not in out.read_text()


def test_threshold_and_csv(store_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "review.csv"
    assert (
        run_review(
            store_path, "--threshold", "0.4", "--format", "csv", "--out", str(out)
        ).returncode
        == 0
    )
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    # Only the fallback and the 0.38 message are below 0.40.
    assert sorted(r["text"].lower() for r in rows) == ["akun sy kekunci", "cara daftar dapodik"]


def test_direct_call_counts_conversations(store_path: Path) -> None:
    result = review_database(f"sqlite:///{store_path}", threshold=0.99)
    assert (result.user_messages, result.conversations) == (6, 2)
    assert len(result.items) == 4  # every typed text (the tapped option is never reviewed)


def test_labelled_items_move_into_the_nlu_data(store_path: Path, tmp_path: Path) -> None:
    nlu = tmp_path / "nlu"
    shutil.copytree(ROOT / "data" / "nlu", nlu)
    before = {p.name: p.read_text(encoding="utf-8") for p in nlu.glob("*.yml")}
    out = tmp_path / "review.yml"
    assert run_review(store_path, "--out", str(out)).returncode == 0
    text = out.read_text(encoding="utf-8")
    text = text.replace(
        '  - text: "cara daftar dapodik"\n    label: ""',
        '  - text: "cara daftar dapodik"\n    label: out_of_scope',
        1,
    )
    text = text.replace('label: ""', "label: login_problem", 1)  # first remaining item
    out.write_text(text, encoding="utf-8")

    added, problems = apply_labels(out, nlu)
    assert added == 2 and problems == []
    labelled = yaml.safe_load(text)["items"]
    login_text = next(i["text"] for i in labelled if i["label"] == "login_problem")
    for name, old in before.items():
        new = (nlu / name).read_text(encoding="utf-8")
        old_lines, new_lines = old.splitlines(), iter(new.splitlines())
        assert all(line in new_lines for line in old_lines), f"{name} lost or moved lines"
    examples = {
        block["intent"]: block["examples"]
        for path in nlu.glob("*.yml")
        for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]
        if "intent" in block
    }
    assert "- cara daftar dapodik\n" in examples["out_of_scope"]
    assert f"- {login_text}\n" in examples["login_problem"]

    again, problems = apply_labels(out, nlu)
    assert again == 0 and len(problems) == 2  # already examples now
