"""Fixtures for the Twilio channel tests (the harness is in ``harness.py``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from rasa.core.agent import Agent

from lpse_assist.channels.sender_limit import SenderLimiter
from lpse_assist.twilio_local import LocalTwilio
from tests.lpse_assist.channels.harness import (
    AUTH_TOKEN,
    Bot,
    Twilio,
    make_agent,
    make_channel,
    start_bot,
)


@pytest_asyncio.fixture(loop_scope="function")
async def bots(standin: LocalTwilio) -> AsyncIterator[Callable[..., Any]]:
    """Factory for bot replicas; all are stopped after the test."""
    started: list[Bot] = []

    async def factory(
        agent: Agent | None = None,
        *,
        webhook_url: str = "",
        auth_token: str = AUTH_TOKEN,
        with_agent: bool = True,
        sender_limit: SenderLimiter | None = None,
    ) -> Bot:
        if agent is None and with_agent:
            agent, _ = make_agent()
        channel = make_channel(standin.base_url, webhook_url, auth_token, sender_limit)
        bot = await start_bot(channel, agent if with_agent else None)
        started.append(bot)
        if not standin.webhook_url:
            standin.webhook_url = bot.webhook_url
        return bot

    yield factory
    for bot in started:
        await bot.channel.wait_for_background_sends()
        await bot.stop()


@pytest_asyncio.fixture(loop_scope="function")
async def bot(bots: Callable[..., Any]) -> Bot:
    """One bot replica with its own agent."""
    created: Bot = await bots()
    return created


@pytest_asyncio.fixture(loop_scope="function")
async def twilio(standin: LocalTwilio) -> AsyncIterator[Twilio]:
    """A Twilio-like HTTP client (real aiohttp, real twilio RequestValidator signatures)."""
    async with aiohttp.ClientSession() as session:
        yield Twilio(session, standin)


@pytest.fixture
def sms_user() -> str:
    """A fresh SMS user (a new conversation per test)."""
    return "+62812" + str(uuid.uuid4().int)[:7]


@pytest.fixture
def wa_user(sms_user: str) -> str:
    """A fresh WhatsApp user."""
    return "whatsapp:+62813" + str(uuid.uuid4().int)[:7]


@pytest.fixture(autouse=True)
def _tracker_db(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The human-mode check of every webhook (lpse_assist.handover) reads a throwaway
    database, never the project's .data/tracker.db."""
    from lpse_assist.settings import reset_settings_cache
    from lpse_assist.tickets import reset_ticket_services

    monkeypatch.setenv("TRACKER_DB", str(tmp_path / "tracker.db"))
    monkeypatch.delenv("TRACKER_DB_DIALECT", raising=False)
    reset_settings_cache()
    reset_ticket_services()
    yield
    reset_settings_cache()
    reset_ticket_services()
