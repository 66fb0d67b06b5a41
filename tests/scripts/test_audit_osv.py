"""The offline audit finds advisories that affect a pinned version, and only those."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from scripts.audit_osv import audit, main, pinned

ADVISORY: dict[str, Any] = {
    "id": "PYSEC-2099-1",
    "aliases": ["CVE-2099-0001"],
    "details": "Request smuggling in the HTTP parser.",
    "affected": [
        {
            "package": {"name": "AioHTTP", "ecosystem": "PyPI"},
            "ranges": [
                {"type": "ECOSYSTEM", "events": [{"introduced": "3.0"}, {"fixed": "3.9.4"}]}
            ],
            "versions": [],
        }
    ],
}


def database(tmp_path: Path) -> Path:
    folder = tmp_path / "db" / "vulns" / "aiohttp"
    folder.mkdir(parents=True)
    (folder / "PYSEC-2099-1.yaml").write_text(yaml.safe_dump(ADVISORY), encoding="utf-8")
    listed = {
        **ADVISORY,
        "id": "PYSEC-2099-2",
        "affected": [{"package": {"name": "aiohttp"}, "versions": ["3.9.5"], "ranges": []}],
    }
    (folder / "PYSEC-2099-2.yaml").write_text(yaml.safe_dump(listed), encoding="utf-8")
    return tmp_path / "db"


def test_ranges_and_listed_versions(tmp_path: Path) -> None:
    db = database(tmp_path)
    assert [f.advisory for f in audit({"aiohttp": "3.9.3"}, db)] == ["PYSEC-2099-1"]
    found = list(audit({"aiohttp": "3.9.5"}, db))
    assert [f.advisory for f in found] == ["PYSEC-2099-2"]
    assert list(audit({"aiohttp": "2.9"}, db)) == []
    assert list(audit({"sanic": "21.12.2"}, db)) == []


def test_lock_names_are_canonical_and_exit_code_says_found(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("AIOHTTP==3.9.3\nruamel.yaml==0.17.21  # comment\n", encoding="utf-8")
    assert pinned(lock) == {"aiohttp": "3.9.3", "ruamel-yaml": "0.17.21"}
    assert main([str(database(tmp_path)), "--lock", str(lock)]) == 1
    lock.write_text("aiohttp==3.10.0\n", encoding="utf-8")
    assert main([str(tmp_path / "db"), "--lock", str(lock)]) == 0
