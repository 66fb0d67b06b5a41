"""The SQL database behind Rasa's tracker store, for the tables and indexes we add to it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine


def innermost(tracker_store: Any) -> Any:
    """The configured store behind Rasa's wrappers.

    Rasa wraps it (``FailSafeTrackerStore`` around ``AwaitableTrackerStore``); each wrapper
    keeps the inner store in ``_tracker_store``.
    """
    store = tracker_store
    for _ in range(5):
        inner = getattr(store, "_tracker_store", None)
        if inner is None:
            break
        store = inner
    return store


def sql_engine_of(tracker_store: Any) -> Engine | None:
    """The SQLAlchemy engine of Rasa's SQL tracker store, if the store is one."""
    engine = getattr(innermost(tracker_store), "engine", None)
    return engine if isinstance(engine, Engine) else None
