"""Accounts, sessions, login throttling and the audit trail of the console, in its tables
(``lpse_assist.console.tables``) in the tracker store's database (created on first use).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Engine

from lpse_assist.console.tables import (
    NAME_MAX,
    ROLES,
    agents_table,
    audit_table,
    ensure_schema,
    failures_table,
    sessions_table,
)

# argon2id with the library's defaults (RFC 9106 low-memory profile).
_HASHER = PasswordHasher()


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Agent:
    """A signed-in member of the helpdesk."""

    id: int
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class Session:
    """A live session: who, its CSRF token, when it ends."""

    agent: Agent
    csrf_token: str
    expires_at: datetime  # aware, UTC


@dataclass(frozen=True)
class AuditEntry:
    at: datetime  # aware, UTC
    agent: str
    action: str
    reference: str
    detail: str


class ConsoleStore:
    """Accounts, sessions, login throttling and the audit trail."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._ready = False

    def ensure_schema(self) -> None:
        if not self._ready:
            ensure_schema(self.engine)
            self._ready = True

    # ----------------------------------------------------------------- accounts

    def set_agent(self, name: str, password: str, role: str = "agent") -> bool:
        """Create the account or reset its password and role; True when it was created."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        name = name.strip()
        if (
            not name
            or len(name) > NAME_MAX
            or not name.replace(".", "").replace("_", "").replace("-", "").isalnum()
        ):
            raise ValueError("name: 1-64 letters, digits, '.', '_' or '-'")
        if len(password) < 10:
            raise ValueError("password: at least 10 characters")
        self.ensure_schema()
        hashed = _HASHER.hash(password)
        with self.engine.begin() as conn:
            existing = conn.execute(
                select(agents_table.c.id).where(agents_table.c.name == name)
            ).scalar()
            if existing is None:
                conn.execute(
                    insert(agents_table).values(
                        name=name,
                        password_hash=hashed,
                        role=role,
                        active=True,
                        created_at=_utcnow(),
                    )
                )
                return True
            conn.execute(
                update(agents_table)
                .where(agents_table.c.id == existing)
                .values(password_hash=hashed, role=role, active=True)
            )
            # A reset password ends every session of the account.
            conn.execute(delete(sessions_table).where(sessions_table.c.agent_id == existing))
            return False

    def remove_agent(self, name: str) -> None:
        """Delete an account and its sessions."""
        self.ensure_schema()
        with self.engine.begin() as conn:
            agent_id = conn.execute(
                select(agents_table.c.id).where(agents_table.c.name == name)
            ).scalar()
            if agent_id is not None:
                conn.execute(delete(sessions_table).where(sessions_table.c.agent_id == agent_id))
                conn.execute(delete(agents_table).where(agents_table.c.id == agent_id))

    def authenticate(self, name: str, password: str) -> Agent | None:
        """The account if the password matches (constant work whether or not it exists)."""
        self.ensure_schema()
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(agents_table).where(
                        agents_table.c.name == name.strip(), agents_table.c.active.is_(True)
                    )
                )
                .mappings()
                .first()
            )
        stored = row["password_hash"] if row is not None else _dummy_hash()
        try:
            _HASHER.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if _HASHER.check_needs_rehash(stored):
            with self.engine.begin() as conn:
                conn.execute(
                    update(agents_table)
                    .where(agents_table.c.id == row["id"])
                    .values(password_hash=_HASHER.hash(password))
                )
        return Agent(row["id"], row["name"], row["role"])

    # ----------------------------------------------------------------- sessions

    def open_session(self, agent: Agent, hours: float) -> tuple[str, Session]:
        """A new session; returns the token for the cookie (never stored) and the session."""
        self.ensure_schema()
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = _utcnow()
        expires = now + timedelta(hours=hours)
        with self.engine.begin() as conn:
            conn.execute(delete(sessions_table).where(sessions_table.c.expires_at < now))
            conn.execute(
                insert(sessions_table).values(
                    token_hash=_digest(token),
                    agent_id=agent.id,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=expires,
                )
            )
        return token, Session(agent, csrf, expires.replace(tzinfo=timezone.utc))

    def session(self, token: str) -> Session | None:
        """The live session of a cookie token, or ``None`` (unknown, expired, account off)."""
        if not token or len(token) > 200:
            return None
        self.ensure_schema()
        query = (
            select(
                sessions_table.c.csrf_token,
                sessions_table.c.expires_at,
                agents_table.c.id,
                agents_table.c.name,
                agents_table.c.role,
            )
            .join(agents_table, agents_table.c.id == sessions_table.c.agent_id)
            .where(
                sessions_table.c.token_hash == _digest(token),
                sessions_table.c.expires_at > _utcnow(),
                agents_table.c.active.is_(True),
            )
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        return Session(
            Agent(row["id"], row["name"], row["role"]),
            row["csrf_token"],
            row["expires_at"].replace(tzinfo=timezone.utc),
        )

    def close_session(self, token: str) -> None:
        self.ensure_schema()
        with self.engine.begin() as conn:
            conn.execute(
                delete(sessions_table).where(sessions_table.c.token_hash == _digest(token))
            )

    # ----------------------------------------------------------------- throttling

    def recent_failures(self, account: str, address: str, minutes: float) -> tuple[int, int]:
        """Failed logins in the window: ``(for this account, from this address)``."""
        self.ensure_schema()
        since = _utcnow() - timedelta(minutes=minutes)
        with self.engine.connect() as conn:
            by_account = conn.execute(
                select(func.count())
                .select_from(failures_table)
                .where(failures_table.c.account == account[:NAME_MAX], failures_table.c.at > since)
            ).scalar_one()
            by_address = conn.execute(
                select(func.count())
                .select_from(failures_table)
                .where(failures_table.c.address == address[:64], failures_table.c.at > since)
            ).scalar_one()
        return int(by_account), int(by_address)

    def record_failure(self, account: str, address: str) -> None:
        self.ensure_schema()
        now = _utcnow()
        with self.engine.begin() as conn:
            conn.execute(
                delete(failures_table).where(failures_table.c.at < now - timedelta(days=1))
            )
            conn.execute(
                insert(failures_table).values(
                    account=account[:NAME_MAX], address=address[:64], at=now
                )
            )

    def clear_failures(self, account: str) -> None:
        self.ensure_schema()
        with self.engine.begin() as conn:
            conn.execute(delete(failures_table).where(failures_table.c.account == account))

    # ----------------------------------------------------------------- audit

    def audit(self, agent: str, action: str, reference: str = "", detail: str = "") -> None:
        """Record what an agent did."""
        self.ensure_schema()
        with self.engine.begin() as conn:
            conn.execute(
                insert(audit_table).values(
                    at=_utcnow(),
                    agent=agent,
                    action=action,
                    reference=reference,
                    detail=detail[:1000],
                )
            )

    def audit_trail(self, reference: str | None = None, limit: int = 200) -> list[AuditEntry]:
        """Newest first; one ticket's entries when ``reference`` is given."""
        self.ensure_schema()
        query = select(audit_table).order_by(audit_table.c.id.desc()).limit(limit)
        if reference:
            query = query.where(audit_table.c.reference == reference)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [_audit_entry(r) for r in rows]


def _audit_entry(row: Any) -> AuditEntry:
    return AuditEntry(
        row["at"].replace(tzinfo=timezone.utc),
        row["agent"],
        row["action"],
        row["reference"],
        row["detail"],
    )


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Verifying against this when the account does not exist costs the same time as a
    real check, so response times do not tell which names exist."""
    return _HASHER.hash(secrets.token_urlsafe(16))
