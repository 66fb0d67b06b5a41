"""``python -m lpse_assist.simulator``: the phone simulator (``make run`` starts it).

    python -m lpse_assist.simulator [--host 127.0.0.1] [--port 5080] [--webhook-url URL]

Defaults come from the environment (``SIMULATOR_HOST``, ``SIMULATOR_PORT``,
``SIMULATOR_WEBHOOK_URL``, else the local Rasa server on ``RASA_PORT``); requests are signed
with ``TWILIO_AUTH_TOKEN``, the token the bot checks.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from lpse_assist.serve import serve_forever
from lpse_assist.settings import simulator_settings, twilio_settings
from lpse_assist.simulator.app import SimulatorConfig, start


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator until interrupted."""
    settings = simulator_settings()
    parser = argparse.ArgumentParser(prog="python -m lpse_assist.simulator")
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    parser.add_argument(
        "--webhook-url", default=settings.webhook_url, help="the bot's Twilio webhook"
    )
    args = parser.parse_args(argv)

    twilio = twilio_settings()
    if not twilio.auth_token:
        print(
            "simulator: TWILIO_AUTH_TOKEN is empty; the bot would refuse every message.",
            file=sys.stderr,
        )
        return 2
    config = SimulatorConfig(
        webhook_url=args.webhook_url,
        auth_token=twilio.auth_token,
        account_sid=twilio.account_sid or "AC" + "0" * 32,
        sms_number=twilio.sms_number or "+15005550006",
        whatsapp_number=twilio.whatsapp_number or "whatsapp:+14155238886",
        # The bot checks signatures against TWILIO_WEBHOOK_URL when it is set.
        signed_url=twilio.webhook_url,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    return serve_forever(
        "simulator",
        args.host,
        args.port,
        lambda: start(config, args.host, args.port),
        f"Phone simulator on http://{args.host}:{args.port}/ (talks to {args.webhook_url})",
    )


if __name__ == "__main__":
    sys.exit(main())
