"""Property-based tests (Hypothesis): whatever Twilio, a user or an attacker sends, the webhook
answers 2xx/4xx with valid TwiML, never 5xx; every message body is at most 1600 characters and
SMS bodies are GSM-7; the numbered-choice parser and the renderer hold for any Unicode text of
any length. Example counts stay modest so `make test` stays fast."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lpse_assist.channels.choices import parse_choice
from lpse_assist.channels.sender_limit import MemoryCounter, SenderLimiter
from lpse_assist.channels.twilio.request import clean_text, medium_of
from lpse_assist.render import MAX_BODY_CHARS, _units, is_gsm7, render_turn
from lpse_assist.twilio_local import parse_twiml, post_signed
from tests.lpse_assist.channels.harness import ACCOUNT_SID, AUTH_TOKEN, Bot

HTTP = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PURE = settings(max_examples=150, deadline=None)

# Text from every Unicode plane (emoji, RTL, combining marks, controls), but no lone
# surrogates: they cannot be encoded into a form, by Twilio or anyone.
ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=3000)
SHORT_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
TWILIO_FIELDS = [
    "Body",
    "NumMedia",
    "MediaContentType0",
    "MediaUrl0",
    "MessageType",
    "Latitude",
    "Longitude",
    "MessageSid",
    "SmsMessageSid",
    "ProfileName",
]
SENDERS = st.one_of(
    st.sampled_from(["+6281234567890", "whatsapp:+6281234567890", "+15005550006"]),
    st.builds(lambda n: f"whatsapp:+62{n}", st.integers(10**8, 10**12)),
    st.builds(lambda n: f"+62{n}", st.integers(10**8, 10**12)),
    SHORT_TEXT,  # anything at all, also empty
)
FORMS = st.fixed_dictionaries(
    {"From": SENDERS},
    optional={
        "Body": ANY_TEXT,
        "NumMedia": st.one_of(SHORT_TEXT, st.integers(-5, 50).map(str)),
        "MediaContentType0": st.sampled_from(["image/jpeg", "image/webp", "audio/ogg", ""]),
        "MessageType": st.sampled_from(["text", "image", "location", "sticker", "", "zz"]),
        "Latitude": SHORT_TEXT,
        "Longitude": SHORT_TEXT,
        "MessageSid": SHORT_TEXT,
    },
).flatmap(
    lambda form: st.dictionaries(
        st.one_of(st.sampled_from(TWILIO_FIELDS), SHORT_TEXT), SHORT_TEXT, max_size=6
    ).map(lambda extra: {**extra, **form})
)


def assert_valid_answer(status: int, text: str, sender: str) -> None:
    """2xx/4xx; a 200 is TwiML whose messages fit Twilio (and GSM-7 for SMS users)."""
    assert 200 <= status < 500, (status, text[:300])
    if status != 200:
        return
    is_twiml, messages = parse_twiml(text)
    assert is_twiml, text[:300]
    for message in messages:
        assert _units(message.body) <= MAX_BODY_CHARS
        if medium_of(sender.strip()) == "sms":
            assert is_gsm7(message.body), message.body


async def open_bot(bots: Callable[..., Any]) -> Bot:
    # Limit off: every example is processed (the limit has its own tests).
    bot: Bot = await bots(sender_limit=SenderLimiter(0, MemoryCounter()))
    return bot


# ------------------------------------------------------------------------- the webhook


@HTTP
@given(form=FORMS)
async def test_any_signed_form_gets_2xx_or_4xx_and_valid_twiml(
    bots: Callable[..., Any], form: dict[str, str]
) -> None:
    bot = await open_bot(bots)
    form.setdefault("AccountSid", ACCOUNT_SID)
    async with aiohttp.ClientSession() as session:
        reply = await post_signed(session, bot.webhook_url, form, AUTH_TOKEN)
    assert_valid_answer(reply.status, reply.text, form["From"])
    if form["From"].strip():
        assert reply.status == 200  # signed, with a sender: always answered


@HTTP
@given(
    body=st.binary(max_size=4000),
    content_type=st.sampled_from(
        ["application/x-www-form-urlencoded", "application/json", "text/plain", ""]
    ),
    # Any value an HTTP client can put in a header (printable ASCII: no CR/LF).
    signature=st.one_of(st.none(), st.text(st.characters(min_codepoint=32, max_codepoint=126))),
)
async def test_any_bytes_get_a_4xx_never_a_5xx(
    bots: Callable[..., Any], body: bytes, content_type: str, signature: str | None
) -> None:
    bot = await open_bot(bots)
    headers = {"Content-Type": content_type}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    async with aiohttp.ClientSession() as session:
        for route in (bot.webhook_url, bot.status_url):
            async with session.post(route, data=body, headers=headers) as reply:
                assert 400 <= reply.status < 500, (route, reply.status)


# ------------------------------------------------------------------------- pure functions


@PURE
@given(text=ANY_TEXT)
def test_parse_choice_never_fails_and_reads_only_small_numbers(text: str) -> None:
    choice = parse_choice(text)
    assert choice is None or 0 <= choice <= 999
    if choice is not None:  # only a short reply with a number in it is a choice
        assert any(ch.isdigit() for ch in text) and len(text.strip()) <= 40, text


@PURE
@given(
    number=st.integers(0, 999),
    prefix=st.sampled_from(["", "no ", "No. ", "nomor ", "pilih ", "pilih no ", "opsi ", "#"]),
    suffix=st.sampled_from(["", ".", ")", " "]),
    padding=st.sampled_from(["", " ", "  \n"]),
)
def test_parse_choice_reads_every_numbered_reply(
    number: int, prefix: str, suffix: str, padding: str
) -> None:
    assert parse_choice(f"{padding}{prefix}{number}{suffix}{padding}") == number


@PURE
@given(text=ANY_TEXT, medium=st.sampled_from(["sms", "whatsapp"]))
def test_clean_text_is_bounded_and_never_an_intent(text: str, medium: Any) -> None:
    cleaned = clean_text(text, medium)
    assert len(cleaned) <= 1000 and not cleaned.startswith("/")


MESSAGES = st.lists(
    st.fixed_dictionaries(
        {"text": ANY_TEXT},
        optional={
            "buttons": st.lists(
                st.fixed_dictionaries({"title": SHORT_TEXT, "payload": SHORT_TEXT}), max_size=12
            ),
            "image": SHORT_TEXT,
        },
    ),
    max_size=6,
)


@PURE
@given(messages=MESSAGES, medium=st.sampled_from(["sms", "whatsapp"]))
def test_rendered_bodies_fit_twilio_and_sms_is_gsm7(messages: list[Any], medium: Any) -> None:
    bodies = render_turn(messages, medium)
    for body in bodies:
        assert body.strip() and _units(body) <= MAX_BODY_CHARS
        if medium == "sms":
            assert is_gsm7(body), body
    # Something to say is never dropped whole (a text of only emoji or control characters
    # may render to nothing on SMS).
    if any(ch.isascii() and ch.isalnum() for m in messages for ch in m["text"]):
        assert bodies
