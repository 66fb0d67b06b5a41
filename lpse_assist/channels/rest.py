"""Rasa's REST channel, plus numbered replies: "2" picks option 2 of the last bot message.

Web and terminal clients show buttons, but people type the number anyway (they do on
WhatsApp); without this, a bare "2" would go to the NLU model and land on a random intent.
The rule is the Twilio channel's, from ``lpse_assist.channels.choices``: a number that is no
option shows the same options again, a number when nothing was asked asks for the menu.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput as RasaRestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from lpse_assist.channels.choices import Choice, parse_choice, resolve_choice

logger = logging.getLogger(__name__)


async def choice_of(request: Request, sender: str, text: str) -> Choice | None:
    """What a bare number stands for in this conversation, else None (not a number, no agent)."""
    agent = getattr(request.app.ctx, "agent", None)
    if agent is None or parse_choice(text) is None:
        return None  # most messages are words: no extra tracker load for them
    tracker = await agent.tracker_store.retrieve(sender)
    return resolve_choice(text, list(tracker.events) if tracker else [])


async def options_again(sender: str, message: dict[str, Any]) -> HTTPResponse:
    """The REST answer that shows ``message`` (a bot message with options) once more."""
    collector = CollectingOutputChannel()
    await collector.send_response(sender, dict(message))
    return response.json(collector.messages)


class RestInput(RasaRestInput):
    """`POST /webhooks/rest/webhook`, as Rasa's, where a typed number picks an option."""

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)

        @blueprint.middleware("request")
        async def map_numbered_reply(request: Request) -> HTTPResponse | None:
            if request.method != "POST" or not request.path.endswith("/webhook"):
                return None
            try:
                body = request.json if request.body else None
            except Exception:  # noqa: BLE001 - malformed JSON: Rasa's handler answers it
                return None
            if not isinstance(body, dict) or not isinstance(body.get("message"), str):
                return None  # Rasa's handler answers malformed requests itself.
            sender = str(body.get("sender"))
            choice = await choice_of(request, sender, body["message"])
            if choice is None:
                return None
            if choice.repeat is not None:
                # Nothing new was said: no Rasa turn, the question and its options stand.
                logger.debug("Numbered reply %d is no option; options shown again", choice.number)
                return await options_again(sender, choice.repeat)
            logger.debug("Numbered reply mapped to %s", choice.payload)
            body["message"] = choice.payload
            return None

        return blueprint
