"""Send messages with Twilio's REST API from async code, without loading Rasa.

One sender for the whole project: the Twilio channel sends the SMS fallback with it and the
action server the helpdesk notifications; it imports nothing of Rasa's channel stack, so the
action server stays light. Real twilio
client on its async HTTP client, a timeout per attempt, bounded retries with back-off on
server errors, rate limits, timeouts and network errors; ``TWILIO_API_BASE_URL`` points it
at the local stand-in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from lpse_assist.privacy import mask_phone
from lpse_assist.settings import TwilioSettings

logger = logging.getLogger(__name__)

# The twilio library logs each request at INFO with the recipient's number: keep it quiet.
_REST_LOGGER = logging.getLogger(f"{__name__}.client")
_REST_LOGGER.setLevel(logging.WARNING)


class TwilioRestSender:
    """Sends messages through Twilio's REST API; never blocks the event loop."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        api_base_url: str = "",
        timeout: float = 10.0,
        attempts: int = 3,
        backoff: float = 0.5,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.api_base_url = api_base_url.rstrip("/")
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff

    @classmethod
    def from_settings(cls, twilio: TwilioSettings) -> TwilioRestSender:
        """A sender with the account, API base URL, timeout and attempts of ``twilio``."""
        return cls(
            twilio.account_sid,
            twilio.auth_token,
            twilio.api_base_url,
            twilio.send_timeout,
            twilio.send_attempts,
        )

    async def send(
        self, to: str, from_: str, bodies: Sequence[str], status_callback: str | None = None
    ) -> list[str]:
        """Send each body as one message, in order; returns the SIDs Twilio gave them.

        Stops at the first body that could not be sent. ``status_callback``: the URL Twilio
        reports each message's delivery to.
        """
        extra = {"status_callback": status_callback} if status_callback else {}
        import aiohttp
        from twilio.base.exceptions import TwilioRestException
        from twilio.http.async_http_client import AsyncTwilioHttpClient
        from twilio.rest import Client

        sids: list[str] = []
        async with AsyncTwilioHttpClient(logger=_REST_LOGGER) as http_client:
            client = Client(self.account_sid, self.auth_token, http_client=http_client)
            if self.api_base_url:
                client.api.base_url = self.api_base_url
            for body in bodies:
                sid: str | None = None
                for attempt in range(1, self.attempts + 1):
                    try:
                        message = await asyncio.wait_for(
                            client.messages.create_async(to=to, from_=from_, body=body, **extra),
                            timeout=self.timeout,
                        )
                        sid = str(message.sid)
                        break
                    except TwilioRestException as error:
                        retryable = error.status >= 500 or error.status == 429
                        logger.warning(
                            "Twilio refused a message to %s (HTTP %s, code %s), attempt %d/%d.",
                            mask_phone(to),
                            error.status,
                            error.code,
                            attempt,
                            self.attempts,
                        )
                        if not retryable:
                            return sids
                    except (asyncio.TimeoutError, aiohttp.ClientError, OSError) as error:
                        logger.warning(
                            "Sending to %s failed (%s), attempt %d/%d.",
                            mask_phone(to),
                            type(error).__name__,
                            attempt,
                            self.attempts,
                        )
                    if attempt < self.attempts:
                        await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
                if sid is None:
                    return sids
                sids.append(sid)
        return sids
