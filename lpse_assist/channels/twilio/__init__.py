"""Twilio channel: WhatsApp and SMS users on one webhook, answered in the same HTTP response.

Routes (Rasa mounts them under ``/webhooks/twilio``):

* ``POST /webhook``: a message from a user, form-encoded by Twilio. ``whatsapp:+62...`` senders
  are WhatsApp users, plain ``+62...`` senders SMS users. The user sees the bot's answer as one
  or a few messages (TwiML ``<Message>`` elements, each at most 1600 characters).
* ``POST /status``: Twilio's delivery report for a WhatsApp reply. When WhatsApp could not
  deliver it (``undelivered``/``failed``), the user receives the SMS version of the same reply
  from ``TWILIO_SMS_NUMBER`` instead, once.
* ``GET /``: health check.

Every POST must carry a valid ``X-Twilio-Signature`` (403 otherwise) and nothing unsigned is
processed. The conversation id is the full ``From`` value, so the same person on SMS and on
WhatsApp has two conversations, each rendered for its medium (Rasa picks ``channel: sms`` /
``channel: whatsapp`` response variations by the output channel's name).

Inputs without words are sent to Rasa as intents, so every sentence the user reads lives in
``domain.yml``: ``/send_media`` (image without text), ``/send_unsupported_media`` (location,
audio, video, sticker, document, contact) and ``/send_empty`` (nothing at all). A bare number
("2", "no 2", "pilih 2") picks an option of the last bot message, read from the tracker, by
the rule of ``lpse_assist.channels.choices`` (shared with the REST channel).

Idempotency: Twilio's ``MessageSid`` becomes the ``message_id`` of the user event, and each
answered MessageSid gets a reply record (``records``: a row in the tracker store's database,
not an event in the tracker). A message whose id is in the current session or has a record
(shared by all replicas) is answered with an empty ``<Response/>``; the check and the
processing run under the agent's lock for that sender, on the one tracker load of the
message (``lpse_assist.sessions``, which also bounds how long a session Rasa replays).

One concern per module, as Rasa's own voice channels are split: ``request`` (form, signature,
what Rasa gets), ``records`` (idempotency and reply records), ``fallback`` (SMS fallback),
``output`` (collectors and TwiML), ``channel`` (``TwilioInput``, the routes). The channel's
path in ``credentials.yml`` stays ``lpse_assist.channels.twilio.TwilioInput``.
"""

from __future__ import annotations

from lpse_assist.channels.twilio.channel import TwilioInput
from lpse_assist.channels.twilio.output import FALLBACK_REPLY_TEXT
from lpse_assist.channels.twilio.request import (
    INTENT_EMPTY,
    INTENT_MEDIA,
    INTENT_UNSUPPORTED_MEDIA,
    MAX_USER_TEXT_CHARS,
    clean_text,
    medium_of,
)

__all__ = [
    "FALLBACK_REPLY_TEXT",
    "INTENT_EMPTY",
    "INTENT_MEDIA",
    "INTENT_UNSUPPORTED_MEDIA",
    "MAX_USER_TEXT_CHARS",
    "TwilioInput",
    "clean_text",
    "medium_of",
]
