"""The simulator backend: rendering for each medium, and signed requests that the real Twilio
channel accepts (the channel runs in a real Sanic server with a scripted Rasa agent)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest_asyncio

from lpse_assist.render import sms_segments
from lpse_assist.simulator import SimulatorConfig, message_view, options_of, start, whatsapp_html
from tests.lpse_assist.channels.harness import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    SMS_NUMBER,
    WHATSAPP_NUMBER,
    Bot,
    make_agent,
    make_channel,
    start_bot,
)


def test_whatsapp_marks_become_html_and_user_html_is_escaped() -> None:
    assert whatsapp_html("Klik *Lupa Password* lalu _tunggu_ ~x~") == (
        "Klik <strong>Lupa Password</strong> lalu <em>tunggu</em> <del>x</del>"
    )
    assert whatsapp_html("5 * 3 * 2 dan user_id_baru") == "5 * 3 * 2 dan user_id_baru"
    escaped = "&lt;script&gt;<strong>x</strong>&lt;/script&gt;"
    assert whatsapp_html("<script>*x*</script>") == escaped


def test_options_are_the_numbered_lines_after_a_blank_line() -> None:
    body = "Langkah:\n1. Buka situs\n2. Klik\n\nApakah sudah teratasi?\n\n1. Sudah\n2. Belum"
    assert options_of(body) == [{"number": 1, "title": "Sudah"}, {"number": 2, "title": "Belum"}]
    assert options_of("Langkah:\n1. Buka situs\n2. Klik") == []  # steps, not options
    assert options_of("Pilih:\n\n1. A\n3. B") == []  # not numbered 1..n


def test_sms_view_has_encoding_segments_and_no_formatting() -> None:
    body = "Reset password lewat Lupa Password. " * 6
    view = message_view(body, "sms")
    assert (view["encoding"], view["segments"], view["chars"]) == (
        "GSM-7",
        sms_segments(body),
        len(body),
    )
    assert "<strong>" not in message_view("*tebal*", "sms")["html"]
    assert message_view("\u201ckutip\u201d", "sms")["encoding"] == "UCS-2"
    assert "segments" not in message_view("*tebal*", "whatsapp")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Same loop as the tests (function scope), whatever asyncio_default_fixture_loop_scope says.
@pytest_asyncio.fixture(loop_scope="function")
async def bot() -> AsyncIterator[Bot]:
    agent, _ = make_agent()
    running = await start_bot(make_channel(), agent)
    yield running
    await running.stop()


async def simulate(bot: Bot, token: str, payload: dict[str, Any]) -> tuple[int, Any]:
    config = SimulatorConfig(
        webhook_url=bot.webhook_url,
        auth_token=token,
        account_sid=ACCOUNT_SID,
        sms_number=SMS_NUMBER,
        whatsapp_number=WHATSAPP_NUMBER,
    )
    port = free_port()
    runner = await start(config, "127.0.0.1", port)
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"http://127.0.0.1:{port}/api/send", json=payload) as response,
        ):
            return response.status, await response.json()
    finally:
        await runner.cleanup()


async def test_signed_whatsapp_message_gets_the_twiml_reply_rendered(bot: Bot) -> None:
    status, data = await simulate(
        bot, AUTH_TOKEN, {"medium": "whatsapp", "phone": "+6281234500001", "text": "halo"}
    )
    assert status == 200, data
    [message] = data["messages"]
    assert "<strong>LPSE Assist</strong>" in message["html"]
    assert [o["title"] for o in message["options"]] == [
        "Tidak bisa login",
        "Lupa password",
        "Hubungi helpdesk",
    ]
    assert "segments" not in message


async def test_sms_numbered_reply_answers_the_options(bot: Bot) -> None:
    phone = "+6281234500002"
    await simulate(bot, AUTH_TOKEN, {"medium": "sms", "phone": phone, "text": "login"})
    status, data = await simulate(bot, AUTH_TOKEN, {"medium": "sms", "phone": phone, "text": "1"})
    assert status == 200, data
    [message] = data["messages"]
    assert message["body"] == "Login kembali dengan User ID yang benar."
    assert (message["encoding"], message["segments"]) == ("GSM-7", 1)


async def test_wrong_token_is_refused_by_the_bot_and_explained(bot: Bot) -> None:
    status, data = await simulate(
        bot, "not-the-token", {"medium": "sms", "phone": "+6281234500003", "text": "halo"}
    )
    assert status == 502 and "403" in data["error"]


async def test_bad_input_is_rejected_before_the_bot(bot: Bot) -> None:
    status, _ = await simulate(bot, AUTH_TOKEN, {"medium": "fax", "phone": "+628", "text": "x"})
    assert status == 400
