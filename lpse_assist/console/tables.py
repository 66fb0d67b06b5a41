"""The console's tables (no password hashing here: the action server imports this module to
know whether any agent can answer, and its image has no argon2).

* ``lpse_console_agents``: staff accounts (name, argon2id hash, role ``agent``/``admin``).
* ``lpse_console_sessions``: server-side sessions; only the SHA-256 of the random token is
  stored, so a copy of the database does not let anyone sign in.
* ``lpse_console_login_failures``: failed logins per account and per address, shared by all
  replicas, for throttling.
* ``lpse_console_audit``: who took, replied to, closed or handed back which ticket, when.
"""

from __future__ import annotations

import weakref

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

ROLES = ("agent", "admin")
NAME_MAX = 64

metadata = MetaData()
agents_table = Table(
    "lpse_console_agents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(NAME_MAX), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False, default="agent"),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", DateTime, nullable=False),
)
sessions_table = Table(
    "lpse_console_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("agent_id", Integer, nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
)
failures_table = Table(
    "lpse_console_login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account", String(NAME_MAX), nullable=False, index=True),
    Column("address", String(64), nullable=False, index=True),
    Column("at", DateTime, nullable=False, index=True),
)
audit_table = Table(
    "lpse_console_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False),
    Column("agent", String(NAME_MAX), nullable=False),
    Column("action", String(32), nullable=False),
    Column("reference", String(32), nullable=False, default="", index=True),
    Column("detail", Text, nullable=False, default=""),
)


def create_tables(tables: MetaData, engine: Engine) -> None:
    """Create the missing tables of ``tables`` (idempotent; a replica that loses the race to
    create one finds it there on the second try)."""
    try:
        tables.create_all(engine, checkfirst=True)
    except (OperationalError, ProgrammingError, IntegrityError):
        tables.create_all(engine, checkfirst=True)


# Engines whose console tables exist: each escalation asks whether an agent exists, and
# checking every table first cost four more queries per escalation.
_ready: weakref.WeakSet[Engine] = weakref.WeakSet()


def ensure_schema(engine: Engine) -> None:
    """Create the console's tables if missing (checked once per engine)."""
    if engine in _ready:
        return
    create_tables(metadata, engine)
    _ready.add(engine)


def active_agents_exist(engine: Engine) -> bool:
    """True when at least one active account exists (someone can answer in the console)."""
    ensure_schema(engine)
    with engine.connect() as conn:
        count = conn.execute(
            select(func.count()).select_from(agents_table).where(agents_table.c.active.is_(True))
        ).scalar_one()
    return bool(count)
