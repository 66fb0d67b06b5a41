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
) -> dict[str, str]:
    """The form fields Twilio posts for an inbound SMS or WhatsApp message.

    ``body=None`` leaves the ``Body`` field out (some Twilio products do); ``extra`` adds or
    overrides fields (``Latitude``/``Longitude`` for a location, ``MessageType``, ...).
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
    if from_.startswith("whatsapp:"):
        form["WaId"] = from_.split(":", 1)[1].lstrip("+")
        form["ProfileName"] = profile_name or "Pengguna"
        form["MessageType"] = media[0].content_type.split("/")[0] if media else "text"
        form["ReferralNumMedia"] = "0"
    for index, item in enumerate(media):
        form[f"MediaUrl{index}"] = item.url
        form[f"MediaContentType{index}"] = item.content_type
    form.update(extra or {})
    return form


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
