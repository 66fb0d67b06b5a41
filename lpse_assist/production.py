"""The production profile refuses to start with development secrets.

A replica started from ``credentials.production.yml`` (``production: true`` on the Twilio
channel) checks its settings before it serves anything: an empty ``TWILIO_AUTH_TOKEN`` or the
Makefile's development token would let anyone forge Twilio's signature, a plain-http
``TWILIO_WEBHOOK_URL`` on a public host sends citizens' messages unencrypted, and the
``change-me`` passwords of ``.env.example`` are public. The embedded default (``make run``,
``credentials.yml``) does not check: it runs on loopback with the development values.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

# The Makefile's local-development token (also in .env.example and the test topology).
DEVELOPMENT_AUTH_TOKEN = "dev-auth-token-not-secret"
# .env.example's placeholder passwords start with this.
PLACEHOLDER_PREFIX = "change-me"


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def development_secrets(auth_token: str, webhook_url: str) -> list[str]:
    """What makes these settings unfit for production, one sentence each ([] when fit)."""
    problems = []
    if not auth_token.strip():
        problems.append("TWILIO_AUTH_TOKEN is empty")
    elif auth_token.strip() == DEVELOPMENT_AUTH_TOKEN:
        problems.append("TWILIO_AUTH_TOKEN is the development value from the Makefile")
    url = webhook_url.strip()
    if url:
        parts = urlsplit(url)
        if parts.scheme.lower() != "https" and not is_loopback_host(parts.hostname or ""):
            problems.append(
                f"TWILIO_WEBHOOK_URL is {parts.scheme or 'not'} http(s) on a public host "
                "(use https://...)"
            )
    for name in ("POSTGRES_PASSWORD", "REDIS_PASSWORD"):
        if os.environ.get(name, "").strip().startswith(PLACEHOLDER_PREFIX):
            problems.append(f"{name} is the placeholder from .env.example")
    return problems


def refuse_development_secrets(auth_token: str, webhook_url: str) -> None:
    """Exit the process with a clear message when the production settings are not fit."""
    problems = development_secrets(auth_token, webhook_url)
    if not problems:
        return
    message = (
        "LPSE Assist refuses to start in production with development settings: "
        + "; ".join(problems)
        + ". Set real values in .env (docs/deployment.md, docs/security.md)."
    )
    logger.error(message)
    raise SystemExit(message)
