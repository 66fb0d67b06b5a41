"""SMS fallback: a WhatsApp reply that could not be delivered goes out again by SMS, once.

Twilio reports the delivery of each WhatsApp reply to ``POST /status``. When WhatsApp could
not deliver it (``undelivered``/``failed``), the user receives the SMS version of the same
reply (recorded with the reply, see ``records``) from ``TWILIO_SMS_NUMBER`` instead.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.shared.core.events import Event

from lpse_assist.background import BackgroundTasks
from lpse_assist.channels.twilio.records import (
    RecentIds,
    fallback_claim,
    fallback_claimed,
    find_reply_record,
)
from lpse_assist.privacy import mask_phone
from lpse_assist.twilio_rest import TwilioRestSender

logger = logging.getLogger(__name__)

FAILED_STATUSES = frozenset({"undelivered", "failed"})


class SmsFallback:
    """Claims the SMS fallback of a failed WhatsApp reply and sends it in the background."""

    def __init__(self, sender: TwilioRestSender, sms_number: str, recent_ids: int) -> None:
        self.sender = sender
        self.sms_number = sms_number
        self._claimed = RecentIds(recent_ids)
        # Twilio wants a quick answer to the callback; the send (with retries) runs after it.
        self._sends = BackgroundTasks()

    async def claim(
        self,
        agent: Any,
        conversation: str,
        inbound_sid: str,
        status: str,
        failed_message_sid: str,
    ) -> list[str]:
        """The SMS bodies to send if this replica is the first to take on the fallback.

        The claim is an event in the shared tracker, written under the conversation lock
        before sending: one reply can fail in several parts and Twilio reports each (and
        ``failed`` may follow ``undelivered``), possibly to different replicas. Claiming
        first means at most one SMS version per reply; the send itself is retried.
        """
        if inbound_sid in self._claimed:
            return []
        if agent is None or not agent.is_ready():
            logger.warning("No Rasa agent: cannot look up the reply for the SMS fallback.")
            return []
        async with agent.lock_store.lock(conversation):
            store = agent.tracker_store
            full = await store.retrieve_full_tracker(conversation)
            events: list[Event] = list(full.events) if full is not None else []
            record = find_reply_record(events, inbound_sid)
            if record is None:
                logger.warning("No recorded reply for message %s; no SMS fallback.", inbound_sid)
                return []
            if fallback_claimed(events, inbound_sid):
                self._claimed.add(inbound_sid)
                return []
            bodies = [str(b) for b in record.get("sms_bodies") or [] if str(b).strip()]
            # Written to the latest session only: SQL tracker stores append events by their
            # position in the current session, so a full tracker must not be saved back.
            tracker = await store.retrieve(conversation)
            if tracker is None:
                return []
            tracker.update(fallback_claim(inbound_sid, status, failed_message_sid))
            await store.save(tracker)
        self._claimed.add(inbound_sid)
        return bodies

    def start(self, conversation: str, inbound_sid: str, bodies: list[str]) -> None:
        """Send ``bodies`` by SMS to the WhatsApp user of ``conversation``; returns at once."""
        self._sends.start(self._send(conversation, inbound_sid, bodies))

    async def wait(self) -> None:
        """Wait until the sends started so far are done (tests, shutdown)."""
        await self._sends.wait()

    async def _send(self, conversation: str, inbound_sid: str, bodies: list[str]) -> None:
        to = conversation.split(":", 1)[1]
        masked = mask_phone(to)
        if not self.sms_number:
            logger.error("TWILIO_SMS_NUMBER is empty: cannot send the SMS version to %s.", masked)
            return
        try:
            sids = await self.sender.send(to, self.sms_number, bodies)
        except Exception:
            logger.exception("SMS fallback to %s crashed.", masked)
            return
        if len(sids) == len(bodies):
            logger.info(
                "Sent the SMS version of reply %s to %s (%d part(s)).",
                inbound_sid,
                masked,
                len(sids),
            )
        else:
            logger.error(
                "SMS version of reply %s to %s: sent %d of %d part(s).",
                inbound_sid,
                masked,
                len(sids),
                len(bodies),
            )
