"""Four writers with their own engines create tickets at once (like four replicas)."""

from __future__ import annotations

import threading
from datetime import tzinfo

from lpse_assist.tickets import TicketStore

WRITERS = 4
TICKETS_EACH = 10


def race_for_references(url: str, zone: tzinfo | None = None, prefix: str = "") -> list[str]:
    """References of WRITERS x TICKETS_EACH new tickets created concurrently; any writer's
    error fails the test (the numbering must hold under contention, not just in sequence)."""
    references: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(WRITERS)

    def writer(worker: int) -> None:
        store = TicketStore(url, zone)
        start.wait()
        try:
            for n in range(TICKETS_EACH):
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
    numbers = sorted(int(r.rsplit("-", 1)[1]) for r in references)
    assert numbers == list(range(1, WRITERS * TICKETS_EACH + 1))
    return references
