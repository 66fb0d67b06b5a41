"""The Twilio channel's handover hook: in human mode the bot stays silent (empty TwiML) and
the message is kept for the agent, once even when Twilio retries; out of it the bot answers."""

from __future__ import annotations

from lpse_assist.handover import handover_service
from lpse_assist.tickets import ticket_store
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
