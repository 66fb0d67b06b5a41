"""The console's tables: made when missing, then asked about with one query per call."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert, inspect

from lpse_assist.console.tables import active_agents_exist, agents_table
from lpse_assist.db import sql_engine


def test_tables_are_made_once_and_each_question_is_one_query(tmp_path: Path) -> None:
    engine = sql_engine(f"sqlite:///{tmp_path / 'console.db'}")
    assert active_agents_exist(engine) is False  # makes the tables
    assert "lpse_console_agents" in inspect(engine).get_table_names()
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", record)
    assert active_agents_exist(engine) is False
    with engine.begin() as conn:
        conn.execute(
            insert(agents_table).values(
                name="siti", password_hash="x", role="agent", active=True, created_at=datetime.now()
            )
        )
    seen.clear()
    assert active_agents_exist(engine) is True
    # The count, and the pool's liveness check; no look at every table first.
    assert [sql for sql in seen if "lpse_console_agents" in sql and "count" in sql.lower()]
    assert not [sql for sql in seen if "sqlite_master" in sql or "PRAGMA" in sql.upper()]


def test_a_new_engine_gets_its_tables(tmp_path: Path) -> None:
    for name in ("a.db", "b.db"):
        engine = sql_engine(f"sqlite:///{tmp_path / name}")
        assert active_agents_exist(engine) is False
        assert "lpse_console_agents" in inspect(engine).get_table_names()
