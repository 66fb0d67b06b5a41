"""Ticket status: "status tiket LPSE-20261201-0003", "laporan saya sudah diproses?".

The reference is read from the user's message (typed loosely: ``lpse 20261201 3`` counts);
without one, the sender's most recent ticket is used, and a sender without tickets is asked
for the reference. A sender only ever learns about its own tickets: the store is asked for
this conversation's ticket (``TicketStore.for_conversation``), so another sender's reference
gets the same "not found" as a reference that does not exist.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import date, datetime, tzinfo
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.support import send_contacts
from lpse_assist.contacts import load_contacts
from lpse_assist.privacy import mask_phone, medium_of_sender
from lpse_assist.safe_text import shortened
from lpse_assist.tickets import CLOSED, REFERENCE_PREFIX, Ticket, ticket_store

logger = logging.getLogger(__name__)

# LPSE-20261201-0003, also "lpse 20261201 3", "LPSE20261201-0003" or "20261201-0003"; the
# date must look like 20YYMMDD, so phone numbers do not match.
REFERENCE = re.compile(
    r"(?<![0-9A-Za-z])(?:LPSE[\s\-_./]*)?(20\d{2})(\d{2})(\d{2})[\s\-_./]+(\d{1,4})(?!\d)",
    re.IGNORECASE,
)
NOTE_MAX_CHARS = 300
# The input channel of the Twilio webhook (lpse_assist.channels.twilio).
TWILIO_CHANNEL = "twilio"
# Rasa waits about 10 s for the whole action.
STORE_TIMEOUT_SECONDS = 5.0


def find_reference(text: str) -> str | None:
    """The first ticket reference in ``text``, written as staff see it, or ``None``."""
    for match in REFERENCE.finditer(text or ""):
        year, month, day, seq = match.groups()
        try:
            date(int(year), int(month), int(day))
        except ValueError:
            continue
        if int(seq) == 0:
            continue
        return f"{REFERENCE_PREFIX}-{year}{month}{day}-{int(seq):04d}"
    return None


def local_time(moment: datetime, zone: tzinfo) -> str:
    """``01-12-2026 14:30 WIB``: how the user reads a ticket's times."""
    return moment.astimezone(zone).strftime("%d-%m-%Y %H:%M %Z").strip()


def tell_status(dispatcher: CollectingDispatcher, ticket: Ticket, zone: tzinfo) -> None:
    """Open or closed, since when, and the closing note."""
    created = local_time(ticket.created_at, zone)
    if ticket.status == CLOSED:
        closed = local_time(ticket.closed_at, zone) if ticket.closed_at else "-"
        dispatcher.utter_message(
            response="utter_ticket_status_closed",
            reference=ticket.reference,
            created=created,
            closed=closed,
        )
        note = shortened(ticket.close_note or "", NOTE_MAX_CHARS)
        if note:
            dispatcher.utter_message(response="utter_ticket_close_note", note=note)
    else:
        dispatcher.utter_message(
            response="utter_ticket_status_open", reference=ticket.reference, created=created
        )


def sender_is_proven(tracker: Tracker) -> bool:
    """False when a phone number's conversation is reached through another channel.

    A WhatsApp or SMS sender id is the user's phone number only when the message came through
    the Twilio webhook (signed by Twilio); a client of another channel (REST) chooses its
    sender id and must never read the tickets of a phone number it typed.
    """
    phone = medium_of_sender(tracker.sender_id) in ("whatsapp", "sms")
    if phone and tracker.get_latest_input_channel() != TWILIO_CHANNEL:
        logger.warning(
            "Ticket status for %s asked through %r: not answered.",
            mask_phone(tracker.sender_id),
            tracker.get_latest_input_channel(),
        )
        return False
    return True


class ActionCheckTicketStatus(Action):
    """User sees the status of their own ticket, "not found", or is asked for the number."""

    def name(self) -> str:
        return "action_check_ticket_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        text = str((tracker.latest_message or {}).get("text") or "")
        reference = find_reference(text)
        store = ticket_store()
        try:
            ticket = None
            if sender_is_proven(tracker):
                ticket = await asyncio.wait_for(
                    asyncio.to_thread(store.for_conversation, tracker.sender_id, reference),
                    timeout=STORE_TIMEOUT_SECONDS,
                )
        except Exception:
            logger.exception("Could not read tickets for %s.", mask_phone(tracker.sender_id))
            dispatcher.utter_message(response="utter_ticket_status_unavailable")
            send_contacts(dispatcher, load_contacts())
            return []
        if ticket is None:
            if reference:
                dispatcher.utter_message(response="utter_ticket_not_found", reference=reference)
            else:
                dispatcher.utter_message(response="utter_ask_ticket_reference")
            return []
        if reference is None:
            dispatcher.utter_message(response="utter_ticket_status_latest")
        tell_status(dispatcher, ticket, store.zone)
        return []
