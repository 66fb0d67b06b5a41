"""End to end: the operator's outage notice over the signed Twilio webhook.

The session's ``twilio_bot`` (real ``rasa run`` with the trained model, the action server and
the Twilio stand-in); the notice is published with the operator's command
(``scripts/notice.py``, what ``make notice`` runs) on the bot's database, while the bot runs:
no retraining, no restart.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from lpse_assist.notice import NoticeStore
from lpse_assist.render import is_gsm7
from tests.conftest import TwilioBot
from tests.e2e.test_twilio import new_user

pytestmark = pytest.mark.e2e

NOTICE = "SPSE sedang pemeliharaan sampai 22.00 WIB, mohon maaf"
REFERENCE = re.compile(r"LPSE-\d{8}-\d{4}")


@pytest.fixture()
def notices(twilio_bot: TwilioBot) -> Iterator[NoticeStore]:
    """The bot's notice store; no notice before or after the test (the bot is shared)."""
    store = NoticeStore(f"sqlite:///{twilio_bot.env['TRACKER_DB']}")
    store.clear()
    try:
        yield store
    finally:
        store.clear()
        store.dispose()


def operator(bot: TwilioBot, *args: str) -> str:
    """``make notice`` as the operator runs it, on the running bot's database."""
    return bot.script("notice.py", *args)


def say(bot: TwilioBot, user: str, body: str) -> str:
    result = bot.inbound(**{"from": user, "body": body})
    assert result["http_status"] == 200, result
    return "\n\n".join(m["body"] for m in result["messages"])


def test_published_notice_comes_first_then_clears(
    twilio_bot: TwilioBot, notices: NoticeStore
) -> None:
    operator(twilio_bot, "--text", NOTICE)

    # Greeting: the welcome, the notice, then the menu.
    user = new_user("whatsapp")
    reply = say(twilio_bot, user, "halo")
    notice_at = reply.index(f"*Pengumuman LPSE*: {NOTICE}")
    assert 0 < notice_at < reply.index("\n1. "), reply
    # Shown once per session: the login question that follows comes without it.
    reply = say(twilio_bot, user, "gak bisa login")
    assert NOTICE not in reply and "Pesan apa yang muncul" in reply, reply

    # A login problem by SMS: the notice first (GSM-7), then the usual question.
    sms_user = new_user("sms")
    reply = say(twilio_bot, sms_user, "gak bisa login")
    assert reply.startswith(f"Pengumuman LPSE: {NOTICE}"), reply
    assert "1. User ID atau Password salah" in reply and is_gsm7(reply)
    # The answers after it are the usual ones (2 = Java Script error).
    assert "LPSE lain" in say(twilio_bot, sms_user, "2")

    # An outage report: the notice, what to do, and the contacts without a new ticket.
    user = new_user("whatsapp")
    reply = say(twilio_bot, user, "website lpse lagi down ya?")
    assert reply.startswith(f"*Pengumuman LPSE*: {NOTICE}"), reply
    assert "Pokja" in reply and "sudah diumumkan" in reply
    assert not REFERENCE.search(reply)

    # Cleared: a new conversation hears nothing about it.
    assert "dihapus" in operator(twilio_bot, "--clear")
    reply = say(twilio_bot, new_user("whatsapp"), "halo")
    assert "Pengumuman" not in reply and "\n1. " in reply


def test_notice_expires_by_itself(twilio_bot: TwilioBot, notices: NoticeStore) -> None:
    expires = datetime.now(timezone.utc) + timedelta(seconds=20)
    notices.publish("SPSE pemeliharaan singkat", expires)
    assert "SPSE pemeliharaan singkat" in say(twilio_bot, new_user("whatsapp"), "halo")
    time.sleep(max(0.0, (expires - datetime.now(timezone.utc)).total_seconds()) + 0.5)
    assert "Pengumuman" not in say(twilio_bot, new_user("whatsapp"), "halo")
    reply = say(twilio_bot, new_user("sms"), "gak bisa login")
    assert reply.startswith("Pesan apa yang muncul"), reply
    assert "Tidak ada pengumuman aktif." in operator(twilio_bot)


def test_without_a_notice_an_outage_is_answered_and_escalated(
    twilio_bot: TwilioBot, notices: NoticeStore
) -> None:
    user = new_user("whatsapp")
    reply = say(twilio_bot, user, "website lpse lagi down ya?")
    assert "Pengumuman" not in reply
    assert "screenshot" in reply and "Pokja" in reply and "keputusan Pokja" in reply
    assert "helpdesk LPSE" in reply
    assert len(REFERENCE.findall(reply)) == 1, reply  # the helpdesk got a ticket
    tracker = twilio_bot.tracker(user)
    assert tracker["latest_message"]["intent"]["name"] == "service_outage"
    assert tracker["slots"]["topic"] == "service_outage"
    # No notice, no trace of the check in the conversation.
    assert not [e for e in tracker["events"] if e.get("name") == "outage_notice"]
