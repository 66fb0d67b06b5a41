"""Intents that the Twilio channel sends as payloads; users never type them.

They have no NLU training examples on purpose (a text must never be classified as one),
so `scripts/validate.py` accepts Rasa's "not found in the NLU training data" warning for
exactly these names.
"""

from __future__ import annotations

MEDIA_INTENT = "send_media"
UNSUPPORTED_MEDIA_INTENT = "send_unsupported_media"
EMPTY_MESSAGE_INTENT = "send_empty"

CHANNEL_INTENTS = frozenset({MEDIA_INTENT, UNSUPPORTED_MEDIA_INTENT, EMPTY_MESSAGE_INTENT})
