"""``python -m lpse_assist.console``: serve the console, or manage accounts.

    python -m lpse_assist.console [serve] [--host 127.0.0.1] [--port 5090]
    python -m lpse_assist.console agent NAME [--role agent|admin]   (make agent NAME=...)

``agent`` creates the account or resets its password. The password is typed at a prompt
(twice) or, when standard input is not a terminal, read from its first line: never from the
command line, where other users of the machine could see it.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from collections.abc import Sequence

from lpse_assist.console.app import default_services, start
from lpse_assist.console.store import ROLES, ConsoleStore
from lpse_assist.serve import serve_forever
from lpse_assist.settings import console_settings, helpdesk_hours_settings, tracker_db_settings


def set_agent(name: str, role: str) -> int:
    """Create or reset an account; the password from a prompt or standard input."""
    if sys.stdin.isatty():
        password = getpass.getpass(f"Kata sandi untuk {name}: ")
        if getpass.getpass("Ulangi kata sandi: ") != password:
            print("Kata sandi tidak sama; tidak ada yang diubah.", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    from lpse_assist.tickets import ticket_store

    store = ConsoleStore(ticket_store().engine)
    try:
        created = store.set_agent(name, password, role)
    except ValueError as error:
        print(f"agent: {error}", file=sys.stderr)
        return 2
    what = "dibuat" if created else "diperbarui (sesi lamanya diakhiri)"
    print(f"Akun {name} ({role}) {what} di {tracker_db_settings().describe()}.")
    return 0


def serve(host: str, port: int) -> int:
    """Run the console until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = console_settings()
    services = default_services(settings)

    return serve_forever(
        "console",
        host,
        port,
        lambda: start(services, host, port, helpdesk_hours_settings()),
        f"Helpdesk console on http://{host}:{port}{settings.base_path}/",
    )


def main(argv: Sequence[str] | None = None) -> int:
    settings = console_settings()
    parser = argparse.ArgumentParser(prog="python -m lpse_assist.console")
    commands = parser.add_subparsers(dest="command")
    serve_parser = commands.add_parser("serve", help="serve the console (default)")
    for p in (parser, serve_parser):
        p.add_argument("--host", default=settings.host)
        p.add_argument("--port", type=int, default=settings.port)
    agent_parser = commands.add_parser("agent", help="create an account or reset its password")
    agent_parser.add_argument("name")
    agent_parser.add_argument("--role", choices=ROLES, default="agent")
    args = parser.parse_args(argv)
    if args.command == "agent":
        return set_agent(args.name, args.role)
    return serve(args.host, args.port)


if __name__ == "__main__":
    sys.exit(main())
