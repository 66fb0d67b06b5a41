"""SMS fallback: a WhatsApp reply that could not be delivered goes out again by SMS, once.

Twilio reports the delivery of each WhatsApp reply to ``POST /status``. When WhatsApp could
not deliver it (``undelivered``/``failed``), the user receives the SMS version of the same
reply (recorded with the reply, see ``records``) from ``TWILIO_SMS_NUMBER`` instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from lpse_assist.background import BackgroundTasks
from lpse_assist.channels.twilio.records import RecentIds, ReplyStore
from lpse_assist.privacy import mask_phone
from lpse_assist.twilio_rest import TwilioRestSender

logger = logging.getLogger(__name__)

FAILED_STATUSES = frozenset({"undelivered", "failed"})
# How long a status report waits for the record of its reply (written after the answer).
RECORD_WAIT_ROUNDS = 10
RECORD_WAIT_SECONDS = 0.2


async def _nothing() -> None:
    return None


class SmsFallback:
    """Claims the SMS fallback of a failed WhatsApp reply and sends it in the background."""

    def __init__(
        self,
        sender: TwilioRestSender,
        sms_number: str,
        recent_ids: int,
        records_written: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.sender = sender
        self._records_written = records_written or _nothing
        self.sms_number = sms_number
        self._claimed = RecentIds(recent_ids)
        # Twilio wants a quick answer to the callback; the send (with retries) runs after it.
        self._sends = BackgroundTasks()

    async def claim(
        self,
        replies: ReplyStore | None,
        conversation: str,
        inbound_sid: str,
        status: str,
        failed_message_sid: str,
    ) -> list[str]:
        """The SMS bodies to send if this replica is the first to take on the fallback.

        One reply can fail in several parts and Twilio reports each (and ``failed`` may follow
        ``undelivered``), possibly to different replicas. The claim is one conditional UPDATE
        of the reply's record, made before sending: at most one SMS version per reply; the
        send itself is retried.
        """
        if inbound_sid in self._claimed:
            return []
        if replies is None:
            logger.warning("No Rasa agent: cannot look up the reply for the SMS fallback.")
            return []
        # The record is written just after the answer went out (see the channel): a report
        # that arrives first, here or at another replica, waits a moment for it.
        await self._records_written()
        for _ in range(RECORD_WAIT_ROUNDS):
            if await asyncio.to_thread(replies.get, inbound_sid) is not None:
                break
            await asyncio.sleep(RECORD_WAIT_SECONDS)
        bodies = await asyncio.to_thread(
            replies.claim_fallback, inbound_sid, conversation, status, failed_message_sid
        )
        self._claimed.add(inbound_sid)
        if bodies is None:
            logger.info("No unclaimed WhatsApp reply for message %s; no SMS fallback.", inbound_sid)
            return []
        return [b for b in bodies if b.strip()]

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
