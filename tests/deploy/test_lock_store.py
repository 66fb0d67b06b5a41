"""AtomicRedisLockStore against a real redis-server: two lock stores play two replicas.

The interleavings that break Rasa's own RedisLockStore across replicas are forced here by
running the second replica's operation *inside* the first one's read-modify-write.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LockError, LockStore, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from lpse_assist.lock_store import AtomicRedisLockStore
from tests.deploy.conftest import require_binaries
from tests.deploy.topology import find_binaries, free_port, port_is_open

PASSWORD = "lock-test-password"


@pytest.fixture(scope="module")
def redis_port() -> Iterator[int]:
    """A private redis-server on a free port (no persistence)."""
    require_binaries()
    workdir = Path(tempfile.mkdtemp(prefix="lpse-redis-"))
    port = free_port()
    process = subprocess.Popen(
        [
            find_binaries().redis_server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--requirepass",
            PASSWORD,
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not port_is_open(port):
            assert process.poll() is None, "redis-server exited"
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


def atomic(port: int, **options: Any) -> AtomicRedisLockStore:
    """A store configured the way Rasa builds it from endpoints.production.yml (strings)."""
    config = EndpointConfig(
        url="127.0.0.1",
        port=str(port),
        password=PASSWORD,
        db="3",
        key_prefix="test",
        **options,
    )
    return AtomicRedisLockStore(endpoint_config=config)


def stock(port: int) -> RedisLockStore:
    return RedisLockStore(host="127.0.0.1", port=port, db=3, password=PASSWORD, key_prefix="test")


class Interleaved(AtomicRedisLockStore):
    """Runs ``meanwhile`` between reading the lock and writing it back, once."""

    meanwhile: Callable[[], Any] | None = None

    def _transaction(self, conversation_id: str, change: Any) -> Any:
        def change_then_interfere(lock: TicketLock | None) -> tuple[Any, Any]:
            result = change(lock)
            if self.meanwhile is not None:
                interfere, self.meanwhile = self.meanwhile, None
                interfere()
            return result

        return super()._transaction(conversation_id, change_then_interfere)


def interleaved(port: int) -> Interleaved:
    config = EndpointConfig(url="127.0.0.1", port=port, password=PASSWORD, db=3, key_prefix="test")
    return Interleaved(endpoint_config=config)


def conversation() -> str:
    return f"conv-{time.monotonic_ns()}"


def tickets(store: LockStore, conversation_id: str) -> list[int]:
    lock = store.get_lock(conversation_id)
    return [t.number for t in lock.tickets] if lock else []


def test_settings_from_the_endpoints_file_are_parsed(redis_port: int) -> None:
    store = atomic(redis_port, use_ssl="false", poll_seconds="0.2", socket_timeout="5")
    kwargs = store.red.connection_pool.connection_kwargs
    assert (kwargs["port"], kwargs["db"], kwargs["password"]) == (redis_port, 3, PASSWORD)
    assert store.red.connection_pool.connection_class is redis.Connection  # no SSL
    assert store.poll_seconds == 0.2
    assert store.key_prefix == "test:lock:"
    empty_password = AtomicRedisLockStore(
        endpoint_config=EndpointConfig(url="127.0.0.1", port=str(redis_port), password="")
    )
    assert empty_password.red.connection_pool.connection_kwargs["password"] is None


def test_rasa_stock_store_gives_two_replicas_the_same_ticket(redis_port: int) -> None:
    """Why the subclass exists: Rasa's GET-then-SET under the same interleaving."""
    a, b = stock(redis_port), stock(redis_port)
    conversation_id = conversation()
    taken: list[int] = []
    original_save = a.save_lock

    def save_after_b(lock: TicketLock) -> None:
        taken.append(b.issue_ticket(conversation_id))  # B runs between A's GET and SET
        original_save(lock)

    a.save_lock = save_after_b  # type: ignore[method-assign]
    taken.append(a.issue_ticket(conversation_id))
    assert taken[0] == taken[1]  # both replicas hold the same ticket
    a.delete_lock(conversation_id)


def test_tickets_taken_at_the_same_moment_are_distinct(redis_port: int) -> None:
    a, b = interleaved(redis_port), atomic(redis_port)
    conversation_id = conversation()
    taken: list[int] = []
    a.meanwhile = lambda: taken.append(b.issue_ticket(conversation_id))
    taken.append(a.issue_ticket(conversation_id))
    assert sorted(taken) == [0, 1]
    assert sorted(tickets(b, conversation_id)) == [0, 1]


def test_a_finishing_replica_does_not_delete_a_lock_someone_just_queued_on(
    redis_port: int,
) -> None:
    a, b = interleaved(redis_port), atomic(redis_port)
    conversation_id = conversation()
    first = a.issue_ticket(conversation_id)
    queued: list[int] = []
    # A sees itself as the only ticket holder, B queues before A writes "no one waiting".
    a.meanwhile = lambda: queued.append(b.issue_ticket(conversation_id))
    a.cleanup(conversation_id, first)
    assert tickets(b, conversation_id) == queued == [first + 1]
    b.cleanup(conversation_id, queued[0])
    assert b.get_lock(conversation_id) is None  # the last one out deletes the lock


def test_lock_keys_expire_after_their_last_ticket(redis_port: int) -> None:
    store = atomic(redis_port)
    conversation_id = conversation()
    store.issue_ticket(conversation_id, lock_lifetime=30)
    ttl = store.red.pttl(store.key_prefix + conversation_id)
    assert 30_000 < ttl <= 30_000 + 60_000 + 1_000  # lifetime + grace: a crash leaves no key
    store.delete_lock(conversation_id)


def test_a_ticket_of_a_dead_replica_expires_and_the_next_one_is_served(
    redis_port: int,
) -> None:
    store = atomic(redis_port)
    conversation_id = conversation()
    store.issue_ticket(conversation_id, lock_lifetime=0.2)  # held by a replica that died

    async def next_message() -> TicketLock:
        async with store.lock(conversation_id, lock_lifetime=30) as lock:
            return lock

    lock = asyncio.run(asyncio.wait_for(next_message(), timeout=20))
    assert lock.conversation_id == conversation_id
    assert store.get_lock(conversation_id) is None


def test_replicas_take_turns_one_critical_section_at_a_time(redis_port: int) -> None:
    stores = [atomic(redis_port, poll_seconds="0.01") for _ in range(2)]
    conversation_id = conversation()
    inside: list[int] = []
    overlaps: list[tuple[int, int]] = []
    order: list[int] = []

    async def turn(index: int) -> None:
        async with stores[index % 2].lock(conversation_id):
            if inside:
                overlaps.append((inside[0], index))
            inside.append(index)
            await asyncio.sleep(0.005)  # an await inside the section, like a real turn
            order.append(index)
            inside.remove(index)

    async def main() -> None:
        await asyncio.wait_for(asyncio.gather(*(turn(i) for i in range(30))), timeout=60)

    asyncio.run(main())
    assert overlaps == []
    assert sorted(order) == list(range(30))


def test_a_storm_of_conflicts_fails_loudly_not_forever(redis_port: int) -> None:
    store = interleaved(redis_port)
    other = atomic(redis_port)
    conversation_id = conversation()

    def always_interfere() -> None:
        other.issue_ticket(conversation_id)
        store.meanwhile = always_interfere  # interfere again on the next attempt

    store.meanwhile = always_interfere
    with pytest.raises(LockError):
        store.issue_ticket(conversation_id)
    store.meanwhile = None
    other.delete_lock(conversation_id)
