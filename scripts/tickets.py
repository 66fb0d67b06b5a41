"""Helpdesk staff: list, show and close escalation tickets (``make tickets``).

    scripts/tickets.py list [--all | --closed] [--limit 50]
    scripts/tickets.py show LPSE-20261124-0042
    scripts/tickets.py close LPSE-20261124-0042 [--note "ditangani via telepon"]

Reads the tracker store's database (``TRACKER_DB`` for SQLite; ``POSTGRES_*`` in production).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import tzinfo

from lpse_assist.settings import tracker_db_settings
from lpse_assist.tickets import CLOSED, OPEN, Ticket, ticket_store


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="make tickets ARGS=", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    listing = sub.add_parser("list", help="open tickets, newest first (default)")
    which = listing.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true", help="open and closed tickets")
    which.add_argument("--closed", action="store_true", help="closed tickets only")
    listing.add_argument("--limit", type=int, default=50)
    show = sub.add_parser("show", help="one ticket with the user's last messages")
    show.add_argument("reference")
    close = sub.add_parser("close", help="mark a ticket as handled")
    close.add_argument("reference")
    close.add_argument("--note", default="", help="what was done (kept with the ticket)")
    return parser


def format_list(tickets: Sequence[Ticket], zone: tzinfo) -> str:
    """One line per ticket: reference, status, time, channel, masked number, topic."""
    if not tickets:
        return "Tidak ada tiket."
    lines = [f"{'tiket':<20} {'status':<7} {'waktu':<20} {'kanal':<9} {'pengguna':<24} topik"]
    for t in tickets:
        lines.append(
            f"{t.reference:<20} {t.status:<7} {t.local_time(zone):<20} "
            f"{t.channel:<9} {t.sender_masked:<24} {t.topic}"
        )
    return "\n".join(lines)


def format_ticket(t: Ticket, zone: tzinfo) -> str:
    """A ticket in full, for the staff member who picks it up."""
    lines = [
        f"Tiket      {t.reference} ({t.status})",
        f"Waktu      {t.local_time(zone)}",
        f"Topik      {t.topic}",
        f"Kanal      {t.channel}",
        f"Pengguna   {t.sender_masked}",
        f"Notifikasi {t.notify_status}",
    ]
    if t.closed_at is not None:
        closed = t.closed_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
        lines.append(f"Ditutup    {closed}" + (f": {t.close_note}" if t.close_note else ""))
    lines.append("Pesan terakhir pengguna:")
    for message in t.last_messages:
        lines.append(f"  - {message.get('text', '')}  [{message.get('intent', '')}]")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit 1 when a ticket does not exist."""
    args = _parser().parse_args(argv)
    store = ticket_store()
    command = args.command or "list"
    if command == "list":
        status = (
            None
            if getattr(args, "all", False)
            else (CLOSED if getattr(args, "closed", False) else OPEN)
        )
        tickets = store.list(status=status, limit=getattr(args, "limit", 50))
        print(format_list(tickets, store.zone))
        print(f"({tracker_db_settings().describe()})")
        return 0
    ticket = store.get(args.reference)
    if ticket is None:
        print(f"Tiket {args.reference} tidak ditemukan.", file=sys.stderr)
        return 1
    if command == "close":
        if ticket.status == CLOSED:
            print(f"Tiket {ticket.reference} sudah ditutup.")
            return 0
        ticket = store.close(ticket.reference, args.note) or ticket
        print(f"Tiket {ticket.reference} ditutup.")
        return 0
    print(format_ticket(ticket, store.zone))
    return 0


if __name__ == "__main__":
    sys.exit(main())
