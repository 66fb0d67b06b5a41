"""``rasa`` with the twilio library's REST API redirected to the local Twilio stand-in.

Benchmark only. Rasa's built-in ``twilio`` channel answers through Twilio's REST API
(``https://api.twilio.com``, hard-coded in the twilio library); on this machine nothing may
leave loopback, so every twilio ``Domain`` whose base URL is Twilio's gets
``BENCH_TWILIO_API_BASE_URL`` (the stand-in, ``python -m lpse_assist.twilio_local``) instead.
Everything else is Rasa unchanged: ``python bench/builtin_twilio_rasa.py run ...``
(``BENCH_RASA_SPEEDUPS=1``: with ``lpse_assist.rasa_speedups`` installed, as our channels do).
"""

from __future__ import annotations

import os
import sys
from typing import Any

TWILIO_API = "https://api.twilio.com"


def redirect_twilio_api(base_url: str) -> None:
    """Make the twilio library call ``base_url`` instead of Twilio's REST API."""
    from twilio.base.domain import Domain

    original = Domain.__init__

    def init(self: Any, twilio: Any, domain_base_url: str) -> None:
        if domain_base_url.startswith(TWILIO_API):
            domain_base_url = base_url.rstrip("/")
        original(self, twilio, domain_base_url)

    Domain.__init__ = init  # type: ignore[method-assign]


def main() -> int:
    """Run Rasa's command line with the redirect in place."""
    base_url = os.environ.get("BENCH_TWILIO_API_BASE_URL", "").strip()
    if not base_url.startswith("http://127.0.0.1:"):
        print("BENCH_TWILIO_API_BASE_URL must be the local stand-in on 127.0.0.1", file=sys.stderr)
        return 2
    redirect_twilio_api(base_url)
    if os.environ.get("BENCH_RASA_SPEEDUPS") == "1":
        # What our channels install in the process (scenario builtin-fixed-1 of bench/load.py).
        from lpse_assist import rasa_speedups

        rasa_speedups.install()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *sys.argv[1:]]
    rasa_main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
