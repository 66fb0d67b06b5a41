"""``rasa`` whose SQL tracker store notes every load and save in a file (benchmark only).

``bench/long_conversation.py`` runs Rasa through this module to count the tracker loads and
saves of each message: with ``BENCH_TRACKER_COUNT_FILE`` set, every ``retrieve`` (the
current session), ``retrieve_full_tracker`` (all sessions) and ``save`` of Rasa's
``SQLTrackerStore`` appends one line (``load``, ``load_full``, ``save``) to that file.
Appending a short line costs microseconds, next to the milliseconds of a load. Everything
else is Rasa unchanged: ``python bench/counting_rasa.py run ...``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any


def count_tracker_store_calls(path: str) -> None:
    """Patch ``SQLTrackerStore`` so that its loads and saves append a line to ``path``.

    Our channels replace the store's save (``lpse_assist.tracker_io``) when Rasa creates
    them; it is installed here first, so that the count wraps the save that runs.
    """
    from rasa.core.tracker_store import SQLTrackerStore

    from lpse_assist import tracker_io

    tracker_io.install()

    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def note(word: str) -> None:
        os.write(descriptor, f"{word}\n".encode())

    def counted(original: Callable[..., Any], word: str) -> Callable[..., Any]:
        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            note(word)
            return await original(self, *args, **kwargs)

        return wrapper

    store: Any = SQLTrackerStore
    store.retrieve = counted(SQLTrackerStore.retrieve, "load")
    store.retrieve_full_tracker = counted(SQLTrackerStore.retrieve_full_tracker, "load_full")
    store.save = counted(SQLTrackerStore.save, "save")


def read_counts(path: str) -> dict[str, int]:
    """How many loads, full loads and saves the file holds so far."""
    counts = {"load": 0, "load_full": 0, "save": 0}
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                word = line.strip()
                if word in counts:
                    counts[word] += 1
    except FileNotFoundError:
        pass
    return counts


def main() -> int:
    """Run Rasa's command line with the counting in place."""
    path = os.environ.get("BENCH_TRACKER_COUNT_FILE", "").strip()
    if not path:
        print("BENCH_TRACKER_COUNT_FILE must name the file to count in", file=sys.stderr)
        return 2
    count_tracker_store_calls(path)
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *sys.argv[1:]]
    rasa_main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
