"""A conversation as the helpdesk reads it: the user's and the bot's messages from Rasa's
SQL tracker store (table ``events``), without loading Rasa.

The tracker store writes one row per event (``sender_id``, ``type_name``, ``timestamp``,
``data`` = the event as JSON). Only ``user`` and ``bot`` rows matter here. A button payload
(``/intent``) is shown as the option the user picked, as staff would understand it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

logger = logging.getLogger(__name__)

USER, BOT = "user", "bot"
# Rasa's escalation responses (utter_escalate_<topic>) name the documents to attach.
ESCALATION_PREFIX = "utter_escalate_"


@dataclass(frozen=True)
class Line:
    """One message of a conversation."""

    at: float  # epoch seconds
    author: str  # "user" or "bot" (the console adds "agent")
    text: str
    response: str = ""  # the bot's response name (utter_...), when known


def _user_text(data: dict[str, Any]) -> str:
    raw = str(data.get("text") or "")
    if not raw.startswith("/"):
        return raw
    intent = str(((data.get("parse_data") or {}).get("intent") or {}).get("name") or raw[1:])
    choice = ((data.get("metadata") or {}).get("twilio") or {}).get("choice")
    return f"[pilihan {choice}: {intent}]" if choice else f"[{intent}]"


def _bot_text(data: dict[str, Any]) -> str:
    body = str(data.get("text") or "")
    buttons = ((data.get("data") or {}).get("buttons")) or []
    titles = [str(b.get("title") or "") for b in buttons if isinstance(b, dict)]
    if titles:
        options = "\n".join(f"{n}. {t}" for n, t in enumerate(titles, start=1))
        body = f"{body}\n\n{options}" if body else options
    return body


def read_lines(engine: Engine, conversation_id: str, limit: int = 500) -> list[Line]:
    """The last ``limit`` user and bot messages of a conversation, oldest first.

    An empty list when the tracker store has no ``events`` table yet (Rasa never ran).
    """
    query = text(
        "SELECT type_name, timestamp, data FROM events "
        "WHERE sender_id = :sender AND type_name IN ('user', 'bot') "
        "ORDER BY id DESC LIMIT :limit"
    )
    try:
        with engine.connect() as conn:
            rows = conn.execute(query, {"sender": conversation_id, "limit": limit}).all()
    except (OperationalError, ProgrammingError):
        logger.warning("The tracker store has no readable events table yet.")
        return []
    lines: list[Line] = []
    for type_name, stamp, raw in reversed(rows):
        try:
            data = json.loads(raw or "{}")
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        at = float(stamp or data.get("timestamp") or 0.0)
        if type_name == USER:
            lines.append(Line(at, USER, _user_text(data)))
        else:
            response = str((data.get("metadata") or {}).get("utter_action") or "")
            lines.append(Line(at, BOT, _bot_text(data), response))
    return lines


def last_user_time(engine: Engine, conversation_id: str) -> float | None:
    """When the user last wrote to the bot (epoch seconds), from the tracker store."""
    query = text(
        "SELECT MAX(timestamp) FROM events WHERE sender_id = :sender AND type_name = 'user'"
    )
    try:
        with engine.connect() as conn:
            value = conn.execute(query, {"sender": conversation_id}).scalar()
    except (OperationalError, ProgrammingError):
        return None
    return float(value) if value is not None else None


def documents_asked(lines: list[Line]) -> str:
    """The bot's last escalation advice (which office, which documents), or ``""``."""
    for line in reversed(lines):
        if line.author == BOT and line.response.startswith(ESCALATION_PREFIX):
            return line.text
    return ""
