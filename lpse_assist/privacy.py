"""Phone numbers fit for logs, tickets and review files.

Light on purpose (standard library only): the action server, ``make review`` and
``make tickets`` use it without loading Rasa. Same masking as the Twilio channel's
``mask_phone``: ``whatsapp:+6281234567890`` -> ``whatsapp:+62812****7890``.
"""

from __future__ import annotations

import re

# Runs of 8+ digits (optionally with a leading +, spaces or dashes inside) in free text:
# phone numbers users type into a message ("hubungi saya di 0812-3456-7890").
_NUMBER_IN_TEXT = re.compile(r"\+?\d(?:[ \-.]?\d){7,}")


def mask_phone(value: str) -> str:
    """A phone number fit for logs: ``whatsapp:+6281234567890`` -> ``whatsapp:+62812****7890``."""
    prefix, separator, number = value.rpartition(":")
    head = f"{prefix}{separator}"
    if len(number) >= 10:
        return f"{head}{number[:6]}****{number[-4:]}"
    if len(number) >= 5:
        return f"{head}{number[:2]}****{number[-2:]}"
    return f"{head}****"


def mask_numbers_in_text(text: str) -> str:
    """User text with every phone-like number masked (keeps the first 4 and last 2 digits)."""

    def mask(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        plus = "+" if match.group(0).startswith("+") else ""
        return f"{plus}{digits[:4]}****{digits[-2:]}"

    return _NUMBER_IN_TEXT.sub(mask, text)


def is_whatsapp(address: str) -> bool:
    """True for Twilio's WhatsApp addresses (``whatsapp:+62...``); plain ``+62...`` is SMS."""
    return address.lower().startswith("whatsapp:")


def medium_of_sender(sender_id: str, input_channel: str | None = None) -> str:
    """``whatsapp`` or ``sms`` for Twilio conversations; otherwise the input channel's name."""
    if is_whatsapp(sender_id):
        return "whatsapp"
    if input_channel == "twilio" or re.fullmatch(r"\+\d{6,15}", sender_id):
        return "sms"
    return input_channel or "unknown"
