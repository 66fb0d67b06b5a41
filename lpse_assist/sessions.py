"""One message, one tracker load, and a conversation session Rasa can replay in bounded time.

Rasa loads the current session of a conversation from the tracker store on every message and
replays every event of it; its policies featurise the whole history again for every action
they predict. Sessions last ``session_expiration_time`` (120 minutes), so a long
conversation (a user who keeps asking, a helpdesk handover going back and forth, a script)
made every further message slower: messages 251-300 of one conversation took 7x as long as
messages 1-50 (docs/benchmarks.md, "Long conversation").

Two things here keep the cost of a message flat:

* ``handle_with_tracker``: Rasa's ``MessageProcessor.handle_message`` on a tracker the channel
  has already loaded under the conversation lock (for the idempotency check and numbered
  choices), so a message costs one tracker load and one save, not two or three.
* ``bound_session``: when the current session has passed ``SESSION_MAX_EVENTS`` events and
  the conversation is *at rest*, a new session starts before the message is processed:
  Rasa's own session start events (``action_session_start``, ``session_started``, then the
  slots carried over, then ``action_listen``), written to the tracker store, as when a
  session expires, but with every slot kept. At rest means nothing of the dialogue points
  back into the history: no form, no follow-up action, no topic open (``topic`` empty: the
  problem was closed), no question or options waiting for an answer (no ``utter_ask_*`` and
  no buttons since the user last spoke) and the last message was understood (the fallback's
  "two unclear messages in a row" looks one message back). The policies look at the last few
  turns only (``MemoizationPolicy`` ``max_history: 5``, rules of a few steps), and Rasa's
  story augmentation trains them on conversations glued one after another, so a request
  after a closed topic is answered the same in a fresh session. A conversation that never
  comes to rest is cut at ``SESSION_HARD_MAX_EVENTS`` anyway (an upper bound on the cost of
  a message whatever the user sends): then the bot's last turn (its actions and messages,
  with the options the user may pick by number) is carried into the new session too.

``tests/lpse_assist/test_sessions.py`` checks that a long conversation has the same replies
and the same state (slots, topic, pending question) with and without the bound.
"""

from __future__ import annotations

import logging
import time
import weakref
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.data import TrainingType
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from lpse_assist.settings import session_settings
from lpse_assist.tracker_db import sql_engine_of

logger = logging.getLogger(__name__)

# The slot that holds the open problem (empty once action_close_topic ran).
TOPIC_SLOT = "topic"
# Responses that ask the user something (house style: utter_ask_<what>).
QUESTION_PREFIX = "utter_ask_"
# Slots Rasa manages itself; never carried over by hand.
_INTERNAL_SLOTS = frozenset({"session_started_metadata"})


# --------------------------------------------------------------------------- one load


# Rasa finds the current session with ``max(timestamp)`` of the conversation's
# ``session_started`` events, and counts its events on every save, both through an index on
# ``sender_id`` alone: every event of every session of the conversation is read twice per
# message. This index answers both from the index, whatever the conversation's length.
SESSION_INDEX = "ix_events_sender_type_timestamp"
_indexed: weakref.WeakSet[Any] = weakref.WeakSet()


def ensure_session_index(tracker_store: Any) -> None:
    """Create ``SESSION_INDEX`` on Rasa's ``events`` table (SQL stores; once per store)."""
    engine = sql_engine_of(tracker_store)
    if engine is None or engine in _indexed:
        return
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    f"CREATE INDEX IF NOT EXISTS {SESSION_INDEX} "
                    "ON events (sender_id, type_name, timestamp)"
                )
            )
    except SQLAlchemyError:
        # Not fatal: only slower. A replica creating it at the same moment ends up here too.
        logger.warning("Could not create the index %s on events.", SESSION_INDEX, exc_info=True)
    _indexed.add(engine)


async def load_tracker(processor: Any, sender_id: str) -> DialogueStateTracker:
    """The current session of a conversation, as Rasa's processor would load it."""
    ensure_session_index(processor.tracker_store)
    tracker: DialogueStateTracker = await processor.get_tracker(sender_id)
    return tracker


async def handle_with_tracker(
    processor: Any, message: UserMessage, tracker: DialogueStateTracker
) -> None:
    """``MessageProcessor.handle_message`` (Rasa 3.6) on an already loaded tracker.

    The same steps in the same order: session check, the user event, slot extraction, the
    prediction loop, Rasa's anonymisation hook, one save. Only the load is left out.
    """
    await processor._update_tracker_session(tracker, message.output_channel, message.metadata)
    await processor._handle_message_with_tracker(message, tracker)
    model = getattr(processor, "model_metadata", None)
    if model is not None and model.training_type == TrainingType.NLU:
        await processor.save_tracker(tracker)  # no dialogue model: Rasa stops here too
        return
    tracker = await processor.run_action_extract_slots(message.output_channel, tracker)
    await processor._run_prediction_loop(message.output_channel, tracker)
    await processor.run_anonymization_pipeline(tracker)
    await processor.save_tracker(tracker)


# --------------------------------------------------------------------------- the bound


def _since_last_user(tracker: DialogueStateTracker) -> list[Event]:
    events: list[Event] = []
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            break
        events.append(event)
    events.reverse()
    return events


def _last_user(tracker: DialogueStateTracker) -> UserUttered | None:
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return event
    return None


def at_rest(tracker: DialogueStateTracker) -> bool:
    """True when nothing of the dialogue depends on what came before (see module doc)."""
    if tracker.active_loop_name or tracker.followup_action:
        return False
    if tracker.latest_action_name != ACTION_LISTEN_NAME:
        return False
    if TOPIC_SLOT in tracker.slots and tracker.get_slot(TOPIC_SLOT):
        return False
    last_user = _last_user(tracker)
    if last_user is not None and last_user.intent_name == DEFAULT_NLU_FALLBACK_INTENT_NAME:
        return False
    for event in _since_last_user(tracker):
        if isinstance(event, ActionExecuted) and (event.action_name or "").startswith(
            QUESTION_PREFIX
        ):
            return False
        if isinstance(event, BotUttered) and (event.data or {}).get("buttons"):
            return False
    return True


def _carried_slots(tracker: DialogueStateTracker) -> list[tuple[str, Any]]:
    """The slots to set again in the new session: every one that is not at its initial value."""
    return [
        (name, slot.value)
        for name, slot in tracker.slots.items()
        if name not in _INTERNAL_SLOTS and slot.value != slot.initial_value
    ]


def _carried_turn(tracker: DialogueStateTracker) -> list[dict[str, Any]]:
    """The bot's last turn (its actions and messages), to be logged again in the new session."""
    return [
        event.as_dict()
        for event in _since_last_user(tracker)
        if isinstance(event, (ActionExecuted, BotUttered))
        and not (isinstance(event, ActionExecuted) and event.action_name == ACTION_LISTEN_NAME)
    ]


async def bound_session(
    processor: Any, tracker: DialogueStateTracker
) -> tuple[DialogueStateTracker, bool]:
    """The tracker to process the next message on, and whether a new session was started.

    Call it under the conversation lock, on the tracker just loaded, before the message is
    logged.
    """
    settings = session_settings()
    length = len(tracker.events)
    if settings.max_events <= 0 or length < settings.max_events:
        return tracker, False
    resting = at_rest(tracker)
    if not resting and length < settings.hard_max_events:
        return tracker, False

    slots = _carried_slots(tracker)
    turn = [] if resting else _carried_turn(tracker)
    # Rasa's order, each event made (time-stamped) when it is logged: SQL stores find the
    # session by the timestamp of session_started and count its events on save.
    tracker.update(ActionExecuted(ACTION_SESSION_START_NAME))
    tracker.update(SessionStarted())
    for name, value in slots:
        tracker.update(SlotSet(name, value))
    for data in turn:
        copy = Event.from_parameters({**data, "timestamp": time.time()})
        if copy is not None:
            tracker.update(copy)
    tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
    await processor.save_tracker(tracker)
    # The new session exactly as the store gives it back (one more load, once per session).
    fresh: DialogueStateTracker = await processor.get_tracker(tracker.sender_id)
    logger.info(
        "New session for a conversation after %d events (%s).",
        length,
        "at rest" if resting else "hard limit",
    )
    return fresh, True
