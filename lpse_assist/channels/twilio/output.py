"""What goes back to Twilio: the bot's messages of a turn, rendered per medium, as TwiML.

The user sees the bot's answer as one or a few messages (TwiML ``<Message>`` elements, each at
most 1600 characters). Rasa picks ``channel: sms`` / ``channel: whatsapp`` response variations
by the output channel's name; the SMS version of a WhatsApp reply (for the SMS fallback) is
each response generated again for ``sms``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel
from sanic import response
from sanic.response import HTTPResponse
from twilio.twiml.messaging_response import MessagingResponse

from lpse_assist.render import Medium, message_buttons, render_turn

logger = logging.getLogger(__name__)

# The only sentence the channel writes itself. Used when Rasa fails (exception, no model
# loaded): then no domain response can be rendered, and Twilio must still get a 200 (a 5xx
# would only make Twilio log an error and the user would hear nothing). GSM-7 only, so it is
# one SMS segment.
FALLBACK_REPLY_TEXT = (
    "Maaf, layanan sedang mengalami gangguan. Silakan coba lagi beberapa saat lagi."
)

# Message keys that are not template variables when a response is rendered again for SMS
# (some also clash with NaturalLanguageGenerator.generate's own parameters).
_NOT_TEMPLATE_VARIABLES = frozenset(
    {
        "text",
        "buttons",
        "quick_replies",
        "elements",
        "attachment",
        "image",
        "custom",
        "timestamp",
        "recipient_id",
        "utter_action",
        "tracker",
        "output_channel",
        "domain_responses",
        "response",
    }
)


class _TurnCollector(CollectingOutputChannel):
    """Collects the bot messages of one turn whole (text, buttons and response name)."""

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        # Keep the full message: the channel renders options itself and needs the response
        # name (utter_action) to render the SMS version of a WhatsApp reply.
        self.messages.append(dict(message))


class SmsCollector(_TurnCollector):
    """Output channel of SMS users: Rasa picks ``channel: sms`` response variations."""

    @classmethod
    def name(cls) -> str:
        return "sms"


class WhatsAppCollector(_TurnCollector):
    """Output channel of WhatsApp users: Rasa picks ``channel: whatsapp`` variations."""

    @classmethod
    def name(cls) -> str:
        return "whatsapp"


def collector_for(medium: Medium) -> _TurnCollector:
    """A fresh collecting output channel named after the medium."""
    return WhatsAppCollector() if medium == "whatsapp" else SmsCollector()


def twiml_response(bodies: Sequence[str], status_callback: str | None = None) -> HTTPResponse:
    """TwiML reply: one ``<Message>`` per body (none for an empty ``<Response/>``)."""
    twiml = MessagingResponse()
    for body in bodies:
        if status_callback:
            twiml.message(body, status_callback=status_callback)
        else:
            twiml.message(body)
    return response.text(str(twiml), content_type="application/xml; charset=utf-8")


async def sms_bodies(agent: Any, tracker: Any, messages: Sequence[Mapping[str, Any]]) -> list[str]:
    """The SMS rendering of a WhatsApp reply: each response generated again for ``sms``."""
    processor = agent.processor
    nlg = getattr(processor, "nlg", None) or agent.nlg
    domain = getattr(processor, "domain", None) or agent.domain
    responses = domain.responses if domain is not None else {}
    sms_messages: list[Mapping[str, Any]] = []
    for message in messages:
        sms_messages.append(await _sms_version(nlg, tracker, responses, message))
    return render_turn(sms_messages, "sms")


async def _sms_version(
    nlg: Any, tracker: Any, responses: Any, message: Mapping[str, Any]
) -> Mapping[str, Any]:
    name = message.get("utter_action")
    if not isinstance(name, str) or not name:
        return message  # text from a custom action: to_gsm7 is all we can do
    variables = {
        k: v for k, v in message.items() if isinstance(k, str) and k not in _NOT_TEMPLATE_VARIABLES
    }
    try:
        generated = await nlg.generate(
            name, tracker, "sms", domain_responses=responses, **variables
        )
    except Exception:
        # A broken SMS variation must not cost the user the WhatsApp answer.
        logger.warning("Could not render %s for SMS; using the WhatsApp text.", name, exc_info=True)
        return message
    if not generated:
        return message
    if not message_buttons(generated) and message_buttons(message):
        # Buttons added by a custom action are not part of the response template.
        generated = {**generated, "buttons": message_buttons(message)}
    return dict(generated)
