"""The user gets an answer with the support contacts when the action server is down.

What Rasa 3.6 does on its own: ``RemoteAction.run`` raises when the action server cannot be
reached (connection refused, a 5xx, an invalid answer), ``MessageProcessor._run_action``
logs the exception and goes on as if the action had returned nothing. For an escalation
("belum" after an answer) the user gets *silence*: exactly when they need a person. A hung
action server is worse: Rasa waits up to 5 minutes, and Twilio gives up after 15 seconds.

What this module does: when a custom action fails that way, the user gets the response
``utter_service_unavailable`` (written in ``domain.yml``, like every sentence the bot says)
followed by the support contacts (LPSE Support, the LKPP call center, the local helpdesk
from ``contacts.yml``), built by the same ``send_contacts`` the escalation action uses and
rendered by Rasa's own NLG for the user's channel (SMS variations included). The failure
is logged at ERROR with the action, the masked conversation id and the cause. An action
that rejects itself (HTTP 400, ``ActionExecutionRejection``) is left to Rasa: that is
dialogue logic, not an outage.

How it is switched on: Rasa 3.6 has no hook around remote actions, but it does load the
natural language generator named in the endpoints file. ``ResilientNLG`` is Rasa's
templated generator unchanged; creating it (when Rasa loads the agent) wraps
``RemoteAction.run`` once for the process. Both endpoints files name it::

    nlg:
      type: lpse_assist.resilience.ResilientNLG

``ACTION_SERVER_TIMEOUT`` (seconds, default 10) bounds how long a turn waits for the action
server before the user gets this answer.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.nlg import NaturalLanguageGenerator, TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event
from rasa.utils.endpoints import EndpointConfig

from lpse_assist.privacy import mask_phone
from lpse_assist.settings import resilience_settings

logger = logging.getLogger(__name__)

SERVICE_UNAVAILABLE_RESPONSE = "utter_service_unavailable"
# Shown when even the contacts cannot be built (contacts.yml broken and actions/ missing):
# LPSE Support needs no configuration.
MINIMAL_CONTACT_RESPONSE = "utter_contact_lpse_support"
# Custom actions that only fill a slot (custom slot mappings, which Rasa runs right after the
# user's message): when the action server fails, the turn goes on without them, silently, and
# the answer itself decides what the user sees (actions/service_outage.py).
SILENT_ACTIONS = frozenset({"action_check_outage_notice"})
# Set on the wrapper so that a second ResilientNLG (model reload) does not wrap it again.
_MARKER = "_lpse_resilient"

RunFunction = Callable[..., Awaitable[list[Event]]]


def action_server_timeout() -> float:
    """Seconds a turn waits for the action server (``ACTION_SERVER_TIMEOUT``, default 10)."""
    return resilience_settings().action_server_timeout


def fallback_messages() -> list[dict[str, Any]]:
    """What the user gets instead of the failed action, as action-server style messages.

    ``{"response": name, **variables}`` dicts, exactly what a custom action returns, so Rasa
    renders them the same way (channel variations, slots, buttons).
    """
    messages: list[dict[str, Any]] = [{"response": SERVICE_UNAVAILABLE_RESPONSE}]
    try:
        # The escalation action's own contact list, so both show the same lines.
        from rasa_sdk.executor import CollectingDispatcher

        from actions.support import send_contacts
        from lpse_assist.contacts import load_contacts

        dispatcher = CollectingDispatcher()
        send_contacts(dispatcher, load_contacts())
        messages.extend(dispatcher.messages)
    except Exception:
        logger.exception("Could not build the support contacts; sending LPSE Support only.")
        messages.append({"response": MINIMAL_CONTACT_RESPONSE})
    return messages


async def service_unavailable_events(
    output_channel: Any, nlg: NaturalLanguageGenerator, tracker: Any
) -> list[Event]:
    """The bot messages (``BotUttered`` events) telling the user where to get help."""
    messages = fallback_messages()
    if nlg is not None and isinstance(nlg, TemplatedNaturalLanguageGenerator):
        if SERVICE_UNAVAILABLE_RESPONSE not in nlg.responses:
            logger.warning(
                "domain.yml has no %s response: the user gets the contacts only.",
                SERVICE_UNAVAILABLE_RESPONSE,
            )
    # Rasa's own rendering of an action server's answer.
    events = await RemoteAction._utter_responses(messages, output_channel, nlg, tracker)
    return list(events)


def _resilient(run: RunFunction) -> RunFunction:
    @functools.wraps(run)
    async def run_or_answer(
        self: RemoteAction, output_channel: Any, nlg: Any, tracker: Any, domain: Domain
    ) -> list[Event]:
        try:
            return await asyncio.wait_for(
                run(self, output_channel, nlg, tracker, domain),
                timeout=action_server_timeout(),
            )
        except ActionExecutionRejection:
            raise
        except Exception as error:
            cause = str(error) or type(error).__name__
            if isinstance(error, asyncio.TimeoutError):
                cause = f"no answer within {action_server_timeout():.0f} s"
            if self.name() in SILENT_ACTIONS:
                logger.warning("Action server failed on '%s' (%s).", self.name(), cause)
                return []
            logger.error(
                "Action server failed on '%s' for conversation %s (%s); answering with the "
                "support contacts instead.",
                self.name(),
                mask_phone(str(tracker.sender_id)),
                cause,
            )
            return await service_unavailable_events(output_channel, nlg, tracker)

    setattr(run_or_answer, _MARKER, True)
    return run_or_answer


def install() -> bool:
    """Wrap ``RemoteAction.run`` (once per process). True when this call installed it."""
    current = RemoteAction.run
    if getattr(current, _MARKER, False):
        return False
    RemoteAction.run = _resilient(current)  # type: ignore[method-assign]
    logger.info("Custom actions answer with the support contacts when the action server fails.")
    return True


def uninstall() -> None:
    """Undo ``install`` (tests)."""
    current = RemoteAction.run
    if getattr(current, _MARKER, False):
        RemoteAction.run = current.__wrapped__  # type: ignore[attr-defined,method-assign]


class ResilientNLG(TemplatedNaturalLanguageGenerator):
    """Rasa's templated NLG (responses from the domain); loading it installs the fallback.

    Rasa creates it from ``nlg: {type: lpse_assist.resilience.ResilientNLG}`` with the
    endpoint config and the domain, and fills in the model's responses when the model loads
    (it is a ``TemplatedNaturalLanguageGenerator``).
    """

    def __init__(
        self, endpoint_config: EndpointConfig | None = None, domain: Domain | None = None
    ) -> None:
        super().__init__(domain.responses if domain is not None else {})
        install()
