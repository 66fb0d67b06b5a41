"""Our tables in the tracker store's SQL database (tickets, the outage notice).

``SqlStore`` is what those stores share: the engine is created on first use (never at import
time) and the tables once per process, tolerating another process that creates them at the
same moment.
"""

from __future__ import annotations

import logging
from datetime import timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import MetaData, create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

logger = logging.getLogger(__name__)


def local_zone(name: str) -> tzinfo:
    """The ticket time zone; WIB (UTC+7) when the name is unknown or tzdata is missing."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("Unknown time zone %r; using WIB (UTC+7).", name)
        return timezone(timedelta(hours=7), "WIB")


def sql_engine(url: str) -> Engine:
    """An engine for ``url``; on SQLite it waits for Rasa's write lock and creates the
    file's directory."""
    kwargs: dict[str, Any] = {"future": True, "pool_pre_ping": True}
    if url.startswith("sqlite"):
        # Rasa writes to the same file: wait for its write lock instead of failing.
        kwargs["connect_args"] = {"timeout": 30}
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    return create_engine(url, **kwargs)


class SqlStore:
    """A store on the tracker store's database (SQLAlchemy Core, synchronous): its tables
    are ``metadata``'s. Async callers run the methods in a worker thread."""

    metadata: ClassVar[MetaData]

    def __init__(self, url: str, zone: tzinfo | None = None) -> None:
        self.url = url
        self.zone = zone or local_zone("Asia/Jakarta")
        self._engine: Engine | None = None
        self._schema_ready = False

    @property
    def engine(self) -> Engine:
        """The engine, created on first use (never at import)."""
        if self._engine is None:
            self._engine = sql_engine(self.url)
        return self._engine

    def ensure_schema(self) -> None:
        """Create the tables that do not exist (idempotent, race-tolerant)."""
        if self._schema_ready:
            return
        try:
            self.metadata.create_all(self.engine, checkfirst=True)
        except (OperationalError, ProgrammingError, IntegrityError):
            # Another process created it between the check and the CREATE: fine if it's there.
            self.metadata.create_all(self.engine, checkfirst=True)
        self._add_missing_columns()
        self._schema_ready = True

    def _add_missing_columns(self) -> None:
        """Bring tables made by an earlier version up to date (stores that need it)."""

    def dispose(self) -> None:
        """Close pooled connections."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
