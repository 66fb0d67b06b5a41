"""The load benchmark talks to the webhook as Twilio does, through the same client as the
local stand-in and the tests: fields, signature, idempotency token, TwiML reply."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from twilio.request_validator import RequestValidator

from bench.load import AUTH_TOKEN, WEBHOOK_PATH, Client, phone_number, summarize
from tests.deploy.topology import free_port

TWIML = "<Response><Message>satu</Message><Message>dua</Message></Response>"


async def serve_and_send(forms: int, retry: bool) -> dict[str, Any]:
    """A webhook that checks Twilio's signature as our channel does; the client sends `forms`
    messages (and each again as a retry); returns what the webhook got and the samples."""
    seen: list[dict[str, str]] = []
    tokens: list[str] = []

    async def webhook(request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        signature = request.headers.get("X-Twilio-Signature", "")
        url = f"http://{request.host}{request.path_qs}"
        if not RequestValidator(AUTH_TOKEN).validate(url, form, signature):
            return web.Response(status=403, text="invalid signature")
        seen.append(form)
        tokens.append(request.headers.get("I-Twilio-Idempotency-Token", ""))
        return web.Response(text=TWIML, content_type="application/xml")

    app = web.Application()
    app.router.add_post(WEBHOOK_PATH, webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    samples = []
    try:
        async with aiohttp.ClientSession() as session:
            client = Client(session, f"http://127.0.0.1:{port}{WEBHOOK_PATH}")
            for i in range(forms):
                form = client.next_form(phone_number(i))
                samples.append(await client.post("steady", form))
                if retry:
                    samples.append(await client.post("retry-again", form, retry=True))
    finally:
        await runner.cleanup()
    return {"seen": seen, "tokens": tokens, "samples": samples}


def test_signed_forms_are_accepted_and_their_twiml_messages_counted() -> None:
    got = asyncio.run(serve_and_send(4, retry=False))
    assert [s.status for s in got["samples"]] == [200] * 4
    assert [s.messages for s in got["samples"]] == [2] * 4
    whatsapp, sms = got["seen"][0], got["seen"][1]
    assert whatsapp["From"].startswith("whatsapp:+62812") and whatsapp["WaId"].startswith("62812")
    assert whatsapp["ProfileName"] == "Penyedia" and whatsapp["MessageType"] == "text"
    assert sms["From"].startswith("+62812") and "WaId" not in sms
    assert all(f["MessageSid"].startswith("SM") and len(f["MessageSid"]) == 34 for f in got["seen"])
    assert len({f["MessageSid"] for f in got["seen"]}) == 4
    assert len(set(got["tokens"])) == 4
    phase = summarize("steady", got["samples"], builtin=False)
    assert (phase.requests, phase.answered, phase.lost) == (4, 4, 0)


def test_a_retry_repeats_the_message_sid_and_the_idempotency_token() -> None:
    got = asyncio.run(serve_and_send(2, retry=True))
    first, again = got["seen"][0], got["seen"][1]
    assert first == again
    assert got["tokens"][0] == got["tokens"][1] != got["tokens"][2]


def test_a_wrong_auth_token_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The webhook checks the signature with the real token: one from another is refused."""
    import bench.load

    monkeypatch.setattr(bench.load, "AUTH_TOKEN", "not-the-token")
    got = asyncio.run(serve_and_send(1, retry=False))
    assert got["seen"] == [] and got["samples"][0].status == 403
