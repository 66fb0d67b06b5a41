"""The REST channel refuses WhatsApp/SMS sender ids (over real HTTP, in a real Sanic app)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from rasa.core.channels.channel import UserMessage

from lpse_assist.channels.rest import RestInput
from lpse_assist.channels.sender_guard import canonical_sender, is_twilio_sender
from tests.lpse_assist.channels.harness import serve, stop_server

TWILIO_LIKE = [
    "whatsapp:+6281234567890",
    "WhatsApp:+6281234567890",
    "  whatsapp:+6281234567890",
    "whatsapp :+6281234567890",
    "\u200bwhatsapp:+62812",  # zero-width space in front
    "\uff37hatsapp:+62812",  # full-width W
    "+6281234567890",
    " +6281234567890",
    "\uff0b6281234567890",  # full-width plus
    "6281234567890",
    "0812-3456-7890",
    "(021) 5020 5577",
    "sms:+6281234567890",
    "messenger:12345",
    "tel:+62812",
    6281234567890,
]
ORDINARY = ["rest-3f2a9c", "default", "shell-user", "deploy-burst-12ab", "1234", "ppk_budi"]


@pytest.mark.parametrize("sender", TWILIO_LIKE)
def test_twilio_sender_ids_are_recognised(sender: Any) -> None:
    assert is_twilio_sender(sender)


@pytest.mark.parametrize("sender", ORDINARY)
def test_ordinary_rest_sender_ids_pass(sender: str) -> None:
    assert not is_twilio_sender(sender)
    assert not is_twilio_sender(None)


def test_canonical_form_folds_case_space_and_width() -> None:
    assert canonical_sender(" \uff37hatsApp: +62 812") == "whatsapp:+62812"


@pytest_asyncio.fixture(loop_scope="function")
async def rest_app() -> AsyncIterator[tuple[str, list[UserMessage]]]:
    """The project's REST channel in a real Sanic server; records what reaches Rasa."""
    received: list[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        received.append(message)
        await message.output_channel.send_text_message(message.sender_id, "ok")

    _, base_url, server = await serve(RestInput(), None, on_new_message)
    try:
        yield f"{base_url}/webhooks/rest/webhook", received
    finally:
        await stop_server(server)


async def test_rest_request_with_a_twilio_sender_is_refused(
    rest_app: tuple[str, list[UserMessage]],
) -> None:
    url, received = rest_app
    async with aiohttp.ClientSession() as session:
        for sender in ("whatsapp:+6281234567890", " +6281234567890", "WHATSAPP:+62812"):
            async with session.post(url, json={"sender": sender, "message": "belum"}) as reply:
                assert reply.status == 403, sender
                body = await reply.json()
                assert body["error"] == "reserved_sender"
                assert "WhatsApp and SMS" in body["message"]
        assert received == []  # nothing reached Rasa, no tracker was read

        async with session.post(url, json={"sender": "rest-dev", "message": "halo"}) as reply:
            assert reply.status == 200
            assert await reply.json() == [{"recipient_id": "rest-dev", "text": "ok"}]
    assert [m.sender_id for m in received] == ["rest-dev"]
