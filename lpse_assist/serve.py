"""Run one of our small local web apps (phone simulator, helpdesk console) until Ctrl-C.

Both start an aiohttp ``AppRunner`` and then only wait; this is that loop, once.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

from aiohttp import web


def serve_forever(
    name: str, host: str, port: int, start: Callable[[], Awaitable[web.AppRunner]], banner: str
) -> int:
    """Start the app, print ``banner``, serve until interrupted; 1 when the port is taken."""

    async def run() -> None:
        runner = await start()
        print(banner, flush=True)
        try:
            while True:
                await asyncio.sleep(3600)
        finally:
            await runner.cleanup()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    except OSError as error:
        print(f"{name}: cannot listen on {host}:{port} ({error})", file=sys.stderr)
        return 1
    return 0
