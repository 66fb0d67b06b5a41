"""The Twilio channel's handover hook: in human mode the bot stays silent (empty TwiML) and
the message is kept for the agent, once even when Twilio retries; out of it the bot answers."""

from __future__ import annotations

from lpse_assist.handover import handover_service
from lpse_assist.tickets import ticket_store
from lpse_assist.twilio_local import LocalTwilio
from tests.lpse_assist.channels.harness import Bot, Twilio
from tests.lpse_assist.console.conftest import open_ticket


async def test_human_mode_silences_the_bot_and_keeps_the_message(
    bot: Bot, twilio: Twilio, wa_user: str
) -> None:
    assert (await twilio.message(bot, wa_user, "halo")).messages  # the bot answers
    ticket = open_ticket(ticket_store(), wa_user)
    handover = handover_service()
    handover.take(ticket, "siti")

    reply = await twilio.message(bot, wa_user, "halo, masih menunggu", message_sid="SM" + "a" * 32)
    assert reply.status == 200 and reply.is_twiml and reply.messages == []
    again = await twilio.message(bot, wa_user, "halo, masih menunggu", message_sid="SM" + "a" * 32)
    assert again.messages == []
    kept = handover.messages(ticket.reference)
    assert [(m.direction, m.body) for m in kept] == [("in", "halo, masih menunggu")]
    assert bot.processor is not None
    assert bot.processor.texts() == ["halo"]  # Rasa never saw the message

    handover.end_human_mode(wa_user)
    assert (await twilio.message(bot, wa_user, "halo")).messages  # the bot answers again
    assert bot.processor.texts() == ["halo", "halo"]


async def test_delivery_reports_of_agent_messages_reach_the_console(
    bot: Bot, standin: LocalTwilio, wa_user: str
) -> None:
    from lpse_assist.handover import SqlHandover
    from lpse_assist.settings import TwilioSettings
    from tests.lpse_assist.channels.harness import (
        ACCOUNT_SID,
        AUTH_TOKEN,
        SMS_NUMBER,
        WHATSAPP_NUMBER,
    )

    ticket = open_ticket(ticket_store(), "+6281277778888")
    settings = TwilioSettings(
        ACCOUNT_SID,
        AUTH_TOKEN,
        SMS_NUMBER,
        WHATSAPP_NUMBER,
        bot.webhook_url,
        standin.base_url,
        5,
        1,
    )
    console = SqlHandover(ticket_store().engine, settings)
    message = await console.agent_message_out(ticket, "siti", "Halo dari helpdesk")
    sent = standin.outbound[-1]
    assert sent["status_callback"].endswith(f"/webhooks/twilio/status?handover={message.id}")
    for status in ("sent", "delivered"):
        assert await standin.send_status(sent["sid"], status) == 200
    assert console.message(message.id).status == "delivered"
    assert await standin.send_status(sent["sid"], "sent") == 200  # late report: no step back
    assert console.message(message.id).status == "delivered"
    assert await standin.send_status(sent["sid"], "read") == 200
    assert console.message(message.id).status == "read"
    assert bot.processor is not None and bot.processor.texts() == []
