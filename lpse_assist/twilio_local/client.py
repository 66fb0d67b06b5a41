"""Talk to a bot's Twilio webhook exactly as Twilio does: form fields, signature, TwiML back.

Used by the local stand-in, the probe script and the tests, so all three send the same
requests a real Twilio account would.
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

import aiohttp
from twilio.request_validator import RequestValidator
from yarl import URL

from lpse_assist.privacy import is_whatsapp

API_VERSION = "2010-04-01"
# Twilio gives up on a webhook after 15 seconds.
WEBHOOK_TIMEOUT_SECONDS = 15.0


def new_sid(prefix: str = "SM") -> str:
    """A Twilio-shaped SID: two letters and 32 hex digits."""
    return prefix + secrets.token_hex(16)


@dataclass(frozen=True)
class Media:
    """One attachment of an inbound message."""

    url: str
    content_type: str


def inbound_form(
    *,
    account_sid: str,
    from_: str,
    to: str,
    body: str | None = "",
    media: Sequence[Media] = (),
    message_sid: str | None = None,
    profile_name: str | None = None,
    extra: Mapping[str, str] | None = None,
    drop: Sequence[str] = (),
) -> dict[str, str]:
    """The form fields Twilio posts for an inbound SMS or WhatsApp message.

    ``body=None`` leaves the ``Body`` field out (some Twilio products do); ``extra`` adds or
    overrides fields (``Latitude``/``Longitude`` for a location, ``MessageType``, ...);
    ``drop`` leaves fields out (a request Twilio would not send).
    """
    sid = message_sid or new_sid("MM" if media else "SM")
    form: dict[str, str] = {
        "ToCountry": "ID",
        "SmsMessageSid": sid,
        "NumMedia": str(len(media)),
        "SmsSid": sid,
        "SmsStatus": "received",
        "To": to,
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": account_sid,
        "From": from_,
        "ApiVersion": API_VERSION,
    }
    if body is not None:
        form["Body"] = body
    if is_whatsapp(from_):
        form["WaId"] = from_.split(":", 1)[1].lstrip("+")
        form["ProfileName"] = profile_name or "Pengguna"
        form["MessageType"] = media[0].content_type.split("/")[0] if media else "text"
        form["ReferralNumMedia"] = "0"
    for index, item in enumerate(media):
        form[f"MediaUrl{index}"] = item.url
        form[f"MediaContentType{index}"] = item.content_type
    form.update(extra or {})
    for name in drop:
        form.pop(name, None)
    return form


def bot_number(from_: str, sms_number: str, whatsapp_number: str) -> str:
    """The bot's number a user writes to: its WhatsApp sender for WhatsApp users, else SMS."""
    return whatsapp_number if is_whatsapp(from_) else sms_number


# Bodies no user should be able to hurt the bot with: emoji floods, control and escape codes,
# markup and injection strings, text that reads as a Rasa intent, bidi tricks, 5000
# characters, non-characters, bare line breaks and NULs. Every one must get an answer.
HOSTILE_BODIES = [
    "\U0001f600\U0001f525\U0001f1ee\U0001f1e9" * 50,
    "\x00\x01\x02\x1b[31mmerah\x1b[0m\x7f",
    "<script>alert(1)</script>",
    "'; DROP TABLE events; --",
    "{{7*7}} ${jndi:ldap://x/a} %s%n%x",
    "/restart",
    '/greet{"name": "x"}',
    "\u202eoll\u0336eh\u200d",
    "a" * 5000,
    "\ufffd\uffff\U0010ffff\ufeff",
    "\r\n\r\n\r\n",
    "\u0000" * 100,
]


def signature(auth_token: str, url: str, form: Mapping[str, str]) -> str:
    """``X-Twilio-Signature`` for a POST of ``form`` to ``url``."""
    return str(RequestValidator(auth_token).compute_signature(url, dict(form)))


@dataclass(frozen=True)
class TwimlMessage:
    """One ``<Message>`` of a TwiML reply."""

    body: str
    status_callback: str | None = None


@dataclass
class WebhookReply:
    """What the bot answered to one webhook call."""

    status: int
    text: str
    messages: list[TwimlMessage] = field(default_factory=list)
    is_twiml: bool = False


def parse_twiml(text: str) -> tuple[bool, list[TwimlMessage]]:
    """``(is_twiml, messages)`` of a response body; is_twiml is False for anything else."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return False, []
    if root.tag != "Response":
        return False, []
    messages = []
    for element in root.iter("Message"):
        # <Message>text</Message> or <Message><Body>text</Body></Message>
        body_element = element.find("Body")
        body = body_element.text if body_element is not None else element.text
        messages.append(
            TwimlMessage(body=body or "", status_callback=element.get("statusCallback"))
        )
    return True, messages


async def post_signed(
    session: aiohttp.ClientSession,
    url: str,
    form: Mapping[str, str],
    auth_token: str | None,
    *,
    signed_url: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> WebhookReply:
    """POST ``form`` to ``url`` like Twilio; ``auth_token=None`` sends no signature.

    ``signed_url`` signs for a different URL than the one called (what a proxy in between
    or a forger would produce).
    """
    all_headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "TwilioProxy/1.1",
        "I-Twilio-Idempotency-Token": secrets.token_hex(16),
        **(headers or {}),
    }
    if auth_token is not None:
        all_headers["X-Twilio-Signature"] = signature(auth_token, signed_url or url, form)
    async with session.post(
        # encoded=True: request exactly this URL, as Twilio does (the signature covers it).
        URL(url, encoded=True),
        data=urlencode(list(form.items())),
        headers=all_headers,
        timeout=aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT_SECONDS),
    ) as response:
        text = await response.text()
        is_twiml, messages = parse_twiml(text)
        return WebhookReply(response.status, text, messages, is_twiml)
