"""Operators: publish, show or clear the outage notice users see (``make notice``).

    scripts/notice.py                       the active notice, if any
    scripts/notice.py --text "SPSE sedang pemeliharaan sampai 22.00 WIB" \
                      [--until "2026-12-05 22:00"]
    scripts/notice.py --clear

UNTIL is local time (``TICKET_TIMEZONE``, default WIB); without it the notice expires 6 hours
after publishing. Reads and writes the tracker store's database (``TRACKER_DB`` for SQLite;
``POSTGRES_*`` in production): every replica sees the change at its next message.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone

from lpse_assist.notice import (
    DEFAULT_DURATION,
    Notice,
    NoticeError,
    NoticeStore,
    notice_store,
    parse_until,
)
from lpse_assist.render import sms_segments, to_gsm7
from lpse_assist.settings import tracker_db_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make notice", description=(__doc__ or "").split("\n", 1)[0]
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--text", help="the notice users see (TEXT=)")
    action.add_argument("--clear", action="store_true", help="take the notice down (CLEAR=1)")
    parser.add_argument("--until", help='local end time, e.g. "2026-12-05 22:00" (UNTIL=)')
    return parser


def describe(notice: Notice, store: NoticeStore) -> str:
    """The notice as WhatsApp and SMS users get it, and when it expires."""
    sms = to_gsm7(notice.text)
    return "\n".join(
        [
            f"Pengumuman aktif sampai {notice.local_expiry(store.zone)}:",
            f"  {notice.text}",
            f"  SMS: {sms} ({sms_segments(sms)} segmen)",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit 2 when the operator's input cannot be used."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.until is not None and args.text is None:
        parser.error("UNTIL hanya dipakai bersama TEXT")
    store = notice_store()
    where = f"({tracker_db_settings().describe()})"
    if args.clear:
        cleared = store.clear()
        print("Pengumuman dihapus." if cleared else "Tidak ada pengumuman aktif.")
        print(where)
        return 0
    if args.text is not None:
        now = datetime.now(timezone.utc)
        try:
            until = parse_until(args.until, store.zone, now) if args.until else None
            notice = store.publish(args.text, until, now=now)
        except NoticeError as error:
            print(f"Pengumuman tidak diterbitkan: {error}", file=sys.stderr)
            return 2
        print(describe(notice, store))
        if not args.until:
            hours = int(DEFAULT_DURATION.total_seconds() // 3600)
            print(f"  (tanpa UNTIL: berakhir sendiri setelah {hours} jam)")
        print(where)
        return 0
    active = store.active()
    print(describe(active, store) if active else "Tidak ada pengumuman aktif.")
    print(where)
    return 0


if __name__ == "__main__":
    sys.exit(main())
