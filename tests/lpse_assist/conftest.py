"""The local Twilio stand-in, shared by the channel, ticket and stand-in tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from lpse_assist.twilio_local import LocalTwilio
from tests.lpse_assist.channels.harness import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    SMS_NUMBER,
    WHATSAPP_NUMBER,
)


# Same loop as the tests (function scope), whatever asyncio_default_fixture_loop_scope says.
@pytest_asyncio.fixture(loop_scope="function")
async def standin() -> AsyncIterator[LocalTwilio]:
    """The local Twilio stand-in on a free port (its webhook is set per test)."""
    local = LocalTwilio(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        webhook_url="",
        sms_number=SMS_NUMBER,
        whatsapp_number=WHATSAPP_NUMBER,
    )
    await local.start()
    yield local
    await local.stop()
