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


@dataclass(frozen=True)
class TrackerDbSettings:
    """The SQL database of the tracker store (conversations), also home of the tickets."""

    # SQLAlchemy URL, e.g. ``sqlite:////srv/lpse/.data/tracker.db`` or
    # ``postgresql+psycopg2://user:secret@db:5432/rasa``. Contains the password: never log it.
    url: str
    dialect: str

    def describe(self) -> str:
        """The database for messages and logs, without the password."""
        if self.dialect == "sqlite":
            return self.url
        from sqlalchemy.engine import make_url

        return str(make_url(self.url).set(password="***"))


@lru_cache(maxsize=1)
def tracker_db_settings() -> TrackerDbSettings:
    """The tracker store's database, as the endpoints files configure Rasa.

    ``TRACKER_DB_DIALECT`` picks ``sqlite`` or ``postgresql``; unset, it is ``postgresql``
    when ``POSTGRES_HOST`` is set (the production profile, endpoints.production.yml) and
    ``sqlite`` otherwise (the embedded default, endpoints.yml). SQLite reads ``TRACKER_DB``
    (default ``.data/tracker.db`` under the project); PostgreSQL reads ``POSTGRES_HOST``,
    ``POSTGRES_PORT`` (5432), ``POSTGRES_DB``, ``POSTGRES_USER`` and ``POSTGRES_PASSWORD``.
    """
    dialect = _env("TRACKER_DB_DIALECT").lower() or (
        "postgresql" if _env("POSTGRES_HOST") else "sqlite"
    )
    if dialect in ("postgres", "postgresql"):
        from sqlalchemy.engine import URL

        url = URL.create(
            "postgresql+psycopg2",
            username=_env("POSTGRES_USER") or None,
            password=os.environ.get("POSTGRES_PASSWORD") or None,
            host=_env("POSTGRES_HOST") or "127.0.0.1",
            port=_env_int("POSTGRES_PORT", 5432),
            database=_env("POSTGRES_DB") or None,
        )
        return TrackerDbSettings(
            url=url.render_as_string(hide_password=False), dialect="postgresql"
        )
    path = Path(_env("TRACKER_DB") or str(PROJECT_ROOT / ".data" / "tracker.db"))
    if not path.is_absolute():
        path = PROJECT_ROOT / path
    return TrackerDbSettings(url=f"sqlite:///{path}", dialect="sqlite")


@dataclass(frozen=True)
class TicketSettings:
    """Escalation tickets and the helpdesk notification."""

    # ``whatsapp:+62...`` or ``+62...``; empty: tickets are recorded but nobody is notified.
    notify_number: str
    # Time zone of the date in ticket references and of times shown to staff.
    timezone: str
    # How many of the user's last messages a ticket keeps.
    last_messages: int
    # New tickets notified one by one per clock hour; the rest go into one summary after
    # the hour (0: summaries only).
    notify_per_hour: int = 20


@lru_cache(maxsize=1)
def ticket_settings() -> TicketSettings:
    """Tickets: ``HELPDESK_NOTIFY_NUMBER``, ``TICKET_TIMEZONE`` (default ``Asia/Jakarta``,
    WIB), ``TICKET_LAST_MESSAGES`` (default 5, at most 20) and ``HELPDESK_NOTIFY_PER_HOUR``
    (default 20, at least 0)."""
    return TicketSettings(
        notify_number=_env("HELPDESK_NOTIFY_NUMBER"),
        timezone=_env("TICKET_TIMEZONE") or "Asia/Jakarta",
        last_messages=min(20, max(1, _env_int("TICKET_LAST_MESSAGES", 5))),
        notify_per_hour=max(0, _env_int("HELPDESK_NOTIFY_PER_HOUR", 20)),
    )


@dataclass(frozen=True)
class SimulatorSettings:
    """The phone simulator of ``make run`` (local development only)."""

    host: str
    port: int
    # The bot's Twilio webhook the simulator posts to.
    webhook_url: str


@lru_cache(maxsize=1)
def simulator_settings() -> SimulatorSettings:
    """Simulator: ``SIMULATOR_HOST`` (127.0.0.1), ``SIMULATOR_PORT`` (5080) and
    ``SIMULATOR_WEBHOOK_URL`` (default: the local Rasa server on ``RASA_PORT``)."""
    rasa_port = _env_int("RASA_PORT", 5005)
    return SimulatorSettings(
        host=_env("SIMULATOR_HOST") or "127.0.0.1",
        port=_env_int("SIMULATOR_PORT", 5080),
        webhook_url=_env("SIMULATOR_WEBHOOK_URL")
        or f"http://127.0.0.1:{rasa_port}/webhooks/twilio/webhook",
    )


@dataclass(frozen=True)
class ResilienceSettings:
    """How long a turn waits for the action server before the user gets the contacts."""

    action_server_timeout: float


@lru_cache(maxsize=1)
def resilience_settings() -> ResilienceSettings:
    """``ACTION_SERVER_TIMEOUT`` in seconds (default 10, at least 1): below Twilio's 15 s."""
    timeout = _env_float("ACTION_SERVER_TIMEOUT", 10.0)
    return ResilienceSettings(action_server_timeout=max(1.0, timeout))


@dataclass(frozen=True)
class SenderLimitSettings:
    """The per-sender limit of the Twilio webhook and where its counters live."""

    # Messages per sender per minute; 0: no limit (load tests).
    per_minute: int
    # Redis of the production profile (the lock store's); empty host: counters in memory.
    redis_host: str
    redis_port: int
    redis_password: str
    redis_db: int


@lru_cache(maxsize=1)
def sender_limit_settings() -> SenderLimitSettings:
    """``SENDER_LIMIT_PER_MINUTE`` (default 20, 0 = off) and the production profile's
    ``REDIS_HOST``, ``REDIS_PORT`` (6379), ``REDIS_PASSWORD`` and ``REDIS_DB`` (0)."""
    return SenderLimitSettings(
        per_minute=max(0, _env_int("SENDER_LIMIT_PER_MINUTE", 20)),
        redis_host=_env("REDIS_HOST"),
        redis_port=_env_int("REDIS_PORT", 6379),
        redis_password=os.environ.get("REDIS_PASSWORD", ""),
        redis_db=_env_int("REDIS_DB", 0),
    )


@dataclass(frozen=True)
class SessionSettings:
    """When a long conversation starts a new session (lpse_assist/sessions.py)."""

    # A new session (all slots kept) once the current one has this many events and the
    # conversation is at rest; 0 turns the bound off.
    max_events: int
    # Past this many events a new session starts even when the conversation is not at rest.
    hard_max_events: int


@lru_cache(maxsize=1)
def session_settings() -> SessionSettings:
    """``SESSION_MAX_EVENTS`` (default 150) and ``SESSION_HARD_MAX_EVENTS`` (default 4 times
    that, at least ``SESSION_MAX_EVENTS``)."""
    max_events = max(0, _env_int("SESSION_MAX_EVENTS", 150))
    hard = _env_int("SESSION_HARD_MAX_EVENTS", 4 * max_events)
    return SessionSettings(max_events=max_events, hard_max_events=max(hard, max_events))


def reset_settings_cache() -> None:
    """Forget cached settings so the next call reads the environment again (tests only)."""
    for loader in (
        contact_settings,
        twilio_settings,
        tracker_db_settings,
        ticket_settings,
        simulator_settings,
        resilience_settings,
        sender_limit_settings,
        session_settings,
    ):
        loader.cache_clear()
    reset_console_settings()


# --------------------------------------------------------------------------- console (issue 16)


@dataclass(frozen=True)
class ConsoleSettings:
    """The helpdesk console (lpse_assist.console): where it listens and how it guards logins."""

    host: str
    port: int
    # Path prefix the console is served under behind a proxy that strips it ("/console").
    base_path: str
    # Sessions end this many hours after login.
    session_hours: float
    # "auto": Secure cookies when the request came over HTTPS (X-Forwarded-Proto from the
    # trusted proxy counts); "1"/"0": always / never.
    cookie_secure: str
    # True only when the console is reachable solely through the proxy (docker-compose):
    # then X-Forwarded-For / X-Forwarded-Proto are believed.
    trust_proxy: bool
    # Failed logins within the window before an account / an address must wait.
    login_account_failures: int
    login_address_failures: int
    login_window_minutes: float


@lru_cache(maxsize=1)
def console_settings() -> ConsoleSettings:
    """Console: ``CONSOLE_HOST`` (127.0.0.1), ``CONSOLE_PORT`` (5090), ``CONSOLE_BASE_PATH``
    (empty), ``CONSOLE_SESSION_HOURS`` (10), ``CONSOLE_COOKIE_SECURE`` (auto),
    ``CONSOLE_TRUST_PROXY`` (0), ``CONSOLE_LOGIN_ACCOUNT_FAILURES`` (5),
    ``CONSOLE_LOGIN_ADDRESS_FAILURES`` (20) and ``CONSOLE_LOGIN_WINDOW_MINUTES`` (15)."""
    secure = _env("CONSOLE_COOKIE_SECURE").lower() or "auto"
    return ConsoleSettings(
        host=_env("CONSOLE_HOST") or "127.0.0.1",
        port=_env_int("CONSOLE_PORT", 5090),
        base_path=_env("CONSOLE_BASE_PATH").rstrip("/"),
        session_hours=max(0.1, _env_float("CONSOLE_SESSION_HOURS", 10.0)),
        cookie_secure=secure if secure in ("auto", "1", "0") else "auto",
        trust_proxy=_env("CONSOLE_TRUST_PROXY").lower() in ("1", "true", "yes"),
        login_account_failures=max(1, _env_int("CONSOLE_LOGIN_ACCOUNT_FAILURES", 5)),
        login_address_failures=max(1, _env_int("CONSOLE_LOGIN_ADDRESS_FAILURES", 20)),
        login_window_minutes=max(1.0, _env_float("CONSOLE_LOGIN_WINDOW_MINUTES", 15.0)),
    )


def reset_console_settings() -> None:
    """Forget the cached console settings (tests; ``reset_settings_cache`` calls it too)."""
    console_settings.cache_clear()
    helpdesk_hours_settings.cache_clear()


@dataclass(frozen=True)
class HelpdeskHoursSettings:
    """When the helpdesk answers in the console, and when a waiting user hears about it."""

    # "mon-fri 08:00-16:00" (lpse_assist/office_hours.py) in TICKET_TIMEZONE; empty: always.
    office_hours: str
    # An open ticket nobody took this many minutes into office hours: the user is told it
    # is waiting in the queue (once). 0 turns the message off.
    queue_minutes: int


@lru_cache(maxsize=1)
def helpdesk_hours_settings() -> HelpdeskHoursSettings:
    """``HELPDESK_OFFICE_HOURS`` (empty) and ``HELPDESK_QUEUE_MINUTES`` (15)."""
    return HelpdeskHoursSettings(
        office_hours=_env("HELPDESK_OFFICE_HOURS"),
        queue_minutes=max(0, _env_int("HELPDESK_QUEUE_MINUTES", 15)),
    )
