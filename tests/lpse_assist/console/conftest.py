"""Fixtures of the console tests: the console app on a throwaway SQLite database (with a
tracker-store ``events`` table as Rasa writes it), replies going to the local Twilio
stand-in over real HTTP."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text

from lpse_assist.console.app import Services, create_app
from lpse_assist.console.store import ConsoleStore
from lpse_assist.handover import SqlHandover
from lpse_assist.settings import ConsoleSettings, TwilioSettings
from lpse_assist.tickets import Ticket, TicketStore
from lpse_assist.twilio_local import LocalTwilio
from tests.lpse_assist.channels.harness import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    SMS_NUMBER,
    WHATSAPP_NUMBER,
)

PASSWORD = "kata-sandi-uji-123"
WA_USER = "whatsapp:+6281234567890"

SETTINGS = ConsoleSettings(
    host="127.0.0.1",
    port=0,
    base_path="",
    session_hours=1.0,
    cookie_secure="auto",
    trust_proxy=False,
    login_account_failures=5,
    login_address_failures=20,
    login_window_minutes=15.0,
)

# Rasa 3.6's SQLTrackerStore table, as it creates it.
EVENTS_DDL = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sender_id VARCHAR(255) NOT NULL,
    type_name VARCHAR(255) NOT NULL,
    timestamp FLOAT,
    intent_name VARCHAR(255),
    action_name VARCHAR(255),
    data TEXT
)
"""


def add_event(store: TicketStore, sender: str, kind: str, data: dict[str, Any]) -> None:
    """One row of Rasa's events table."""
    stamp = data.setdefault("timestamp", time.time())
    data.setdefault("event", kind)
    with store.engine.begin() as conn:
        conn.execute(text(EVENTS_DDL))
        conn.execute(
            text(
                "INSERT INTO events (sender_id, type_name, timestamp, data) "
                "VALUES (:s, :t, :ts, :d)"
            ),
            {"s": sender, "t": kind, "ts": stamp, "d": json.dumps(data)},
        )


def open_ticket(store: TicketStore, sender: str = WA_USER, key: str = "k1") -> Ticket:
    ticket, _ = store.create(
        key=key,
        topic="login_problem",
        channel="whatsapp" if sender.startswith("whatsapp:") else "sms",
        sender_masked=f"masked-{key}",
        last_messages=[],
        conversation_id=sender,
    )
    return ticket


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tracker.db'}"


@pytest_asyncio.fixture(loop_scope="function")
async def services(db_url: str, standin: LocalTwilio) -> AsyncIterator[Services]:
    tickets = TicketStore(db_url)
    twilio = TwilioSettings(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        sms_number=SMS_NUMBER,
        whatsapp_number=WHATSAPP_NUMBER,
        webhook_url="",
        api_base_url=standin.base_url,
        send_timeout=5.0,
        send_attempts=3,
    )
    handover = SqlHandover(tickets.engine, twilio)
    handover.sender.backoff = 0.01
    store = ConsoleStore(tickets.engine)
    store.set_agent("siti", PASSWORD, "agent")
    store.set_agent("admin", PASSWORD, "admin")
    yield Services(SETTINGS, tickets, handover, store)
    tickets.dispose()


def with_settings(services: Services, **changes: Any) -> Services:
    return replace(services, settings=replace(services.settings, **changes))


@pytest_asyncio.fixture(loop_scope="function")
async def client(services: Services) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(services))) as test_client:
        yield test_client


async def login(
    client: TestClient,
    name: str = "siti",
    password: str = PASSWORD,
    headers: dict[str, str] | None = None,
) -> Any:
    """Sign in through the form (login token and its cookie included); returns the response."""
    page = await client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', await page.text())
    assert token
    return await client.post(
        "/login",
        data={"name": name, "password": password, "login_token": token.group(1)},
        allow_redirects=False,
        headers=headers or {},
    )


async def csrf_of(client: TestClient, path: str = "/") -> str:
    page = await client.get(path)
    match = re.search(r'name="csrf" value="([^"]+)"', await page.text())
    assert match, await page.text()
    return match.group(1)
