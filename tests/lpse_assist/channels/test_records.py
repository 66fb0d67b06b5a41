"""Reply records outside the tracker: shared through SQL, one claim per fallback, one load per
message in the channel."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from rasa.core.tracker_store import InMemoryTrackerStore, SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import AgentUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine, inspect

from lpse_assist.channels.twilio.records import (
    RETENTION_SECONDS,
    MemoryReplyStore,
    SqlReplyStore,
    reply_store_for,
)
from lpse_assist.sessions import SESSION_INDEX
from lpse_assist.tracker_db import sql_engine_of
from lpse_assist.twilio_local import LocalTwilio
from tests.lpse_assist.channels.harness import TEST_DOMAIN, make_agent, make_channel, start_bot

pytestmark = pytest.mark.asyncio(loop_scope="function")


@pytest.fixture
def replicas(tmp_path: Path) -> tuple[SqlReplyStore, SqlReplyStore]:
    """Two replicas' stores: two engines on one SQLite database."""
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    return SqlReplyStore(create_engine(url)), SqlReplyStore(create_engine(url))


def test_a_record_is_seen_by_every_replica_and_kept_once(
    replicas: tuple[SqlReplyStore, SqlReplyStore],
) -> None:
    a, b = replicas
    assert not b.handled("SM1")
    a.record("SM1", "whatsapp:+6281", "whatsapp", ["Halo", "Menu"])
    assert b.handled("SM1")
    b.record("SM1", "whatsapp:+6281", "whatsapp", ["something else"])  # ignored
    record = a.get("SM1")
    assert record is not None and record.sms_bodies == ["Halo", "Menu"]


def test_the_fallback_is_claimed_once(replicas: tuple[SqlReplyStore, SqlReplyStore]) -> None:
    a, b = replicas
    a.record("SM2", "whatsapp:+6281", "whatsapp", ["Halo"])
    a.record("SM3", "+6281", "sms", None)
    assert b.claim_fallback("SM2", "whatsapp:+6299", "failed", "MM1") is None  # not its reply
    assert b.claim_fallback("SM3", "+6281", "failed", "MM1") is None  # SMS: no fallback
    assert b.claim_fallback("SM9", "whatsapp:+6281", "failed", "MM1") is None  # unknown
    assert b.claim_fallback("SM2", "whatsapp:+6281", "undelivered", "MM1") == ["Halo"]
    assert a.claim_fallback("SM2", "whatsapp:+6281", "failed", "MM2") is None
    record = a.get("SM2")
    assert record is not None and record.fallback_status == "undelivered"


def test_old_records_are_pruned(replicas: tuple[SqlReplyStore, SqlReplyStore]) -> None:
    a, _ = replicas
    a.record("SM4", "+6281", "sms", None)
    assert a.prune(now=time.time() + RETENTION_SECONDS - 60) == 0
    assert a.prune(now=time.time() + RETENTION_SECONDS + 60) == 1
    assert not a.handled("SM4")


def test_memory_store_behaves_the_same() -> None:
    store = MemoryReplyStore(limit=2)
    store.record("SM1", "whatsapp:+6281", "whatsapp", ["Halo"])
    assert store.handled("SM1")
    assert store.claim_fallback("SM1", "whatsapp:+6281", "failed", "MM1") == ["Halo"]
    assert store.claim_fallback("SM1", "whatsapp:+6281", "failed", "MM1") is None
    store.record("SM2", "+6281", "sms", None)
    store.record("SM3", "+6281", "sms", None)
    assert not store.handled("SM1")  # the oldest went


def test_the_store_follows_the_tracker_store(tmp_path: Path) -> None:
    domain = Domain.from_dict(TEST_DOMAIN)
    sql = SQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "t.db"))
    assert sql_engine_of(sql) is sql.engine
    assert isinstance(reply_store_for(sql), SqlReplyStore)
    memory = InMemoryTrackerStore(domain)
    assert reply_store_for(memory) is reply_store_for(memory)  # shared like the tracker
    assert isinstance(reply_store_for(memory), MemoryReplyStore)


class CountingStore(SQLTrackerStore):
    """Rasa's SQL tracker store, counting loads and saves."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loads = 0
        self.saves = 0

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        self.loads += 1
        return await super().retrieve(sender_id)

    async def retrieve_full_tracker(self, conversation_id: str) -> DialogueStateTracker | None:
        self.loads += 1
        return await super().retrieve_full_tracker(conversation_id)

    async def save(self, tracker: DialogueStateTracker) -> None:
        self.saves += 1
        await super().save(tracker)


async def test_one_tracker_load_and_one_save_per_message(
    standin: LocalTwilio, tmp_path: Path
) -> None:
    domain = Domain.from_dict(TEST_DOMAIN)
    store = CountingStore(domain, dialect="sqlite", db=str(tmp_path / "tracker.db"))
    agent, _ = make_agent(store)
    bot = await start_bot(make_channel(standin.base_url), agent)
    standin.webhook_url = bot.webhook_url
    user = "whatsapp:+6281300000001"
    try:
        await standin.send_inbound(user, "halo")  # a new conversation: created, then a turn
        store.loads = store.saves = 0
        texts = ["login", "1", "halo", "7", "halo"]  # words, a choice, no option, words
        for text in texts:
            result = await standin.send_inbound(user, text, delivery="undelivered")
            assert result["http_status"] == 200 and result["messages"]
        await bot.channel.wait_for_background_sends()
        assert store.loads == len(texts)  # status callbacks load nothing
        assert store.saves == len(texts) - 1  # "7" (no option): nothing new for Rasa
        tracker = await store.retrieve(user)
        assert tracker is not None
        assert not [e for e in tracker.events if isinstance(e, AgentUttered)]
        # Rasa's session query is answered from the index the first load created.
        indexes = {i["name"] for i in inspect(store.engine).get_indexes("events")}
        assert SESSION_INDEX in indexes
    finally:
        await bot.channel.wait_for_background_sends()
        await bot.stop()
