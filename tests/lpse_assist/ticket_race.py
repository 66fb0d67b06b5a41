"""Four writers with their own engines create tickets at once (like four replicas)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import tzinfo

from lpse_assist.tickets import TicketStore

WRITERS = 4
TICKETS_EACH = 10


def run_writers(
    url: str, zone: tzinfo | None, write: Callable[[TicketStore, int, int], None]
) -> None:
    """WRITERS threads, each with its own store (engine), call ``write(store, worker, n)``
    TICKETS_EACH times, all starting together; any writer's error fails the test."""
    errors: list[BaseException] = []
    start = threading.Barrier(WRITERS)

    def writer(worker: int) -> None:
        store = TicketStore(url, zone)
        start.wait()
        try:
            for n in range(TICKETS_EACH):
                write(store, worker, n)
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)
        finally:
            store.dispose()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []


def race_for_references(url: str, zone: tzinfo | None = None, prefix: str = "") -> list[str]:
    """References of WRITERS x TICKETS_EACH new tickets created concurrently (the numbering
    must hold under contention, not just in sequence)."""
    references: list[str] = []
    lock = threading.Lock()

    def write(store: TicketStore, worker: int, n: int) -> None:
        ticket, created = store.create(
            key=f"{prefix}{worker}-{n}",
            topic="t",
            channel="sms",
            sender_masked="x",
            last_messages=[],
        )
        assert created
        with lock:
            references.append(ticket.reference)

    run_writers(url, zone, write)
    numbers = sorted(int(r.rsplit("-", 1)[1]) for r in references)
    assert numbers == list(range(1, WRITERS * TICKETS_EACH + 1))
    return references


def race_for_one_conversation(url: str, conversation: str, zone: tzinfo | None = None) -> str:
    """WRITERS writers escalate the same conversation TICKETS_EACH times each, at once (each
    escalation a new message): exactly one ticket is opened, every writer gets its reference,
    and it holds the topic of one of the escalations."""
    results: list[tuple[str, bool]] = []
    lock = threading.Lock()

    def write(store: TicketStore, worker: int, n: int) -> None:
        ticket, created = store.create(
            key=f"{conversation}-{worker}-{n}",
            topic=f"topic-{worker}-{n}",
            channel="whatsapp",
            sender_masked="x",
            last_messages=[{"text": f"{worker}-{n}"}],
            conversation_id=conversation,
        )
        with lock:
            results.append((ticket.reference, created))

    run_writers(url, zone, write)
    assert len(results) == WRITERS * TICKETS_EACH
    assert len({reference for reference, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    store = TicketStore(url, zone)
    try:
        ticket = store.for_conversation(conversation, status="open")
        assert ticket is not None and ticket.topic.startswith("topic-")
    finally:
        store.dispose()
    return results[0][0]
