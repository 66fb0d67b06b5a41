"""Rasa's Redis lock store, made safe for several Rasa replicas.

Rasa serialises the messages of one conversation with a *ticket lock*: each message takes a
numbered ticket and is processed when its number comes up. Rasa 3.6's ``RedisLockStore``
keeps a conversation's tickets as one JSON value and changes it with a GET followed by a SET.
Within one process that is safe (nothing awaits in between), across replicas it is not: two
replicas taking a ticket for the same conversation at the same moment both read the same
lock and the second SET overwrites the first, so both hold the same ticket number and process
the conversation at the same time; or one replica deletes the lock ("no one is waiting")
just after another queued on it, and that message fails with ``LockError``. With Rasa's
class, 40 simultaneous messages of one user sent to two replicas lost messages from the
conversation store; ``tests/deploy/test_lock_store.py`` forces the interleavings.

``AtomicRedisLockStore`` keeps Rasa's algorithm, data format and key names and makes every
read-modify-write of a lock one Redis transaction (WATCH/MULTI/EXEC, redone when another
replica changed the lock in between). It is what ``endpoints.production.yml`` configures::

    lock_store:
      type: lpse_assist.lock_store.AtomicRedisLockStore
      url: ${REDIS_HOST}
      ...

Nothing connects at import time; redis-py connects on the first command.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import rasa.core.lock_store as rasa_lock_store
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_SOCKET_TIMEOUT = rasa_lock_store.DEFAULT_SOCKET_TIMEOUT_IN_SECONDS

# Rasa polls a busy lock once a second, so every queued message of a busy conversation
# waited up to a second more than needed. A poll is two Redis round trips (well under a
# millisecond on a LAN), so a tenth of a second costs Redis nothing and keeps queued
# messages of one user answered promptly.
DEFAULT_POLL_SECONDS = 0.1
# A transaction is redone only when another replica changed the same conversation's lock
# between our WATCH and EXEC; a handful of messages of one user arriving at once needs a few
# rounds at most. The bound turns a pathological storm into a LockError instead of a hang.
MAX_TRANSACTION_ATTEMPTS = 50
# Lock keys outlive their last ticket by this much, so a lock left behind by a replica that
# died (SIGKILL, power loss) disappears from Redis by itself.
KEY_GRACE_SECONDS = 60


def _as_bool(value: Any) -> bool:
    """YAML or environment value as a boolean ("false" and "" are False)."""
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def _optional_text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


class AtomicRedisLockStore(RedisLockStore):
    """Rasa's ticket lock in Redis, with atomic ticket operations (safe across replicas)."""

    def __init__(
        self,
        endpoint_config: EndpointConfig | None = None,
        host: str = "localhost",
        port: Any = 6379,
        db: Any = 1,
        username: str | None = None,
        password: str | None = None,
        use_ssl: Any = False,
        key_prefix: str | None = None,
        socket_timeout: Any = DEFAULT_SOCKET_TIMEOUT,
        poll_seconds: Any = DEFAULT_POLL_SECONDS,
    ) -> None:
        """Settings come from ``endpoint_config`` (what Rasa passes for a custom ``type``)
        or from the keyword arguments; values may be strings (``${VAR}`` placeholders)."""
        if endpoint_config is not None:
            options = dict(endpoint_config.kwargs)
            host = endpoint_config.url or options.pop("host", host)
            port = options.get("port", port)
            db = options.get("db", db)
            username = options.get("username", username)
            password = options.get("password", password)
            use_ssl = options.get("use_ssl", use_ssl)
            key_prefix = options.get("key_prefix", key_prefix)
            socket_timeout = options.get("socket_timeout", socket_timeout)
            poll_seconds = options.get("poll_seconds", poll_seconds)
        super().__init__(
            host=str(host),
            port=int(port or 6379),
            db=int(db or 0),
            username=_optional_text(username),
            password=_optional_text(password),
            use_ssl=_as_bool(use_ssl),
            key_prefix=_optional_text(key_prefix),
            socket_timeout=float(socket_timeout or DEFAULT_SOCKET_TIMEOUT),
        )
        self.poll_seconds = max(0.01, float(poll_seconds or DEFAULT_POLL_SECONDS))

    # ----------------------------------------------------------------- the lock

    @asynccontextmanager
    async def lock(  # type: ignore[override]
        self,
        conversation_id: str,
        lock_lifetime: float = rasa_lock_store.LOCK_LIFETIME,
        wait_time_in_seconds: float | None = None,
    ) -> AsyncIterator[TicketLock]:
        """Rasa's lock, polling every ``poll_seconds`` unless the caller says otherwise."""
        wait = self.poll_seconds if wait_time_in_seconds is None else wait_time_in_seconds
        async with super().lock(conversation_id, lock_lifetime, wait) as ticket_lock:
            yield ticket_lock

    def issue_ticket(
        self, conversation_id: str, lock_lifetime: float = rasa_lock_store.LOCK_LIFETIME
    ) -> int:
        """Take the next ticket for the conversation, atomically."""

        def take(lock: TicketLock | None) -> tuple[TicketLock | None, int]:
            lock = lock or self.create_lock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return self._transaction(conversation_id, take)
        except LockError:
            raise
        except Exception as error:  # what Rasa's issue_ticket turns into a LockError too
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: str) -> None:
        """Drop expired tickets (a replica died holding one), atomically."""

        def prune(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is not None:
                lock.remove_expired_tickets()
            return lock, None

        self._transaction(conversation_id, prune)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        """Give back a ticket; the lock is deleted when no ticket is left, atomically."""

        def give_back(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is not None:
                lock.remove_ticket_for(ticket_number)
            return lock, None

        self._transaction(conversation_id, give_back)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Rasa's cleanup (give back the ticket, delete an unused lock) as one transaction."""
        self.finish_serving(conversation_id, ticket_number)

    # ----------------------------------------------------------------- Redis transaction

    def _transaction(
        self,
        conversation_id: str,
        change: Callable[[TicketLock | None], tuple[TicketLock | None, T]],
    ) -> T:
        """Read the lock, apply ``change`` and write the result back, as one transaction.

        A lock without tickets is deleted rather than stored. Redone (at most
        ``MAX_TRANSACTION_ATTEMPTS`` times) when another client changed the key meanwhile.
        """
        import redis  # Rasa's own dependency; imported here like Rasa does

        key = self.key_prefix + conversation_id
        for _ in range(MAX_TRANSACTION_ATTEMPTS):
            with self.red.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    current = TicketLock.from_dict(json.loads(raw)) if raw else None
                    updated, result = change(current)
                    pipe.multi()
                    if updated is None or not updated.is_someone_waiting():
                        pipe.delete(key)
                    else:
                        last_expiry = max(ticket.expires for ticket in updated.tickets)
                        ttl_ms = int((last_expiry - time.time() + KEY_GRACE_SECONDS) * 1000)
                        pipe.set(key, updated.dumps(), px=max(ttl_ms, 1000))
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue  # another replica changed this lock: read it again
        raise LockError(
            f"Could not update the lock of a conversation after {MAX_TRANSACTION_ATTEMPTS} "
            "attempts (too many concurrent messages)."
        )
