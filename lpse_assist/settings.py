"""Every setting of the project, read from environment variables in this one module.

Values are read when a loader is first called (never at import time of other modules) and
cached, so the whole process sees one consistent configuration. Tests call
``reset_settings_cache()`` after changing the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


@dataclass(frozen=True)
class ContactSettings:
    """Where the escalation contacts come from."""

    contacts_file: Path


@lru_cache(maxsize=1)
def contact_settings() -> ContactSettings:
    """Contacts YAML: ``LPSE_CONTACTS_FILE``, else ``contacts.yml`` at the project root."""
    path = _env("LPSE_CONTACTS_FILE") or str(PROJECT_ROOT / "contacts.yml")
    return ContactSettings(contacts_file=Path(path))


def _env_float(name: str, default: float) -> float:
    raw = _env(name)
    try:
        return float(raw) if raw else default
    except ValueError:
        # A typo in an optional tuning knob must not stop the bot; the default is safe.
        return default


def _env_int(name: str, default: int) -> int:
    raw = _env(name)
    try:
        return int(raw) if raw else default
    except ValueError:
        return default


@dataclass(frozen=True)
class TwilioSettings:
    """How the bot talks to Twilio (WhatsApp and SMS on one webhook)."""

    account_sid: str
    auth_token: str
    sms_number: str
    whatsapp_number: str
    # Public URL Twilio calls for the webhook; signatures are computed over it. Empty: rebuild
    # it from the request (honouring X-Forwarded-Proto/Host).
    webhook_url: str
    # Base URL of the Twilio REST API; tests and demos point it at the local stand-in.
    api_base_url: str
    # Outbound REST sends: seconds per attempt and number of attempts.
    send_timeout: float
    send_attempts: int


@lru_cache(maxsize=1)
def twilio_settings() -> TwilioSettings:
    """Twilio: ``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``, ``TWILIO_SMS_NUMBER``,
    ``TWILIO_WHATSAPP_NUMBER``, ``TWILIO_WEBHOOK_URL``, ``TWILIO_API_BASE_URL``,
    ``TWILIO_SEND_TIMEOUT`` (seconds, default 10) and ``TWILIO_SEND_ATTEMPTS`` (default 3)."""
    return TwilioSettings(
        account_sid=_env("TWILIO_ACCOUNT_SID"),
        auth_token=_env("TWILIO_AUTH_TOKEN"),
        sms_number=_env("TWILIO_SMS_NUMBER"),
        whatsapp_number=_env("TWILIO_WHATSAPP_NUMBER"),
        webhook_url=_env("TWILIO_WEBHOOK_URL"),
        api_base_url=_env("TWILIO_API_BASE_URL").rstrip("/"),
        send_timeout=max(0.5, _env_float("TWILIO_SEND_TIMEOUT", 10.0)),
        send_attempts=min(5, max(1, _env_int("TWILIO_SEND_ATTEMPTS", 3))),
    )


def reset_settings_cache() -> None:
    """Forget cached settings so the next call reads the environment again (tests only)."""
    for loader in (contact_settings, twilio_settings):
        loader.cache_clear()
