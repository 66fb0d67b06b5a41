"""An agent works a ticket through the console's HTTP routes: the inbox lists it (oldest
waiting first), the ticket page shows the conversation from the tracker store, a reply
reaches the local Twilio stand-in, new user messages appear, closing tells the user."""

from __future__ import annotations

import time
from typing import Any

from aiohttp.test_utils import TestClient

from lpse_assist.tickets import CLOSED
from lpse_assist.twilio_local import LocalTwilio
from tests.lpse_assist.console.conftest import WA_USER, add_event, csrf_of, login, open_ticket


async def test_inbox_lists_open_tickets_oldest_waiting_first(
    client: TestClient, services: Any
) -> None:
    first = open_ticket(services.tickets, key="a")
    second = open_ticket(services.tickets, "+6281311112222", key="b")
    assert (await login(client)).status == 302
    rows = (await (await client.get("/api/inbox")).json())["tickets"]
    assert [r["reference"] for r in rows] == [first.reference, second.reference]
    assert rows[1]["medium"] == "SMS" and rows[0]["medium"] == "WhatsApp"
    assert rows[0]["holder"] == "" and rows[0]["waiting"] == "< 1 menit"
    page = await (await client.get("/")).text()
    assert first.reference in page and "belum diambil" in page


async def test_agent_replies_sees_new_messages_and_closes(
    client: TestClient, services: Any, standin: LocalTwilio
) -> None:
    ticket = open_ticket(services.tickets)
    now = time.time()
    add_event(services.tickets, WA_USER, "user", {"text": "sy gk bs login", "timestamp": now - 60})
    add_event(
        services.tickets,
        WA_USER,
        "bot",
        {
            "text": "Laporkan ke LPSE Support, sertakan User ID.",
            "metadata": {"utter_action": "utter_escalate_login_problem"},
            "timestamp": now - 59,
        },
    )
    assert (await login(client)).status == 302
    path = f"/tickets/{ticket.reference}"
    page = await (await client.get(path)).text()
    assert "sy gk bs login" in page and WA_USER in page
    assert 'data-testid="documents">Laporkan ke LPSE Support, sertakan User ID.' in page

    token = await csrf_of(client, path)
    response = await client.post(
        f"{path}/reply", data={"csrf": token, "body": "Halo, saya Siti dari helpdesk."}
    )
    assert response.status == 200 and "Balasan dikirim." in await response.text()
    sent = [m for m in standin.outbound if m["via"] == "rest"]
    assert [(m["to"], m["body"]) for m in sent] == [(WA_USER, "Halo, saya Siti dari helpdesk.")]
    inbox = (await (await client.get("/api/inbox")).json())["tickets"]
    assert inbox[0]["holder"] == "siti" and inbox[0]["waiting"] == "dijawab"

    # The user writes again: kept for the agent, shown on the ticket's JSON route.
    assert services.handover.store_inbound(WA_USER, "SM9", "terima kasih", "whatsapp")
    data = await (await client.get(f"/api/tickets/{ticket.reference}")).json()
    assert [m["author"] for m in data["messages"]] == ["user", "bot", "agent", "user"]
    assert data["messages"][2]["status"] == "sent" and data["holder"] == "siti"
    assert (await (await client.get("/api/inbox")).json())["tickets"][0]["waiting"] != "dijawab"

    response = await client.post(f"{path}/close", data={"csrf": token, "note": "Sudah aktif."})
    assert "Tiket ditutup" in await response.text()
    assert services.tickets.get(ticket.reference).status == CLOSED
    assert services.handover.mode_of(WA_USER) is None
    assert "Catatan petugas: Sudah aktif." in standin.outbound[-1]["body"]
    assert (await (await client.get("/api/inbox")).json())["tickets"] == []
    # Found again among the closed tickets, by reference and by the number as staff type it.
    for query in (ticket.reference[-8:], "081234567890", "+62 812-3456-7890"):
        found = await (await client.get("/closed", params={"q": query})).text()
        assert ticket.reference in found, query
    assert ticket.reference not in await (await client.get("/closed?q=0899")).text()
    trail = [e.action for e in services.store.audit_trail(ticket.reference)]
    assert trail == ["close", "reply"]


async def test_hand_back_to_the_bot(
    client: TestClient, services: Any, standin: LocalTwilio
) -> None:
    ticket = open_ticket(services.tickets)
    services.handover.take(ticket, "siti")
    assert (await login(client)).status == 302
    token = await csrf_of(client)
    response = await client.post(f"/tickets/{ticket.reference}/release", data={"csrf": token})
    assert "dikembalikan ke asisten otomatis" in await response.text()
    assert services.handover.mode_of(WA_USER) is None
    assert services.tickets.get(ticket.reference).status == "open"
    # The WhatsApp window is closed (the user never wrote): the console says SMS was used.
    assert standin.outbound[-1]["to"] == WA_USER.split(":", 1)[1]
    data = await (await client.get(f"/api/tickets/{ticket.reference}")).json()
    assert "24 jam" in data["route_note"] and "24 jam" in data["messages"][-1]["note"]


async def test_closed_tickets_take_no_more_actions(client: TestClient, services: Any) -> None:
    ticket = open_ticket(services.tickets)
    services.tickets.close(ticket.reference, "selesai")
    assert (await login(client)).status == 302
    token = await csrf_of(client)
    response = await client.post(
        f"/tickets/{ticket.reference}/reply", data={"csrf": token, "body": "halo"}
    )
    assert "sudah ditutup" in await response.text()
    assert services.handover.messages(ticket.reference) == []
    assert (await client.get("/tickets/LPSE-20990101-0001")).status == 404
    assert (await client.get("/tickets/..%2F..%2Fetc")).status == 404


async def test_the_console_sends_queue_notices_by_itself(
    services: Any, standin: LocalTwilio
) -> None:
    import asyncio
    from datetime import datetime, timedelta, timezone

    from aiohttp.test_utils import TestServer

    from lpse_assist.console.app import create_app
    from lpse_assist.settings import HelpdeskHoursSettings

    ticket, _ = services.tickets.create(
        key="old",
        topic="umum",
        channel="sms",
        sender_masked="x",
        last_messages=[],
        conversation_id="+6281255556666",
        now=datetime.now(timezone.utc) - timedelta(minutes=5),
    )
    app = create_app(services, HelpdeskHoursSettings("", 2))
    async with TestClient(TestServer(app)):
        for _ in range(50):
            if standin.outbound:
                break
            await asyncio.sleep(0.1)
    assert [m["to"] for m in standin.outbound] == ["+6281255556666"]
    assert ticket.reference in standin.outbound[0]["body"]
