"""End to end: ticket status over the signed Twilio webhook, from the bot's real ticket store.

A user escalates (and gets a reference), asks for the status, staff close the ticket with
``scripts/tickets.py`` (``make tickets``), the user asks again; another sender asking for the
same reference learns nothing about it.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import TwilioBot
from tests.e2e.test_service_outage import say
from tests.e2e.test_twilio import new_user

pytestmark = pytest.mark.e2e

REFERENCE = re.compile(r"LPSE-\d{8}-\d{4}")
NOTE = "Password sudah direset, silakan cek e-mail perusahaan"


def staff(bot: TwilioBot, *args: str) -> None:
    """``make tickets`` as staff run it, on the running bot's database."""
    bot.script("tickets.py", *args)


def test_own_ticket_open_then_closed_with_the_note(twilio_bot: TwilioBot) -> None:
    user = new_user("whatsapp")
    [reference] = REFERENCE.findall(say(twilio_bot, user, "minta nomor helpdesk lpse"))

    reply = say(twilio_bot, user, f"status tiket {reference}")
    assert f"*{reference}*" in reply and "masih diproses" in reply, reply
    # Without a reference: the newest ticket of this sender.
    reply = say(twilio_bot, user, "laporan saya sudah diproses?")
    assert "tiket terakhir" in reply and reference in reply and "masih diproses" in reply

    staff(twilio_bot, "close", reference, "--note", NOTE)
    reply = say(twilio_bot, user, f"cek tiket {reference.lower()}")
    assert "sudah selesai" in reply and f"Catatan petugas: {NOTE}" in reply, reply

    # Another sender with the same reference: "not found", nothing about the ticket.
    other = new_user("whatsapp")
    reply = say(twilio_bot, other, f"status tiket {reference}")
    assert "tidak ditemukan" in reply, reply
    assert NOTE not in reply and "selesai" not in reply and "dicatat" not in reply
    # The same number by SMS is another conversation too.
    reply = say(twilio_bot, user.removeprefix("whatsapp:"), f"status tiket {reference}")
    assert "tidak ditemukan" in reply and NOTE not in reply


def test_unknown_reference_and_no_reference_without_tickets(twilio_bot: TwilioBot) -> None:
    user = new_user("sms")
    reply = say(twilio_bot, user, "status tiket LPSE-20261201-0999")
    assert "Tiket LPSE-20261201-0999 tidak ditemukan" in reply, reply

    reply = say(twilio_bot, user, "laporan saya sudah diproses?")
    assert "Belum ada tiket" in reply and "LPSE-20261201-0003" in reply, reply
    # The reference alone, as asked.
    reply = say(twilio_bot, user, "LPSE-20261130-0012")
    assert "Tiket LPSE-20261130-0012 tidak ditemukan" in reply, reply
    assert twilio_bot.tracker(user)["latest_message"]["intent"]["name"] == "ticket_status"
