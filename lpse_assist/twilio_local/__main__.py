"""Run the local Twilio stand-in, or talk through a running one.

    python -m lpse_assist.twilio_local [serve] [--port 4010]
    python -m lpse_assist.twilio_local send --from whatsapp:+6281234567890 "gak bisa login"
    python -m lpse_assist.twilio_local send --from +6281234567890 --media image/jpeg ""
    python -m lpse_assist.twilio_local send --from whatsapp:+62... --delivery undelivered "halo"
    python -m lpse_assist.twilio_local messages

Account, token and numbers default to the ``TWILIO_*`` environment variables (the same the
bot reads); the webhook defaults to ``TWILIO_WEBHOOK_URL`` or the local ``rasa run`` address.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

import aiohttp

from lpse_assist.settings import twilio_settings
from lpse_assist.twilio_local.server import LocalTwilio, serve_forever

DEFAULT_PORT = 4010
DEFAULT_WEBHOOK = "http://127.0.0.1:5005/webhooks/twilio/webhook"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lpse_assist.twilio_local")
    sub = parser.add_subparsers(dest="command")

    serve = sub.add_parser("serve", help="run the stand-in (default)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument("--webhook-url", default="", help="the bot's Twilio webhook")

    send = sub.add_parser("send", help="send a user's message through a running stand-in")
    send.add_argument("--standin", default=f"http://127.0.0.1:{DEFAULT_PORT}")
    send.add_argument("--from", dest="from_", required=True, help="+62... or whatsapp:+62...")
    send.add_argument(
        "--media",
        action="append",
        default=[],
        metavar="CONTENT_TYPE",
        help="attach a media item of this type (repeatable)",
    )
    send.add_argument(
        "--delivery",
        choices=["delivered", "undelivered", "failed"],
        help="then report this delivery status for the replies",
    )
    send.add_argument("body", nargs="?", default="")

    messages = sub.add_parser("messages", help="list what users received")
    messages.add_argument("--standin", default=f"http://127.0.0.1:{DEFAULT_PORT}")
    return parser


async def _post_json(url: str, payload: dict[str, Any]) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.post(url, json=payload) as response:
        result: dict[str, Any] = await response.json()
        return result


async def _get_json(url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        result: dict[str, Any] = await response.json()
        return result


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m lpse_assist.twilio_local``."""
    args = _parser().parse_args(argv)
    command = args.command or "serve"
    if command == "send":
        payload = {
            "from": args.from_,
            "body": args.body,
            "media": [
                {"url": f"https://example.invalid/media/{i}", "content_type": t}
                for i, t in enumerate(args.media)
            ],
            "delivery": args.delivery,
        }
        result = asyncio.run(_post_json(f"{args.standin}/_local/inbound", payload))
        print(f"HTTP {result['http_status']}")
        for message in result["messages"]:
            print(f"--- to {message['to']} ({message['num_segments']} SMS segment(s))")
            print(message["body"])
        return 0
    if command == "messages":
        print(
            json.dumps(
                asyncio.run(_get_json(f"{args.standin}/_local/messages")),
                indent=2,
                ensure_ascii=False,
            )
        )
        return 0

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = twilio_settings()
    standin = LocalTwilio(
        account_sid=settings.account_sid or "ACdev00000000000000000000000000000",
        auth_token=settings.auth_token or "dev-auth-token-not-secret",
        webhook_url=getattr(args, "webhook_url", "") or settings.webhook_url or DEFAULT_WEBHOOK,
        sms_number=settings.sms_number or "+15005550006",
        whatsapp_number=settings.whatsapp_number or "whatsapp:+14155238886",
    )
    try:
        asyncio.run(
            serve_forever(
                standin, getattr(args, "host", "127.0.0.1"), getattr(args, "port", DEFAULT_PORT)
            )
        )
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
