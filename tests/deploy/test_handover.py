"""The human handover on the production topology: two Rasa replicas on PostgreSQL and
Redis, Twilio webhooks signed by the local stand-in and spread over both replicas.

Human mode lives in PostgreSQL, so whichever replica a user's message reaches, it is kept for
the agent and the bot stays silent; the agent's reply and the closing note go out through
the real twilio REST client to the stand-in; after closing, both replicas answer again.
"""

from __future__ import annotations

import random
import re
from collections.abc import AsyncIterator

import pytest_asyncio

from lpse_assist.console.store import ConsoleStore
from lpse_assist.handover import SqlHandover
from lpse_assist.settings import TwilioSettings
from lpse_assist.tickets import OPEN, TicketStore
from lpse_assist.twilio_local import LocalTwilio
from tests.deploy.topology import DEV_TWILIO_ENV, Topology

REFERENCE = re.compile(r"LPSE-\d{8}-\d{4}")


@pytest_asyncio.fixture(loop_scope="function")
async def standin() -> AsyncIterator[LocalTwilio]:
    local = LocalTwilio(
        account_sid=DEV_TWILIO_ENV["TWILIO_ACCOUNT_SID"],
        auth_token=DEV_TWILIO_ENV["TWILIO_AUTH_TOKEN"],
        webhook_url="",
        sms_number=DEV_TWILIO_ENV["TWILIO_SMS_NUMBER"],
        whatsapp_number=DEV_TWILIO_ENV["TWILIO_WHATSAPP_NUMBER"],
    )
    await local.start()
    yield local
    await local.stop()


async def test_human_mode_holds_on_both_replicas(topology: Topology, standin: LocalTwilio) -> None:
    topology.ensure_running()
    webhooks = [f"{topology.replica_url(i)}/webhooks/twilio/webhook" for i in (0, 1)]
    user = "whatsapp:+62856" + "".join(random.choices("0123456789", k=7))

    async def say(replica: int, body: str) -> list[str]:
        standin.webhook_url = webhooks[replica]
        result = await standin.send_inbound(user, body)
        assert result["http_status"] == 200 and result["is_twiml"], result
        return [m["body"] for m in result["messages"]]

    tickets = TicketStore(
        topology.database_url().replace("postgresql://", "postgresql+psycopg2://")
    )
    console = ConsoleStore(tickets.engine)
    console.set_agent("deploy-agent", "kata-sandi-uji-123")
    twilio = TwilioSettings(
        account_sid=DEV_TWILIO_ENV["TWILIO_ACCOUNT_SID"],
        auth_token=DEV_TWILIO_ENV["TWILIO_AUTH_TOKEN"],
        sms_number=DEV_TWILIO_ENV["TWILIO_SMS_NUMBER"],
        whatsapp_number=DEV_TWILIO_ENV["TWILIO_WHATSAPP_NUMBER"],
        webhook_url="",
        api_base_url=standin.base_url,
        send_timeout=5.0,
        send_attempts=3,
    )
    handover = SqlHandover(tickets.engine, twilio)
    try:
        assert await say(0, "gak bisa login")
        assert await say(1, "2")
        escalation = "\n".join(await say(0, "2"))
        found = REFERENCE.findall(escalation)
        assert len(found) == 1, escalation
        assert "akan membalas di percakapan ini" in escalation  # an agent account exists
        ticket = tickets.get(found[0])
        assert ticket is not None and ticket.status == OPEN and ticket.conversation_id == user

        reply = await handover.agent_message_out(ticket, "deploy-agent", "Halo, saya petugas.")
        assert reply.status == "sent" and reply.medium == "whatsapp"
        assert [(m["to"], m["body"]) for m in standin.outbound if m["via"] == "rest"] == [
            (user, "Halo, saya petugas.")
        ]

        # Human mode on every replica: no bot answer, every message kept for the agent.
        assert await say(1, "User ID saya budi") == []
        assert await say(0, "sudah saya kirim") == []
        kept = [m.body for m in handover.messages(ticket.reference) if m.direction == "in"]
        assert kept == ["User ID saya budi", "sudah saya kirim"]

        tickets.close(ticket.reference, "Sudah aktif.")
        await handover.release(ticket, "deploy-agent", "Sudah aktif.", closed=True)
        assert "Sudah aktif." in standin.outbound[-1]["body"]
        assert await say(1, "halo") and await say(0, "halo")  # both replicas answer again
    finally:
        console.remove_agent("deploy-agent")
        tickets.dispose()
