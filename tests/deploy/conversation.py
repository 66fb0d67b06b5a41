"""Talking to Rasa replicas over HTTP and reading what they stored, for the deployment tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parents[2]
# A turn waits for NLU, the policies, maybe the action server and the lock: generous.
TURN_TIMEOUT = aiohttp.ClientTimeout(total=180)


@lru_cache(maxsize=1)
def domain_responses() -> dict[str, list[dict[str, Any]]]:
    """The responses of domain.yml."""
    with open(ROOT / "domain.yml", encoding="utf-8") as handle:
        return dict((yaml.safe_load(handle) or {}).get("responses") or {})


def response_text(name: str) -> str:
    """The text a REST (web) user gets for a response: its variation without a channel."""
    variations = domain_responses()[name]
    for variation in variations:
        if not variation.get("channel"):
            return str(variation["text"])
    return str(variations[0]["text"])


def paragraphs(name: str) -> list[str]:
    """The paragraphs of a response (Rasa's REST channel sends each as its own message)."""
    return [p.strip() for p in response_text(name).split("\n\n") if p.strip()]


def reply_text(messages: Sequence[dict[str, Any]]) -> str:
    """All texts of one REST reply, joined the way Rasa split them."""
    return "\n\n".join(str(m.get("text") or "") for m in messages if m.get("text"))


def says(messages: Sequence[dict[str, Any]], name: str) -> bool:
    """True when a reply contains every paragraph of response ``name``."""
    text = reply_text(messages)
    return all(paragraph in text for paragraph in paragraphs(name))


async def say(
    session: aiohttp.ClientSession,
    base_url: str,
    sender: str,
    message: str,
    metadata: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One user message through the REST channel; the bot's messages."""
    payload: dict[str, Any] = {"sender": sender, "message": message}
    if metadata is not None:
        payload["metadata"] = metadata
    async with session.post(
        f"{base_url}/webhooks/rest/webhook", json=payload, timeout=TURN_TIMEOUT
    ) as response:
        body = await response.text()
        assert response.status == 200, f"HTTP {response.status} from {base_url}: {body[:500]}"
        messages = json.loads(body)
        assert isinstance(messages, list), body[:500]
        return messages


async def say_all(
    base_urls: Sequence[str],
    sender_messages: Sequence[tuple[str, str, dict[str, Any]]],
) -> list[list[dict[str, Any]]]:
    """Send all messages at once, the i-th to replica ``i % len(base_urls)``."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        return list(
            await asyncio.gather(
                *(
                    say(session, base_urls[i % len(base_urls)], sender, text, metadata)
                    for i, (sender, text, metadata) in enumerate(sender_messages)
                )
            )
        )


def stored_events(database_url: str, sender: str) -> list[dict[str, Any]]:
    """The events of a conversation as PostgreSQL holds them, in insertion order."""
    import psycopg2

    connection = psycopg2.connect(database_url, connect_timeout=10)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT data FROM events WHERE sender_id = %s ORDER BY id", (sender,))
            return [json.loads(row[0]) for row in cursor.fetchall()]
    finally:
        connection.close()


def turns(events: Sequence[dict[str, Any]]) -> list[tuple[dict[str, Any], list[str]]]:
    """Each stored user event with the bot texts that follow it until the next user event."""
    result: list[tuple[dict[str, Any], list[str]]] = []
    for event in events:
        if event.get("event") == "user":
            result.append((event, []))
        elif event.get("event") == "bot" and result and event.get("text"):
            result[-1][1].append(str(event["text"]))
    return result
