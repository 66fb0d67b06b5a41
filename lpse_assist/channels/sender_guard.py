"""The REST channel may never speak as a WhatsApp or SMS user.

Conversations are keyed by the sender id alone, so a REST request with
``"sender": "whatsapp:+62812..."`` would read and write that person's WhatsApp conversation
(their topic, their tickets). The REST channel is for development and tests; it gets no
sender id that is, or could be taken for, a Twilio address: ``whatsapp:...``, ``sms:...``,
``+62...``, a bare phone number, whatever the case, spaces or look-alike characters.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Any

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

# Address schemes Twilio puts in ``From`` (WhatsApp, SMS/MMS, Messenger, RCS, voice).
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:")
# A bare phone number may carry these separators; 5 digits or more make it one.
_PHONE_SEPARATORS = frozenset("().-/")
_PHONE_MIN_DIGITS = 5

REFUSAL = (
    "This sender id is reserved for WhatsApp and SMS conversations (a 'whatsapp:' or "
    "'+' address or a phone number); the REST channel cannot use it. Pick another id."
)


def canonical_sender(sender: Any) -> str:
    """The sender id as a lookup would see it: NFKC, no whitespace or invisible characters,
    case-folded (full-width "＋" and "ＷhatsApp:" become "+" and "whatsapp:")."""
    text = unicodedata.normalize("NFKC", str(sender))
    kept = (ch for ch in text if not ch.isspace() and unicodedata.category(ch)[0] not in "CZ")
    return "".join(kept).casefold()


def is_twilio_sender(sender: Any) -> bool:
    """True when ``sender`` is (or could be taken for) a Twilio conversation id."""
    if sender is None:
        return False  # Rasa's REST channel then uses "default"
    canonical = canonical_sender(sender)
    if canonical.startswith("+") or _SCHEME.match(canonical):
        return True
    digits = sum(ch.isdigit() for ch in canonical)
    return digits >= _PHONE_MIN_DIGITS and all(
        ch.isdigit() or ch in _PHONE_SEPARATORS for ch in canonical
    )


async def refuse_twilio_senders(request: Request) -> HTTPResponse | None:
    """Sanic request middleware of the REST channel: 403 for a Twilio sender id."""
    if request.method != "POST":
        return None
    try:
        body = request.json if request.body else None
    except Exception:  # noqa: BLE001 - malformed JSON: Rasa's handler answers it
        return None
    if not isinstance(body, dict) or not is_twilio_sender(body.get("sender")):
        return None
    logger.warning("Refused a REST message that used a WhatsApp/SMS sender id.")
    return response.json({"error": "reserved_sender", "message": REFUSAL}, status=403)
