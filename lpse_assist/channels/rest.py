"""Rasa's REST channel, plus numbered replies: "2" picks option 2 of the last bot message.

Web and terminal clients show buttons, but people type the number anyway (they do on
WhatsApp); without this, a bare "2" would go to the NLU model and land on a random intent.
The choice is read from the tracker, so it works across replicas, like the Twilio channel.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput as RasaRestInput
from sanic import Blueprint
from sanic.request import Request

from lpse_assist.channels.sender_guard import refuse_twilio_senders
from lpse_assist.channels.twilio import INTENT_MENU, last_bot_message_with_options, parse_choice
from lpse_assist.render import message_buttons

logger = logging.getLogger(__name__)


async def resolve_choice(request: Request, sender: str, text: str) -> str | None:
    """The payload a bare number stands for, `/ask_menu` when it matches no option, else None."""
    choice = parse_choice(text)
    agent = getattr(request.app.ctx, "agent", None)
    if choice is None or agent is None:
        return None
    tracker = await agent.tracker_store.retrieve(sender)
    options = last_bot_message_with_options(list(tracker.events) if tracker else [])
    buttons = message_buttons(options) if options else []
    if not 1 <= choice <= len(buttons):
        return INTENT_MENU
    button = buttons[choice - 1]
    return str(button.get("payload") or button.get("title") or INTENT_MENU)


class RestInput(RasaRestInput):
    """`POST /webhooks/rest/webhook`, as Rasa's, where a typed number picks an option."""

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)
        # First: a WhatsApp/SMS sender id is refused before anything reads its tracker.
        blueprint.middleware("request")(refuse_twilio_senders)

        @blueprint.middleware("request")
        async def map_numbered_reply(request: Request) -> None:
            if request.method != "POST" or not request.path.endswith("/webhook"):
                return
            try:
                body = request.json if request.body else None
            except Exception:  # noqa: BLE001 - malformed JSON: Rasa's handler answers it
                return
            if not isinstance(body, dict) or not isinstance(body.get("message"), str):
                return  # Rasa's handler answers malformed requests itself.
            payload = await resolve_choice(request, str(body.get("sender")), body["message"])
            if payload is not None:
                logger.debug("Numbered reply mapped to %s", payload)
                body["message"] = payload

        return blueprint
