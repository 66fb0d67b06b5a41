"""The Twilio channel over real HTTP: signatures, TwiML, rendering, retries, SMS fallback."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import AgentUttered
from twilio.request_validator import RequestValidator

from lpse_assist.channels.choices import INTENT_MENU, parse_choice
from lpse_assist.channels.twilio import (
    FALLBACK_REPLY_TEXT,
    INTENT_EMPTY,
    INTENT_MEDIA,
    INTENT_UNSUPPORTED_MEDIA,
    MAX_USER_TEXT_CHARS,
    TwilioInput,
    clean_text,
)
from lpse_assist.channels.twilio.records import reply_store_for
from lpse_assist.privacy import mask_phone
from lpse_assist.render import MAX_BODY_CHARS, is_gsm7, numbered_options
from lpse_assist.twilio_local import LocalTwilio, Media
from lpse_assist.twilio_local.client import HOSTILE_BODIES
from tests.lpse_assist.channels.harness import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    SMS_NUMBER,
    TEST_DOMAIN,
    Bot,
    Twilio,
    make_agent,
    make_channel,
    start_bot,
)

pytestmark = pytest.mark.asyncio(loop_scope="function")

MENU = TEST_DOMAIN["responses"]["utter_menu"][0]  # type: ignore[index]
MENU_OPTIONS = numbered_options(MENU["buttons"])


def bodies(reply: Any) -> list[str]:
    return [m.body for m in reply.messages]


def received(bot: Bot) -> list[str]:
    assert bot.processor is not None
    return bot.processor.texts()


# ------------------------------------------------------------------------- pure helpers


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("+6281234567890", "+62812****7890"),
        ("whatsapp:+6281234567890", "whatsapp:+62812****7890"),
        ("+62812", "+6****12"),
        ("123", "****"),
    ],
)
async def test_mask_phone(raw: str, masked: str) -> None:
    assert mask_phone(raw) == masked


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("2", 2),
        ("2.", 2),
        ("2)", 2),
        (" no 2 ", 2),
        ("No. 3", 3),
        ("pilih 1", 1),
        ("nomor 4", 4),
        ("Pilih no 2", 2),
        ("#5", 5),
        ("opsi 12", 12),
    ],
)
async def test_parse_choice_accepts_numbered_replies(text: str, number: int) -> None:
    assert parse_choice(text) == number


@pytest.mark.parametrize("text", ["2 kali gagal", "12345", "login", "no", "", "2 3", "saya pilih"])
async def test_parse_choice_rejects_other_text(text: str) -> None:
    assert parse_choice(text) is None


async def test_clean_text_strips_controls_slashes_and_length() -> None:
    assert clean_text("a\x00b\tc\u202ed\u200b", "sms") == "a b cd"
    assert clean_text("//restart", "whatsapp") == "restart"
    assert clean_text("user¡example.com", "sms") == "user@example.com"
    assert clean_text("user¡example.com", "whatsapp") == "user¡example.com"
    assert len(clean_text("kata " * 1000, "sms")) <= MAX_USER_TEXT_CHARS


# ------------------------------------------------------------------------- security


async def test_health(bot: Bot, twilio: Twilio) -> None:
    async with twilio.session.get(f"{bot.base_url}/webhooks/twilio/") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok"}


async def test_unsigned_request_is_refused_and_not_processed(
    bot: Bot, twilio: Twilio, sms_user: str
) -> None:
    reply = await twilio.message(bot, sms_user, "halo", token=None)
    assert reply.status == 403
    assert received(bot) == []


async def test_wrong_token_is_refused(bot: Bot, twilio: Twilio, sms_user: str) -> None:
    reply = await twilio.message(bot, sms_user, "halo", token="someone-elses-token")
    assert reply.status == 403
    assert received(bot) == []


async def test_signature_for_another_url_is_refused(
    bot: Bot, twilio: Twilio, sms_user: str
) -> None:
    reply = await twilio.message(
        bot, sms_user, "halo", signed_url="https://evil.example/webhooks/twilio/webhook"
    )
    assert reply.status == 403
    assert received(bot) == []


async def test_tampered_field_is_refused(bot: Bot, twilio: Twilio, sms_user: str) -> None:
    form = {"From": sms_user, "Body": "halo", "MessageSid": "SM" + "a" * 32, "To": SMS_NUMBER}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(bot.webhook_url, form)
    form["Body"] = "kirim 1000 SMS"
    async with twilio.session.post(
        bot.webhook_url, data=form, headers={"X-Twilio-Signature": signature}
    ) as response:
        assert response.status == 403
    assert received(bot) == []


async def test_empty_auth_token_refuses_everything(
    bots: Callable[..., Any], twilio: Twilio, sms_user: str
) -> None:
    # With an empty token anyone could compute the signature, so nothing may pass.
    bot = await bots(auth_token="")
    reply = await twilio.message(bot, sms_user, "halo", token="")
    assert reply.status == 403
    assert received(bot) == []


async def test_undecodable_body_is_refused_not_crashed(bot: Bot, twilio: Twilio) -> None:
    async with twilio.session.post(
        bot.webhook_url,
        data=b"From=%2B62812\xff\xfe&Body=\xc3",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": "c29tZXRoaW5n",
        },
    ) as response:
        assert response.status == 403
    assert received(bot) == []


async def test_missing_from_is_400(bot: Bot, twilio: Twilio, sms_user: str) -> None:
    reply = await twilio.message(bot, sms_user, "halo", drop=["From"])
    assert reply.status == 400
    assert received(bot) == []


async def test_public_webhook_url_behind_a_proxy(
    bots: Callable[..., Any], twilio: Twilio, sms_user: str
) -> None:
    public = "https://bot.lpse.example.go.id/webhooks/twilio/webhook"
    bot = await bots(webhook_url=public)
    ok = await twilio.message(bot, sms_user, "halo", signed_url=public)
    assert ok.status == 200 and ok.messages
    # Signed for the internal URL is not what Twilio would sign: refused.
    refused = await twilio.message(bot, sms_user, "halo")
    assert refused.status == 403


async def test_forwarded_headers_rebuild_the_public_url(
    bot: Bot, twilio: Twilio, sms_user: str
) -> None:
    public = "https://bot.lpse.example.go.id/webhooks/twilio/webhook"
    reply = await twilio.message(
        bot,
        sms_user,
        "halo",
        signed_url=public,
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "bot.lpse.example.go.id"},
    )
    assert reply.status == 200 and reply.messages


async def test_forged_host_header_is_refused_not_crashed(
    bot: Bot, twilio: Twilio, sms_user: str
) -> None:
    reply = await twilio.message(bot, sms_user, "halo", headers={"X-Forwarded-Host": "x:notaport"})
    assert reply.status == 403


# ------------------------------------------------------------------------- rendering


async def test_sms_user_gets_sms_variation_as_gsm7_with_numbered_options(
    bot: Bot, twilio: Twilio, sms_user: str
) -> None:
    reply = await twilio.message(bot, sms_user, "halo")
    assert reply.status == 200 and reply.is_twiml
    # Greeting and menu of one turn are joined into one message.
    assert len(reply.messages) == 1
    body = reply.messages[0].body
    assert body.startswith("Halo, selamat datang di LPSE Assist (SMS).")
    assert MENU_OPTIONS in body and "1. Tidak bisa login" in body
    assert is_gsm7(body)
    assert reply.messages[0].status_callback is None  # SMS replies need no fallback


async def test_whatsapp_user_gets_default_text_and_a_status_callback(
    bot: Bot, twilio: Twilio, wa_user: str
) -> None:
    reply = await twilio.message(bot, wa_user, "halo")
    assert reply.status == 200 and len(reply.messages) == 1
    message = reply.messages[0]
    assert (
        message.body == f"Halo, selamat datang di *LPSE Assist*.\n\nPilih topik:\n\n{MENU_OPTIONS}"
    )
    assert message.status_callback is not None
    callback = urlsplit(message.status_callback)
    assert callback.path == "/webhooks/twilio/status"
    query = parse_qs(callback.query)
    assert query["conv"] == [wa_user]
    assert "conv=whatsapp:%2B" in message.status_callback  # nothing a client would re-escape
    assert query["inbound"] == [twilio.sent_sids[-1]]
    # The sender id keeps the medium: WhatsApp and SMS are separate conversations.
    assert bot.processor is not None
    assert bot.processor.received[-1].sender_id == wa_user
    assert bot.processor.received[-1].output_channel.name() == "whatsapp"


async def test_same_person_on_sms_and_whatsapp_are_two_conversations(
    bot: Bot, twilio: Twilio
) -> None:
    await twilio.message(bot, "+6281299990000", "halo")
    await twilio.message(bot, "whatsapp:+6281299990000", "halo")
    assert bot.processor is not None
    senders = [m.sender_id for m in bot.processor.received]
    assert senders == ["+6281299990000", "whatsapp:+6281299990000"]
    assert [m.output_channel.name() for m in bot.processor.received] == ["sms", "whatsapp"]


async def test_messages_of_one_turn_are_joined(bot: Bot, twilio: Twilio, sms_user: str) -> None:
    reply = await twilio.message(bot, sms_user, "dua pesan")
    assert bodies(reply) == ["Pesan pertama.\n\nPesan kedua."]


@pytest.mark.parametrize("user", ["+6281234500001", "whatsapp:+6281234500002"])
async def test_long_reply_is_split_at_paragraphs_within_1600(
    bot: Bot, twilio: Twilio, user: str
) -> None:
    reply = await twilio.message(bot, user, "jawaban panjang")
    assert reply.status == 200
    assert len(reply.messages) >= 2
    original = TEST_DOMAIN["responses"]["utter_long"][0]["text"]  # type: ignore[index]
    paragraphs = original.split("\n\n")
    for body in bodies(reply):
        assert len(body) <= MAX_BODY_CHARS
        assert all(p in paragraphs for p in body.split("\n\n"))  # never cut mid-paragraph
    assert "\n\n".join(bodies(reply)) == original


async def test_sms_sanitiser_is_the_safety_net(bot: Bot, twilio: Twilio, sms_user: str) -> None:
    reply = await twilio.message(bot, sms_user, "emoji dong")
    body = bodies(reply)[0]
    assert is_gsm7(body)
    assert body == "\"Penting\" - klik 'Lupa'... tebal \u20ac"


async def test_whatsapp_keeps_emoji_and_markdown(bot: Bot, twilio: Twilio, wa_user: str) -> None:
    reply = await twilio.message(bot, wa_user, "emoji dong")
    assert "\U0001f44d" in bodies(reply)[0] and "*tebal*" in bodies(reply)[0]


# ------------------------------------------------------------------------- numbered replies


@pytest.mark.parametrize(
    ("answer", "payload"),
    [
        ("1", "/login_problem"),
        ("2.", "/forgot_password"),
        ("no 3", "/contact_support"),
        ("pilih 2", "/forgot_password"),
        ("Nomor 1", "/login_problem"),
    ],
)
async def test_numbered_reply_picks_the_option(
    bot: Bot, twilio: Twilio, sms_user: str, answer: str, payload: str
) -> None:
    await twilio.message(bot, sms_user, "halo")
    reply = await twilio.message(bot, sms_user, answer)
    assert received(bot)[-1] == payload
    assert reply.status == 200 and reply.messages


async def test_numbered_reply_uses_the_last_bot_message(
    bot: Bot, twilio: Twilio, wa_user: str
) -> None:
    await twilio.message(bot, wa_user, "halo")
    await twilio.message(bot, wa_user, "1")  # menu option 1 -> login question with 2 options
    reply = await twilio.message(bot, wa_user, "1")
    assert received(bot)[-2:] == ["/login_problem", "/login_wrong_credentials"]
    assert bodies(reply)[0].startswith("*Login kembali*")


async def test_out_of_range_number_shows_the_options_again(
    bot: Bot, twilio: Twilio, sms_user: str
) -> None:
    await twilio.message(bot, sms_user, "halo")
    sid = "SM" + "9" * 32
    reply = await twilio.message(bot, sms_user, "7", message_sid=sid)
    assert bodies(reply) == [f"Pilih topik:\n\n{MENU_OPTIONS}"]
    assert received(bot) == ["halo"]  # nothing new was said to Rasa
    # The options still stand: a valid number afterwards picks from them.
    await twilio.message(bot, sms_user, "3")
    assert received(bot)[-1] == "/contact_support"
    # A Twilio retry of the out-of-range message is recognised too (another replica's view).
    retry = await twilio.message(bot, sms_user, "7", message_sid=sid)
    assert retry.status == 200 and retry.messages == []


async def test_number_without_options_asks_for_the_menu(
    bot: Bot, twilio: Twilio, sms_user: str
) -> None:
    reply = await twilio.message(bot, sms_user, "2")
    assert received(bot) == [INTENT_MENU]
    assert MENU_OPTIONS in bodies(reply)[0]


async def test_numbered_reply_works_across_replicas(
    bots: Callable[..., Any], twilio: Twilio, wa_user: str
) -> None:
    domain = Domain.from_dict(TEST_DOMAIN)
    shared_store, shared_locks = InMemoryTrackerStore(domain), InMemoryLockStore()
    agent_a, processor_a = make_agent(shared_store, shared_locks)
    agent_b, processor_b = make_agent(shared_store, shared_locks)
    replica_a, replica_b = await bots(agent_a), await bots(agent_b)
    await twilio.message(replica_a, wa_user, "halo")
    await twilio.message(replica_b, wa_user, "2")
    assert processor_b.texts() == ["/forgot_password"]


# ------------------------------------------------------------------------- special inputs


@pytest.mark.parametrize(
    ("kwargs", "intent"),
    [
        ({"body": "", "media": [Media("https://x/1.jpg", "image/jpeg")]}, INTENT_MEDIA),
        ({"body": "", "media": [Media("https://x/1.png", "image/png")] * 2}, INTENT_MEDIA),
        (
            {"body": "", "media": [Media("https://x/s.webp", "image/webp")]},
            INTENT_UNSUPPORTED_MEDIA,
        ),
        ({"body": "", "media": [Media("https://x/a.ogg", "audio/ogg")]}, INTENT_UNSUPPORTED_MEDIA),
        ({"body": "", "media": [Media("https://x/v.mp4", "video/mp4")]}, INTENT_UNSUPPORTED_MEDIA),
        (
            {
                "body": "",
                "extra": {"Latitude": "-6.2", "Longitude": "106.8", "MessageType": "location"},
            },
            INTENT_UNSUPPORTED_MEDIA,
        ),
        ({"body": ""}, INTENT_EMPTY),
        ({"body": None}, INTENT_EMPTY),
        ({"body": " \t\x00\n "}, INTENT_EMPTY),
    ],
)
async def test_inputs_without_words_become_intents(
    bot: Bot, twilio: Twilio, wa_user: str, kwargs: dict[str, Any], intent: str
) -> None:
    reply = await twilio.message(bot, wa_user, **kwargs)
    assert reply.status == 200 and reply.is_twiml
    assert received(bot) == [intent]
    assert reply.messages and reply.messages[0].body


async def test_image_only_with_blank_body_field_passes_the_signature_check(
    bot: Bot, twilio: Twilio, sms_user: str
) -> None:
    # Twilio signs "Body=" too; a parser that drops blank fields would refuse the screenshot.
    reply = await twilio.message(bot, sms_user, "", media=[Media("https://x/e.jpg", "image/jpeg")])
    assert reply.status == 200
    assert bodies(reply) == ["Mohon ketik pesan yang muncul di layar."]  # SMS: no markdown


async def test_image_with_a_caption_is_read_as_text(bot: Bot, twilio: Twilio, wa_user: str) -> None:
    await twilio.message(
        bot, wa_user, "gagal login", media=[Media("https://x/1.jpg", "image/jpeg")]
    )
    assert received(bot) == ["gagal login"]


async def test_very_long_body_is_cut_before_nlu(bot: Bot, twilio: Twilio, sms_user: str) -> None:
    reply = await twilio.message(bot, sms_user, "tolong saya gagal login " * 400)
    assert reply.status == 200 and reply.messages
    assert 0 < len(received(bot)[0]) <= MAX_USER_TEXT_CHARS


@pytest.mark.parametrize("junk", HOSTILE_BODIES)
@pytest.mark.parametrize("user", ["+6281234500003", "whatsapp:+6281234500004"])
async def test_junk_is_answered_never_5xx(bot: Bot, twilio: Twilio, user: str, junk: str) -> None:
    reply = await twilio.message(bot, user, junk)
    assert reply.status == 200 and reply.is_twiml
    assert reply.messages  # every message gets an answer
    text = received(bot)[0]
    assert not text.startswith("/") or text in (INTENT_EMPTY,)
    assert not any(ord(c) < 32 and c != "\n" for c in text)


async def test_invalid_utf8_escapes_are_answered(bot: Bot, twilio: Twilio, sms_user: str) -> None:
    sid = "SM" + "8" * 32
    raw = f"From={quote(sms_user)}&To={quote(SMS_NUMBER)}&Body=%ED%A0%80%FF%C3&MessageSid={sid}"
    decoded = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(bot.webhook_url, decoded)
    async with twilio.session.post(
        bot.webhook_url,
        data=raw.encode("ascii"),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
    ) as response:
        assert response.status == 200
        assert "<Message>" in await response.text()
    # Undecodable bytes reach NLU as replacement characters, never as a crash.
    assert received(bot) == [b"\xed\xa0\x80\xff\xc3".decode("utf-8", "replace")]


async def test_rasa_failure_gets_the_fixed_fallback_not_5xx(
    bot: Bot, twilio: Twilio, sms_user: str
) -> None:
    reply = await twilio.message(bot, sms_user, "boom")
    assert reply.status == 200
    assert bodies(reply) == [FALLBACK_REPLY_TEXT]
    assert is_gsm7(FALLBACK_REPLY_TEXT)


async def test_no_model_loaded_gets_the_fixed_fallback(
    bots: Callable[..., Any], twilio: Twilio, sms_user: str
) -> None:
    agent, _ = make_agent()
    agent.processor = None
    bot = await bots(agent)
    reply = await twilio.message(bot, sms_user, "halo")
    assert reply.status == 200 and bodies(reply) == [FALLBACK_REPLY_TEXT]


async def test_without_an_agent_rasas_handler_is_used(twilio: Twilio, sms_user: str) -> None:
    # A bare Sanic app (no app.ctx.agent): the channel hands the message to on_new_message.
    seen: list[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        seen.append(message)
        assert message.output_channel is not None
        await message.output_channel.send_response(
            message.sender_id,
            {"text": "Halo \u201cdunia\u201d", "buttons": [{"title": "A", "payload": "/a"}]},
        )

    bot = await start_bot(make_channel(), None, on_new_message)
    sid = "SM" + "7" * 32
    try:
        reply = await twilio.message(bot, sms_user, "halo", message_sid=sid)
        assert bodies(reply) == ['Halo "dunia"\n\n1. A']
        assert len(seen) == 1
        message = seen[0]
        assert (message.text, message.sender_id, message.message_id) == ("halo", sms_user, sid)
        assert message.input_channel == "twilio"
        assert message.output_channel.name() == "sms"
        assert message.metadata == {
            "twilio": {"medium": "sms", "num_media": 0, "media_types": [], "message_type": None}
        }
        retry = await twilio.message(bot, sms_user, "halo", message_sid=sid)
        assert retry.messages == [] and len(seen) == 1  # the in-process fast path
    finally:
        await bot.stop()


# ------------------------------------------------------------------------- idempotency


async def test_retried_message_sid_gets_empty_response(
    bot: Bot, twilio: Twilio, sms_user: str
) -> None:
    sid = "SM" + "1" * 32
    first = await twilio.message(bot, sms_user, "halo", message_sid=sid)
    retry = await twilio.message(bot, sms_user, "halo", message_sid=sid)
    assert first.messages
    assert retry.status == 200 and retry.is_twiml and retry.messages == []
    assert received(bot) == ["halo"]


async def test_retry_on_another_replica_is_recognised_from_the_tracker(
    bots: Callable[..., Any], twilio: Twilio, wa_user: str
) -> None:
    domain = Domain.from_dict(TEST_DOMAIN)
    shared_store, shared_locks = InMemoryTrackerStore(domain), InMemoryLockStore()
    agent_a, processor_a = make_agent(shared_store, shared_locks)
    agent_b, processor_b = make_agent(shared_store, shared_locks)
    replica_a, replica_b = await bots(agent_a), await bots(agent_b)
    sid = "SM" + "2" * 32
    first = await twilio.message(replica_a, wa_user, "halo", message_sid=sid)
    retry = await twilio.message(replica_b, wa_user, "halo", message_sid=sid)
    assert first.messages and retry.messages == []
    assert processor_a.texts() == ["halo"] and processor_b.texts() == []


async def test_concurrent_duplicates_are_processed_once(
    bots: Callable[..., Any], twilio: Twilio, sms_user: str
) -> None:
    domain = Domain.from_dict(TEST_DOMAIN)
    shared_store, shared_locks = InMemoryTrackerStore(domain), InMemoryLockStore()
    agent_a, processor_a = make_agent(shared_store, shared_locks)
    agent_b, processor_b = make_agent(shared_store, shared_locks)
    replica_a, replica_b = await bots(agent_a), await bots(agent_b)
    sid = "SM" + "3" * 32
    replies = await asyncio.gather(
        *[
            twilio.message(r, sms_user, "halo", message_sid=sid)
            for r in (replica_a, replica_b, replica_a, replica_b)
        ]
    )
    assert all(r.status == 200 for r in replies)
    assert sum(1 for r in replies if r.messages) == 1
    assert len(processor_a.texts()) + len(processor_b.texts()) == 1


# ------------------------------------------------------------------------- SMS fallback


async def _wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)


def rest_sends(standin: LocalTwilio) -> list[dict[str, Any]]:
    return [m for m in standin.outbound if m["via"] == "rest"]


async def test_undelivered_whatsapp_reply_is_sent_once_as_sms(
    bot: Bot, standin: LocalTwilio, wa_user: str
) -> None:
    result = await standin.send_inbound(wa_user, "halo", delivery="undelivered")
    assert result["http_status"] == 200
    # Twilio may report the same reply again (failed after undelivered, retries).
    for message in result["messages"]:
        assert await standin.send_status(message["sid"], "failed") == 200
    await bot.channel.wait_for_background_sends()
    sends = rest_sends(standin)
    assert len(sends) == 1
    sms = sends[0]
    assert sms["to"] == wa_user.removeprefix("whatsapp:")
    assert sms["from"] == SMS_NUMBER
    assert (
        sms["body"]
        == f"Halo, selamat datang di LPSE Assist (SMS).\n\nPilih topik:\n\n{MENU_OPTIONS}"
    )
    assert is_gsm7(sms["body"])


async def test_fallback_is_sent_once_across_replicas(
    bots: Callable[..., Any], standin: LocalTwilio, wa_user: str
) -> None:
    domain = Domain.from_dict(TEST_DOMAIN)
    shared_store, shared_locks = InMemoryTrackerStore(domain), InMemoryLockStore()
    replica_a = await bots(make_agent(shared_store, shared_locks)[0])
    replica_b = await bots(make_agent(shared_store, shared_locks)[0])
    standin.webhook_url = replica_a.webhook_url
    result = await standin.send_inbound(wa_user, "login", delivery="undelivered")
    callback = result["messages"][0]["status_callback"]
    # The same report reaches replica B (load balancer): it must not send a second SMS.
    message = result["messages"][0]
    message["status_callback"] = callback.replace(replica_a.base_url, replica_b.base_url)
    assert await standin.send_status(message["sid"], "failed") == 200
    await replica_a.channel.wait_for_background_sends()
    await replica_b.channel.wait_for_background_sends()
    sends = rest_sends(standin)
    assert len(sends) == 1
    assert (
        sends[0]["body"] == "Pesan apa yang muncul?\n\n1. User ID atau Password salah\n2. Lainnya"
    )
    # The claim is recorded with the reply, shared by both replicas, not in the tracker.
    inbound_sid = parse_qs(urlsplit(callback).query)["inbound"][0]
    record = reply_store_for(shared_store).get(inbound_sid)
    assert record is not None and record.fallback_status == "undelivered"  # the first report
    tracker = await shared_store.retrieve(wa_user)
    assert tracker is not None
    assert not [e for e in tracker.events if isinstance(e, AgentUttered)]


async def test_sms_version_uses_the_sms_variation(
    bot: Bot, standin: LocalTwilio, wa_user: str
) -> None:
    await standin.send_inbound(wa_user, "halo")
    await standin.send_inbound(wa_user, "1")
    result = await standin.send_inbound(wa_user, "1", delivery="failed")
    assert result["messages"][0]["body"].startswith("*Login kembali*")
    await bot.channel.wait_for_background_sends()
    assert [m["body"] for m in rest_sends(standin)] == ["Login kembali dengan User ID yang benar."]


async def test_delivered_reply_sends_no_sms(bot: Bot, standin: LocalTwilio, wa_user: str) -> None:
    result = await standin.send_inbound(wa_user, "halo", delivery="delivered")
    assert [c["http_status"] for c in standin.status_callbacks] == [200, 200]
    assert result["messages"]
    await bot.channel.wait_for_background_sends()
    assert rest_sends(standin) == []


async def test_unsigned_or_tampered_status_callback_is_refused(
    bot: Bot, standin: LocalTwilio, twilio: Twilio, wa_user: str
) -> None:
    result = await standin.send_inbound(wa_user, "halo")
    callback = result["messages"][0]["status_callback"]
    form = {
        "MessageSid": "SM" + "4" * 32,
        "MessageStatus": "undelivered",
        "AccountSid": ACCOUNT_SID,
    }
    async with twilio.session.post(callback, data=form) as response:
        assert response.status == 403
    # Signed, but for a URL whose conversation was swapped (to make the bot SMS someone else).
    tampered = re.sub(r"conv=[^&]+", "conv=whatsapp:%2B6289999999999", callback)
    assert tampered != callback
    signature = RequestValidator(AUTH_TOKEN).compute_signature(callback, form)
    async with twilio.session.post(
        tampered, data=form, headers={"X-Twilio-Signature": signature}
    ) as response:
        assert response.status == 403
    await bot.channel.wait_for_background_sends()
    assert rest_sends(standin) == []


async def test_status_for_unknown_reply_sends_nothing(
    bot: Bot, twilio: Twilio, standin: LocalTwilio, wa_user: str
) -> None:
    url = f"{bot.status_url}?conv=whatsapp:%2B6281200000000&inbound=SM{'5' * 32}"
    form = {"MessageSid": "SM" + "6" * 32, "MessageStatus": "failed", "AccountSid": ACCOUNT_SID}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, form)
    async with twilio.session.post(url, data=form, headers={"X-Twilio-Signature": signature}) as r:
        assert r.status == 200
    await bot.channel.wait_for_background_sends()
    assert rest_sends(standin) == []


async def test_fallback_send_retries_server_errors(
    bot: Bot, standin: LocalTwilio, wa_user: str
) -> None:
    standin.rest_failures = [500, 503]
    await standin.send_inbound(wa_user, "halo", delivery="undelivered")
    await bot.channel.wait_for_background_sends()
    assert standin.rest_attempts == 3
    assert len(rest_sends(standin)) == 1


async def test_fallback_send_does_not_retry_client_errors(
    bot: Bot, standin: LocalTwilio, wa_user: str
) -> None:
    standin.rest_failures = [400]
    await standin.send_inbound(wa_user, "halo", delivery="undelivered")
    await bot.channel.wait_for_background_sends()
    assert standin.rest_attempts == 1
    assert rest_sends(standin) == []


async def test_fallback_send_gives_up_after_bounded_attempts(
    bot: Bot, standin: LocalTwilio, wa_user: str
) -> None:
    standin.rest_failures = [500] * 10
    await standin.send_inbound(wa_user, "halo", delivery="undelivered")
    await bot.channel.wait_for_background_sends()
    assert standin.rest_attempts == 3  # send_attempts of the test channel
    assert rest_sends(standin) == []


# ------------------------------------------------------------------------- logging


async def test_logs_never_show_a_whole_number_or_the_body(
    bot: Bot, standin: LocalTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    user = "whatsapp:+6281234567890"
    secret_text = "rahasia perusahaan kami login"
    with caplog.at_level(logging.DEBUG, logger="lpse_assist"):
        await standin.send_inbound(user, secret_text, delivery="undelivered")
        await bot.channel.wait_for_background_sends()
    info = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert any("+62812****7890" in line for line in info)
    for line in [r.getMessage() for r in caplog.records]:
        assert "6281234567890" not in line
        assert secret_text not in line
    assert len(rest_sends(standin)) == 1


async def test_status_callback_url_is_derived_from_the_public_webhook_url() -> None:
    channel = TwilioInput(
        ACCOUNT_SID,
        AUTH_TOKEN,
        SMS_NUMBER,
        "whatsapp:+1",
        webhook_url="https://bot.example.go.id/hooks/twilio/webhook",
    )

    class _Request:
        path = "/webhooks/twilio/webhook"
        query_string = ""
        headers: dict[str, str] = {}
        scheme = "http"
        host = "internal:5005"

    url = channel._status_callback_url(_Request(), "whatsapp:+62811", "SMabc")  # type: ignore[arg-type]
    assert (
        url == "https://bot.example.go.id/hooks/twilio/status?conv=whatsapp:%2B62811&inbound=SMabc"
    )
    assert re.match(r"^https://", url)
