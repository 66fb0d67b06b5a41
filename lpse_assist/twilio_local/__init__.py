"""A local stand-in for Twilio (``python -m lpse_assist.twilio_local``), for tests and demos."""

from __future__ import annotations

from lpse_assist.twilio_local.client import (
    Media,
    TwimlMessage,
    WebhookReply,
    inbound_form,
    new_sid,
    parse_twiml,
    post_signed,
    signature,
)
from lpse_assist.twilio_local.server import LocalTwilio

__all__ = [
    "LocalTwilio",
    "Media",
    "TwimlMessage",
    "WebhookReply",
    "inbound_form",
    "new_sid",
    "parse_twiml",
    "post_signed",
    "signature",
]
