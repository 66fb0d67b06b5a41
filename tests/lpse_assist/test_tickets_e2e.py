"""End to end: an escalation over the Twilio webhook creates exactly one ticket, the user sees
its reference, and the helpdesk's WhatsApp number gets the summary through the real twilio
REST client, over real HTTP, at the local Twilio stand-in.

Uses the session's ``twilio_bot`` (real ``rasa run`` + action server + stand-in), whose
action server is started with ``HELPDESK_NOTIFY_NUMBER``.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from lpse_assist.privacy import mask_phone
from lpse_assist.tickets import TicketStore
from tests.conftest import HELPDESK_NOTIFY_NUMBER, TwilioBot

pytestmark = pytest.mark.e2e

HELPDESK = HELPDESK_NOTIFY_NUMBER
REFERENCE = re.compile(r"LPSE-\d{8}-\d{4}")


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    return predicate()


@pytest.fixture(scope="module")
def bot(twilio_bot: TwilioBot) -> TwilioBot:
    """``twilio_bot``, whose action server notifies ``HELPDESK``."""
    assert twilio_bot.env.get("HELPDESK_NOTIFY_NUMBER") == HELPDESK
    return twilio_bot


def say(bot: TwilioBot, user: str, body: str, message_sid: str | None = None) -> list[str]:
    payload: dict[str, Any] = {"from": user, "body": body}
    if message_sid:
        payload["message_sid"] = message_sid
    result = bot.inbound(**payload)
    assert result["http_status"] == 200, result
    return [m["body"] for m in result["messages"]]


def test_escalation_gives_one_ticket_its_reference_and_a_helpdesk_message(bot: TwilioBot) -> None:
    user = "whatsapp:+62878" + "".join(random.choices("0123456789", k=7))
    assert "Lainnya" in "\n".join(say(bot, user, "gak bisa login"))
    assert "LPSE lain" in "\n".join(say(bot, user, "2"))  # 2. Java Script error
    reply = "\n".join(say(bot, user, "2", message_sid="SMe2eticket0000000000000000000001"))
    found = REFERENCE.findall(reply)
    assert len(found) == 1, reply
    reference = found[0]
    assert f"*{reference}*" in reply  # WhatsApp: the reference in bold

    # Twilio retries the same message: no second escalation, no second ticket.
    assert say(bot, user, "2", message_sid="SMe2eticket0000000000000000000001") == []

    store = TicketStore(f"sqlite:///{bot.env['TRACKER_DB']}")
    try:
        mine = [
            t for t in store.list(status=None, limit=500) if t.sender_masked == mask_phone(user)
        ]
        assert [t.reference for t in mine] == [reference]
        ticket = mine[0]
        assert (ticket.topic, ticket.channel) == ("login_javascript_error", "whatsapp")
        assert [m["text"] for m in ticket.last_messages][0] == "gak bisa login"

        notified = wait_for(lambda: [m for m in bot.sent(to=HELPDESK) if reference in m["body"]])
        assert len(notified) == 1, bot.logs()
        assert notified[0]["via"] == "rest"
        assert notified[0]["from"] == bot.env["TWILIO_WHATSAPP_NUMBER"]
        assert mask_phone(user) in notified[0]["body"] and user not in notified[0]["body"]
        assert wait_for(lambda: store.get(reference).notify_status == "sent")  # type: ignore[union-attr]
    finally:
        store.dispose()


def test_sms_user_gets_the_reference_in_plain_text(bot: TwilioBot) -> None:
    user = "+62878" + "".join(random.choices("0123456789", k=7))
    reply = "\n".join(say(bot, user, "minta nomor helpdesk lpse"))
    found = REFERENCE.findall(reply)
    assert len(found) == 1, reply
    assert "*" not in reply
