"""Rasa's REST channel, plus numbered replies: "2" picks option 2 of the last bot message.

Web and terminal clients show buttons, but people type the number anyway (they do on
WhatsApp); without this, a bare "2" would go to the NLU model and land on a random intent.
The rule is the Twilio channel's, from ``lpse_assist.channels.choices``: a number that is no
option shows the same options again, a number when nothing was asked asks for the menu.

A message is handled like the Twilio channel's: under the conversation's lock, one tracker
load serves the numbered choice, the session bound and Rasa's turn
(``lpse_assist.sessions``), instead of Rasa's handler loading the tracker once more.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput as RasaRestInput
from sanic import Blueprint
from sanic.request import Request

from lpse_assist import rasa_speedups
from lpse_assist.channels.choices import resolve_choice
from lpse_assist.channels.sender_guard import refuse_twilio_senders
from lpse_assist.sessions import bound_session, handle_with_tracker, load_tracker

logger = logging.getLogger(__name__)

# The agent of the request being handled: Rasa's route calls the message handler without
# the request, and the app's agent can change when a model is loaded.
_agent: ContextVar[Any] = ContextVar("lpse_rest_agent", default=None)


async def handle_turn(
    agent: Any,
    message: UserMessage,
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
) -> None:
    """One REST message: numbered choice, session bound and Rasa's turn on one tracker load."""
    if agent is None or not agent.is_ready():
        await on_new_message(message)  # Rasa's handler (it answers "no model" itself)
        return
    sender = message.sender_id
    async with agent.lock_store.lock(sender):
        processor = agent.processor
        tracker = await load_tracker(processor, sender)
        choice = resolve_choice(message.text or "", tracker.events)
        if choice is not None:
            if choice.repeat is not None:
                # Nothing new was said: no Rasa turn, the question and its options stand.
                logger.debug("Numbered reply %d is no option; options shown again", choice.number)
                await message.output_channel.send_response(sender, dict(choice.repeat))
                return
            logger.debug("Numbered reply mapped to %s", choice.payload)
            message.text = choice.payload
        tracker, _ = await bound_session(processor, tracker)
        await handle_with_tracker(processor, message, tracker)


class RestInput(RasaRestInput):
    """`POST /webhooks/rest/webhook`, as Rasa's, where a typed number picks an option."""

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        rasa_speedups.install()  # Rasa's per-message waste removed (lpse_assist/rasa_speedups.py)

        async def handle(message: UserMessage) -> None:
            await handle_turn(_agent.get(), message, on_new_message)

        blueprint = super().blueprint(handle)
        # First: a WhatsApp/SMS sender id is refused before anything reads its tracker.
        blueprint.middleware("request")(refuse_twilio_senders)

        @blueprint.middleware("request")
        async def remember_agent(request: Request) -> None:
            _agent.set(getattr(request.app.ctx, "agent", None))

        return blueprint
