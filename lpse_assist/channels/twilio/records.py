"""Idempotency and reply records: what was answered to which Twilio message, in the tracker.

Twilio's ``MessageSid`` becomes the ``message_id`` of the user event. A message whose id is
already in the tracker (shared by all replicas) is answered with an empty ``<Response/>``.
The channel also appends ``AgentUttered`` events of its own: the record of a reply (with its
SMS rendering, for the SMS fallback) and the claim of a fallback. AgentUttered changes no
dialogue state (no slot, no featurised turn), is stored by every tracker store, and so is
shared by all replicas.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rasa.shared.core.events import AgentUttered, Event, UserUttered

from lpse_assist.channels.twilio.output import sms_bodies
from lpse_assist.render import Medium

# Kinds of the AgentUttered events this channel appends to the tracker.
REPLY_RECORD_KIND = "lpse_twilio_reply"
FALLBACK_CLAIM_KIND = "lpse_twilio_sms_fallback"


def already_handled(events: Iterable[Event], message_sid: str) -> bool:
    """True when the tracker shows this MessageSid was processed (by any replica)."""
    for event in events:
        if isinstance(event, UserUttered) and event.message_id == message_sid:
            return True
        if _record_of(event, REPLY_RECORD_KIND, message_sid) is not None:
            return True
    return False


def _record_of(event: Event, kind: str, inbound_sid: str) -> dict[str, Any] | None:
    if not isinstance(event, AgentUttered) or not isinstance(event.data, dict):
        return None
    data = event.data
    if data.get("kind") == kind and data.get("inbound_sid") == inbound_sid:
        return data
    return None


def find_reply_record(events: Iterable[Event], inbound_sid: str) -> dict[str, Any] | None:
    """The reply this channel recorded for an inbound MessageSid (with its SMS rendering)."""
    for event in events:
        record = _record_of(event, REPLY_RECORD_KIND, inbound_sid)
        if record is not None:
            return record
    return None


def fallback_claimed(events: Iterable[Event], inbound_sid: str) -> bool:
    """True when some replica already took on the SMS fallback of this reply."""
    return any(_record_of(e, FALLBACK_CLAIM_KIND, inbound_sid) is not None for e in events)


def fallback_claim(inbound_sid: str, status: str, failed_message_sid: str) -> AgentUttered:
    """The event that says this reply's SMS fallback is taken on (by whoever wrote it)."""
    return AgentUttered(
        data={
            "kind": FALLBACK_CLAIM_KIND,
            "inbound_sid": inbound_sid,
            "status": status,
            "failed_message_sid": failed_message_sid,
        }
    )


async def record_reply(
    agent: Any,
    tracker: Any,
    message_sid: str,
    medium: Medium,
    messages: Sequence[Mapping[str, Any]],
) -> bool:
    """Store what was answered to ``message_sid`` (and its SMS rendering for WhatsApp).

    The record lives in the tracker so that any replica can answer Twilio's status callback
    for this reply, and so that a retried MessageSid is recognised even when no user event
    was logged (out-of-range numbers).
    """
    if not message_sid or tracker is None:
        return False
    data: dict[str, Any] = {
        "kind": REPLY_RECORD_KIND,
        "inbound_sid": message_sid,
        "medium": medium,
    }
    if medium == "whatsapp":
        data["sms_bodies"] = await sms_bodies(agent, tracker, messages)
    tracker.update(AgentUttered(data=data))
    await agent.tracker_store.save(tracker)
    return True


class RecentIds:
    """A small LRU set: a fast path for Twilio retries that hit this replica again."""

    def __init__(self, size: int) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def __contains__(self, item: str) -> bool:
        if item in self._ids:
            self._ids.move_to_end(item)
            return True
        return False

    def add(self, item: str) -> None:
        self._ids[item] = None
        self._ids.move_to_end(item)
        while len(self._ids) > self._size:
            self._ids.popitem(last=False)
