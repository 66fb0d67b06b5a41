"""The SQL handover: human mode shared through the database, user messages kept for the
agent, replies through the real twilio client to the local stand-in (24-hour WhatsApp
window, retries, failures), closing and handing back with the domain's texts."""

from __future__ import annotations

import time
from typing import Any

import pytest

from lpse_assist.handover import (
    FAILED,
    SENT,
    WHATSAPP_WINDOW_SECONDS,
    SqlHandover,
    response_text,
)
from lpse_assist.tickets import TicketStore
from lpse_assist.twilio_local import LocalTwilio
from tests.lpse_assist.console.conftest import WA_USER, add_event, open_ticket

SMS_USER = "+6281298765432"


@pytest.fixture
def store(tmp_path: Any) -> Any:
    tickets = TicketStore(f"sqlite:///{tmp_path / 'tracker.db'}")
    yield tickets
    tickets.dispose()


@pytest.fixture
def handover(store: TicketStore, standin: LocalTwilio) -> SqlHandover:
    from lpse_assist.settings import TwilioSettings
    from tests.lpse_assist.channels.harness import (
        ACCOUNT_SID,
        AUTH_TOKEN,
        SMS_NUMBER,
        WHATSAPP_NUMBER,
    )

    settings = TwilioSettings(
        ACCOUNT_SID, AUTH_TOKEN, SMS_NUMBER, WHATSAPP_NUMBER, "", standin.base_url, 5.0, 3
    )
    service = SqlHandover(store.engine, settings)
    service.sender.backoff = 0.01
    return service


def test_messages_reach_the_agent_only_in_human_mode(
    store: TicketStore, handover: SqlHandover
) -> None:
    ticket = open_ticket(store)
    assert handover.store_inbound(WA_USER, "SM1", "halo", "whatsapp") is False
    assert handover.messages(ticket.reference) == []
    handover.take(ticket, "siti")
    # Another replica (another engine on the same database) sees the same human mode.
    other = SqlHandover(TicketStore(store.url).engine, handover.twilio)
    mode = other.mode_of(WA_USER)
    assert mode is not None and mode.agent == "siti"
    assert other.store_inbound(WA_USER, "SM2", "/send_media", "whatsapp") is True
    assert handover.store_inbound(WA_USER, "SM2", "/send_media", "whatsapp") is True  # retry
    kept = handover.messages(ticket.reference)
    assert [m.body for m in kept] == ["[gambar / tangkapan layar]"]
    handover.take(ticket, "budi")  # the agent who acts last holds it
    assert handover.holders() == {ticket.reference: "budi"}
    handover.end_human_mode(WA_USER)
    assert other.store_inbound(WA_USER, "SM3", "halo", "whatsapp") is False


def test_whatsapp_replies_within_24_hours_else_sms(
    store: TicketStore, handover: SqlHandover
) -> None:
    now = time.time()
    assert handover.route(WA_USER, now).note  # never wrote: no window open
    add_event(store, WA_USER, "user", {"text": "halo", "timestamp": now - 3600})
    inside = handover.route(WA_USER, now)
    assert (inside.to, inside.medium, inside.note) == (WA_USER, "whatsapp", "")
    outside = handover.route(WA_USER, now + WHATSAPP_WINDOW_SECONDS)
    assert outside.to == WA_USER.split(":", 1)[1] and outside.medium == "sms"
    assert outside.from_ == handover.twilio.sms_number and "24 jam" in outside.note
    sms = handover.route(SMS_USER, now)
    assert (sms.to, sms.from_, sms.medium) == (SMS_USER, handover.twilio.sms_number, "sms")


async def test_agent_reply_goes_out_through_twilio_rest(
    store: TicketStore, handover: SqlHandover, standin: LocalTwilio
) -> None:
    ticket = open_ticket(store)
    add_event(store, WA_USER, "user", {"text": "halo"})
    standin.rest_failures = [500]  # the first attempt fails, the retry gets through
    message = await handover.agent_message_out(ticket, "siti", "Selamat siang, akun sudah aktif.")
    assert message.status == SENT and message.twilio_sid.startswith("SM")
    assert handover.mode_of(WA_USER) is not None  # replying takes the conversation
    rest = [m for m in standin.outbound if m["via"] == "rest"]
    assert [(m["to"], m["from"], m["body"]) for m in rest] == [
        (WA_USER, handover.twilio.whatsapp_number, "Selamat siang, akun sudah aktif.")
    ]
    assert standin.rest_attempts == 2


async def test_a_reply_twilio_refuses_is_marked_failed(
    store: TicketStore, handover: SqlHandover, standin: LocalTwilio
) -> None:
    ticket = open_ticket(store, SMS_USER)
    standin.rest_failures = [503, 503, 503]
    message = await handover.agent_message_out(ticket, "siti", "Halo")
    assert message.status == FAILED and standin.rest_attempts == 3
    assert not [m for m in standin.outbound if m["via"] == "rest"]


async def test_development_account_never_reaches_twilio(store: TicketStore) -> None:
    from lpse_assist.settings import TwilioSettings

    dev = TwilioSettings("ACdev0000", "token", "+1500", "whatsapp:+1415", "", "", 5.0, 1)
    ticket = open_ticket(store, SMS_USER)
    message = await SqlHandover(store.engine, dev).send(ticket, "siti", "Halo")
    assert message.status == FAILED and "bukan akun Twilio" in message.note


async def test_closing_tells_the_user_with_the_note_and_ends_human_mode(
    store: TicketStore, handover: SqlHandover, standin: LocalTwilio
) -> None:
    ticket = open_ticket(store, SMS_USER)
    handover.take(ticket, "siti")
    await handover.release(ticket, "siti", "Password sudah direset.", closed=True)
    assert handover.mode_of(SMS_USER) is None
    body = standin.outbound[-1]["body"]
    assert standin.outbound[-1]["to"] == SMS_USER
    assert body == response_text("utter_handover_closed", "sms", note="Password sudah direset.")
    assert "Catatan petugas: Password sudah direset." in body
    await handover.release(ticket, "siti", "", closed=False)
    assert standin.outbound[-1]["body"] == response_text("utter_handover_returned", "sms")


async def test_ticket_opened_says_whether_anyone_answers(store: TicketStore) -> None:
    from lpse_assist.console.store import ConsoleStore
    from lpse_assist.settings import twilio_settings

    handover = SqlHandover(store.engine, twilio_settings())
    ticket = open_ticket(store)
    assert await handover.ticket_opened(ticket) is False
    ConsoleStore(store.engine).set_agent("siti", "kata-sandi-uji-123")
    assert await handover.ticket_opened(ticket) is True


def test_response_text_reads_the_domain() -> None:
    text = response_text("utter_handover_closed", "whatsapp", note="{x} <b>")
    assert "{x} <b>" in text and "{note}" not in text
    with pytest.raises(KeyError):
        response_text("utter_no_such_response", "sms")


async def test_queue_notice_once_for_untaken_tickets_in_office_hours(
    store: TicketStore, handover: SqlHandover, standin: LocalTwilio
) -> None:
    from datetime import datetime, timedelta, timezone

    from lpse_assist.handover import NOTICE, helpdesk_closed_until
    from lpse_assist.settings import HelpdeskHoursSettings

    wib = timezone(timedelta(hours=7), "WIB")
    hours = HelpdeskHoursSettings("mon-fri 08:00-16:00", 15)
    waiting = open_ticket(store, SMS_USER, key="waiting")
    taken = open_ticket(store, "+6281300000001", key="taken")
    handover.take(taken, "siti")
    created = waiting.created_at

    async def notices(now: datetime) -> list[str]:
        return await handover.queue_notices(store.list(), hours, wib, now)

    def monday(hour: int, minute: int = 0) -> datetime:
        # The Monday after the ticket, local time.
        day = created.astimezone(wib).date()
        day += timedelta(days=(7 - day.weekday()) % 7 or 7)
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=wib)

    assert await notices(monday(7, 59)) == []  # closed
    assert await notices(monday(8, 10)) == []  # 10 minutes into office hours
    assert await notices(monday(8, 16)) == [waiting.reference]
    assert await notices(monday(9)) == []  # once
    kept = handover.messages(waiting.reference)
    assert [m.direction for m in kept] == [NOTICE]
    assert standin.outbound[-1]["to"] == SMS_USER
    assert waiting.reference in standin.outbound[-1]["body"]
    assert "antrean" in standin.outbound[-1]["body"]

    assert helpdesk_closed_until(hours, wib, monday(9)) == ""
    assert helpdesk_closed_until(hours, wib, monday(17)).endswith(", 08:00 WIB")
    assert helpdesk_closed_until(HelpdeskHoursSettings("", 15), wib, monday(3)) == ""


def test_a_ticket_closed_outside_the_console_ends_human_mode(
    store: TicketStore, handover: SqlHandover
) -> None:
    ticket = open_ticket(store)
    handover.take(ticket, "siti")
    store.close(ticket.reference, "dibantu lewat telepon")  # make tickets close
    assert handover.store_inbound(WA_USER, "SM1", "halo", "whatsapp") is False
    assert handover.mode_of(WA_USER) is None
