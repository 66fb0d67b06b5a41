"""Tickets and the conversation review on PostgreSQL, the production tracker store.

A real PostgreSQL from the Debian package, started in a temporary directory by the
deployment tests' ``Topology`` helper; the settings come from the same ``POSTGRES_*``
variables as ``endpoints.production.yml``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from lpse_assist.notice import NoticeStore, notice_store, reset_notice_store
from lpse_assist.settings import reset_settings_cache, tracker_db_settings
from lpse_assist.tickets import reset_ticket_services, ticket_store
from lpse_assist.twilio_local import LocalTwilio
from tests.deploy.topology import MissingBinariesError, Topology
from tests.lpse_assist.test_ticket_floods import CEILING, HELPDESK, flood
from tests.lpse_assist.test_tickets import use_standin
from tests.lpse_assist.ticket_race import race_for_one_conversation, race_for_references

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def postgres() -> Iterator[Topology]:
    workdir = Path(tempfile.mkdtemp(prefix="lpse-pg-tickets-"))
    try:
        topology = Topology(workdir, replicas=0)
    except MissingBinariesError as error:
        shutil.rmtree(workdir, ignore_errors=True)
        pytest.skip(str(error))
    topology.start_postgres()
    try:
        yield topology
    finally:
        topology.stop_postgres()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture()
def pg_env(postgres: Topology, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    env = {
        "POSTGRES_HOST": "127.0.0.1",
        "POSTGRES_PORT": str(postgres.postgres_port),
        "POSTGRES_DB": postgres.db_name,
        "POSTGRES_USER": postgres.db_user,
        "POSTGRES_PASSWORD": postgres.db_password,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TRACKER_DB_DIALECT", raising=False)
    reset_settings_cache()
    reset_ticket_services()
    yield env
    reset_ticket_services()
    reset_settings_cache()


def test_settings_follow_the_production_profile(pg_env: dict[str, str]) -> None:
    settings = tracker_db_settings()
    assert settings.dialect == "postgresql"
    assert settings.url.startswith("postgresql+psycopg2://lpse:")
    assert pg_env["POSTGRES_PASSWORD"] not in settings.describe()


def test_concurrent_tickets_on_postgres(pg_env: dict[str, str]) -> None:
    url = tracker_db_settings().url
    ticket_store().ensure_schema()
    references = race_for_references(url, prefix="pg-")
    again, created = ticket_store().create(
        key="pg-0-0", topic="t", channel="sms", sender_masked="x", last_messages=[]
    )
    assert not created and again.reference in references


def test_one_open_ticket_per_conversation_on_postgres(pg_env: dict[str, str]) -> None:
    url = tracker_db_settings().url
    ticket_store().ensure_schema()
    reference = race_for_one_conversation(url, "whatsapp:+6281299990001")
    ticket_store().close(reference)
    again, created = ticket_store().create(
        key="pg-after-close",
        topic="t",
        channel="whatsapp",
        sender_masked="x",
        last_messages=[],
        conversation_id="whatsapp:+6281299990001",
    )
    assert created and again.reference != reference


async def test_500_senders_in_a_minute_on_postgres(
    pg_env: dict[str, str], standin: LocalTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPDESK_NOTIFY_PER_HOUR", str(CEILING))
    use_standin(monkeypatch, standin, HELPDESK)
    await flood(standin, 500)


def test_review_reads_rasa_events_from_postgres(
    postgres: Topology, pg_env: dict[str, str], tmp_path: Path
) -> None:
    store = SQLTrackerStore(
        Domain.load(str(ROOT / "domain.yml")),
        dialect="postgresql",
        host="127.0.0.1",
        port=postgres.postgres_port,
        db=postgres.db_name,
        username=postgres.db_user,
        password=postgres.db_password,
    )
    parse = {
        "text": "akun sy kekunci",
        "intent": {"name": "login_problem", "confidence": 0.3},
        "entities": [],
        "intent_ranking": [{"name": "login_problem", "confidence": 0.3}],
    }
    tracker = DialogueStateTracker.from_events(
        "whatsapp:+6281234567890",
        [
            ActionExecuted("action_session_start"),
            SessionStarted(),
            ActionExecuted("action_listen"),
            UserUttered("akun sy kekunci", parse["intent"], [], parse),
        ],
    )
    loop = asyncio.new_event_loop()  # private: asyncio.run would reset the thread's loop
    try:
        loop.run_until_complete(store.save(tracker))
    finally:
        loop.close()
    store.engine.dispose()

    out = tmp_path / "review.yml"
    env = {**os.environ, **pg_env}
    env.pop("TRACKER_DB_DIALECT", None)
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "review.py"), "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    items = yaml.safe_load(out.read_text(encoding="utf-8"))["items"]
    assert [(i["text"], i["predicted"], i["senders"]) for i in items] == [
        ("akun sy kekunci", "login_problem", ["whatsapp:+62812****7890"])
    ]
    assert pg_env["POSTGRES_PASSWORD"] not in done.stdout + out.read_text(encoding="utf-8")


def test_outage_notice_on_postgres(pg_env: dict[str, str]) -> None:
    reset_notice_store()
    operator = notice_store()
    replica = NoticeStore(tracker_db_settings().url, operator.zone)  # another process's view
    try:
        assert operator.engine.dialect.name == "postgresql"
        assert replica.active() is None
        now = datetime.now(timezone.utc)
        published = operator.publish("SPSE sedang pemeliharaan {x}", now + timedelta(hours=1))
        assert replica.active() == published and published.text == "SPSE sedang pemeliharaan (x)"
        # Expires by itself; cleared at once.
        assert replica.active(now + timedelta(hours=1)) is None
        assert operator.clear() == 1 and replica.active() is None
        # A short notice, expired for real.
        operator.publish("singkat", datetime.now(timezone.utc) + timedelta(seconds=1))
        assert replica.active() is not None
        time.sleep(1.2)
        assert replica.active() is None
    finally:
        replica.dispose()
        reset_notice_store()
