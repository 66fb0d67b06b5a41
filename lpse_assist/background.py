"""Work started after the answer: a reply to Twilio or the user is not held up by a send.

asyncio keeps only weak references to tasks, so a task nobody holds can vanish mid-way; the
set below holds each one until it is done, and ``wait`` lets tests and shutdown wait for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class BackgroundTasks:
    """Coroutines run in the background, held until done, and waited for on request."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run ``coroutine`` on the running loop; returns at once."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait(self) -> None:
        """Wait until every task started so far (and any they start) is done."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def __len__(self) -> int:
        return len(self._tasks)
