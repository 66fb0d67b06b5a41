"""A long conversation keeps its replies and its state across the session bound.

The trained model runs in this process (``Agent.load``) on a SQLite tracker store (Rasa's
``SQLTrackerStore``, whose session query and append-only save the bound relies on), with the
action server of the ``twilio_bot`` fixture. Each conversation is played twice, message by
message, the way the channels run a turn (one load under the lock, numbered choices, the
bound, then Rasa's processing on that tracker): once with the bound off, once with a small
one. Every reply and the state after every message (slots, topic, pending options, latest
action) must be the same, and the bounded run must really have started new sessions.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SessionStarted, UserUttered
from rasa.utils.endpoints import EndpointConfig

from bench.load import SCRIPT
from lpse_assist.channels.choices import last_bot_message_with_options, resolve_choice
from lpse_assist.render import message_buttons
from lpse_assist.sessions import at_rest, bound_session, handle_with_tracker, load_tracker
from lpse_assist.settings import reset_settings_cache
from tests.conftest import MODEL, TwilioBot

pytestmark = pytest.mark.e2e

TICKET_REFERENCE = re.compile(r"LPSE-\d{8}-\d{4,}")
# Never at rest: options or a question are always pending, so only the hard limit cuts.
RESTLESS = ("halo", "1", "menu", "2", "menu", "9", "halo", "3")


@pytest.fixture(scope="module")
def agent(twilio_bot: TwilioBot, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    """The trained model in this process, SQLite conversations, the fixture's actions."""
    db = Path(tmp_path_factory.mktemp("sessions")) / "tracker.db"
    store = SQLTrackerStore(dialect="sqlite", db=str(db))
    loaded = Agent.load(
        str(MODEL),
        tracker_store=store,
        action_endpoint=EndpointConfig(twilio_bot.env["ACTION_ENDPOINT_URL"]),
    )
    yield loaded


def _no_reference(text: Any) -> Any:
    """Each escalation has its own ticket number: the rest of the reply must be equal."""
    return TICKET_REFERENCE.sub("LPSE-<ticket>", text) if isinstance(text, str) else text


def _state(tracker: Any) -> dict[str, Any]:
    options = last_bot_message_with_options(list(tracker.events))
    return {
        "slots": {k: v for k, v in tracker.current_slot_values().items() if v is not None},
        "latest_action": tracker.latest_action_name,
        # What the store holds as the user's last message: every message must be stored.
        "latest_intent": (tracker.latest_message.intent or {}).get("name"),
        "latest_text": tracker.latest_message.text,
        "options": [b.get("payload") for b in message_buttons(options)] if options else [],
        "at_rest": at_rest(tracker),
    }


async def _talk(agent: Agent, sender: str, texts: Sequence[str]) -> tuple[list[Any], int]:
    """Replies and state after each message, and how many sessions the bound started."""
    processor = agent.processor
    assert processor is not None
    turns: list[Any] = []
    new_sessions = 0
    for text in texts:
        async with agent.lock_store.lock(sender):
            tracker = await load_tracker(processor, sender)
            collector = CollectingOutputChannel()
            choice = resolve_choice(text, tracker.events)
            if choice is not None and choice.repeat is not None:
                await collector.send_response(sender, choice.repeat)  # no option: asked again
            else:
                payload = choice.payload or text if choice is not None else text
                tracker, started = await bound_session(processor, tracker)
                new_sessions += started
                message = UserMessage(payload, collector, sender, input_channel="rest")
                await handle_with_tracker(processor, message, tracker)
            after = await processor.tracker_store.retrieve(sender)
        replies = [
            (_no_reference(m.get("text")), [b.get("payload") for b in m.get("buttons") or []])
            for m in collector.messages
        ]
        turns.append((text, replies, _state(after)))
    return turns, new_sessions


async def _both(
    agent: Agent, texts: Sequence[str], monkeypatch: pytest.MonkeyPatch, **bound: str
) -> tuple[list[Any], list[Any], int, str]:
    monkeypatch.setenv("SESSION_MAX_EVENTS", "0")
    reset_settings_cache()
    unbounded, none = await _talk(agent, f"rest-long-{uuid.uuid4().hex[:8]}", texts)
    assert none == 0
    for name, value in bound.items():
        monkeypatch.setenv(name, value)
    reset_settings_cache()
    sender = f"rest-long-{uuid.uuid4().hex[:8]}"
    bounded, started = await _talk(agent, sender, texts)
    reset_settings_cache()
    return unbounded, bounded, started, sender


def _assert_same(unbounded: list[Any], bounded: list[Any], texts: Sequence[str]) -> None:
    for index, (without, with_bound) in enumerate(zip(unbounded, bounded, strict=True)):
        assert with_bound == without, f"message {index + 1} ({texts[index]!r}) differs"


async def test_long_conversation_keeps_replies_and_state_across_the_bound(
    agent: Agent, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = list(SCRIPT) * 6
    unbounded, bounded, started, sender = await _both(
        agent, texts, monkeypatch, SESSION_MAX_EVENTS="40", SESSION_HARD_MAX_EVENTS="400"
    )
    assert started >= 3, "the bound never started a new session"
    _assert_same(unbounded, bounded, texts)
    # The bounded conversation really is in several sessions, and Rasa loads only the last.
    assert agent.processor is not None
    full = await agent.processor.tracker_store.retrieve_full_tracker(sender)
    current = await agent.processor.tracker_store.retrieve(sender)
    assert sum(isinstance(e, SessionStarted) for e in full.events) == started + 1
    assert sum(isinstance(e, UserUttered) for e in full.events) == len(texts)
    assert len(current.events) < len(full.events) / 3
    # The solved problem was closed at every rest point: a rest point is where it was cut.
    assert unbounded[-1][2]["slots"].get("topic") == "sikap_integration_failed"


async def test_the_hard_limit_keeps_pending_options_and_replies(
    agent: Agent, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = list(RESTLESS) * 6
    unbounded, bounded, started, _ = await _both(
        agent, texts, monkeypatch, SESSION_MAX_EVENTS="20", SESSION_HARD_MAX_EVENTS="40"
    )
    assert not any(state["at_rest"] for _, _, state in unbounded)
    assert started >= 3, "the hard limit never started a new session"
    _assert_same(unbounded, bounded, texts)
