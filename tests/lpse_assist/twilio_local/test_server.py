"""The local Twilio stand-in answers the real twilio client like Twilio's REST API does."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from lpse_assist.twilio_local import LocalTwilio, Media, inbound_form, parse_twiml, signature
from tests.lpse_assist.channels.harness import ACCOUNT_SID, AUTH_TOKEN

pytestmark = pytest.mark.asyncio(loop_scope="function")


def sync_client(standin: LocalTwilio, token: str = AUTH_TOKEN) -> Client:
    client = Client(ACCOUNT_SID, token)
    client.api.base_url = standin.base_url
    return client


async def test_sync_client_creates_a_message(standin: LocalTwilio) -> None:
    client = sync_client(standin)
    message = await asyncio.to_thread(
        client.messages.create, to="+6281234567890", from_="+15005550006", body="Halo"
    )
    assert message.sid is not None and message.sid.startswith("SM") and len(message.sid) == 34
    assert (message.to, message.from_, message.body, message.status) == (
        "+6281234567890",
        "+15005550006",
        "Halo",
        "queued",
    )
    assert message.date_created is not None
    assert [m["body"] for m in standin.outbound] == ["Halo"]
    assert standin.outbound[0]["via"] == "rest"


async def test_async_client_creates_a_message(standin: LocalTwilio) -> None:
    async with AsyncTwilioHttpClient() as http_client:
        client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http_client)
        client.api.base_url = standin.base_url
        message = await client.messages.create_async(
            to="+6281234567890", from_="+15005550006", body="a" * 200
        )
    assert message.num_segments == "2"
    assert standin.outbound[0]["num_segments"] == 2


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"to": "+62812", "from_": "+1", "body": ""}, 400, 21602),
        ({"to": "+62812", "from_": "+1", "body": "x" * 1601}, 400, 21617),
        ({"to": "", "from_": "+1", "body": "x"}, 400, 21604),
    ],
)
async def test_invalid_messages_get_twilio_errors(
    standin: LocalTwilio, kwargs: dict[str, str], status: int, code: int
) -> None:
    client = sync_client(standin)
    with pytest.raises(TwilioRestException) as caught:
        await asyncio.to_thread(client.messages.create, **kwargs)
    assert (caught.value.status, caught.value.code) == (status, code)
    assert standin.outbound == []


async def test_wrong_credentials_are_refused(standin: LocalTwilio) -> None:
    client = sync_client(standin, token="wrong")
    with pytest.raises(TwilioRestException) as caught:
        await asyncio.to_thread(client.messages.create, to="+62812", from_="+1", body="x")
    assert (caught.value.status, caught.value.code) == (401, 20003)


async def test_simulated_failures_then_success(standin: LocalTwilio) -> None:
    standin.rest_failures = [503]
    client = sync_client(standin)
    with pytest.raises(TwilioRestException) as caught:
        await asyncio.to_thread(client.messages.create, to="+62812", from_="+1", body="x")
    assert caught.value.status == 503
    await asyncio.to_thread(client.messages.create, to="+62812", from_="+1", body="x")
    assert standin.rest_attempts == 2 and len(standin.outbound) == 1


async def test_control_endpoints(standin: LocalTwilio) -> None:
    client = sync_client(standin)
    await asyncio.to_thread(client.messages.create, to="+62811", from_="+1", body="satu")
    await asyncio.to_thread(client.messages.create, to="+62822", from_="+1", body="dua")
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{standin.base_url}/_local/messages?to=%2B62822") as response:
            listed = await response.json()
        assert [m["body"] for m in listed["messages"]] == ["dua"]
        async with session.delete(f"{standin.base_url}/_local/messages") as response:
            assert response.status == 200
        async with session.get(f"{standin.base_url}/_local/messages") as response:
            assert (await response.json())["messages"] == []


async def test_inbound_form_looks_like_twilio() -> None:
    form = inbound_form(
        account_sid=ACCOUNT_SID,
        from_="whatsapp:+6281234567890",
        to="whatsapp:+14155238886",
        body="",
        media=[Media("https://x/1.jpg", "image/jpeg")],
    )
    assert form["NumMedia"] == "1" and form["MediaContentType0"] == "image/jpeg"
    assert form["WaId"] == "6281234567890" and form["MessageType"] == "image"
    assert form["MessageSid"] == form["SmsMessageSid"] and form["MessageSid"].startswith("MM")
    assert form["Body"] == ""
    assert "Body" not in inbound_form(account_sid=ACCOUNT_SID, from_="+62", to="+1", body=None)


async def test_signature_matches_twilios_documented_example() -> None:
    # The example from Twilio's security documentation.
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    assert signature("12345", url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


async def test_parse_twiml() -> None:
    ok, messages = parse_twiml(
        '<?xml version="1.0" encoding="UTF-8"?><Response>'
        '<Message statusCallback="https://x/s?a=1&amp;b=2">Halo &amp; selamat</Message>'
        "<Message><Body>dua</Body></Message></Response>"
    )
    assert ok
    assert [(m.body, m.status_callback) for m in messages] == [
        ("Halo & selamat", "https://x/s?a=1&b=2"),
        ("dua", None),
    ]
    assert parse_twiml("<html>500</html>") == (False, [])
    assert parse_twiml("not xml") == (False, [])
