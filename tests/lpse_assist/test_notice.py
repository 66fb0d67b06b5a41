"""The operator's outage notice on a real SQLite file; ``make notice`` as operators run it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from lpse_assist.notice import (
    DEFAULT_DURATION,
    MAX_CHARS,
    NoticeError,
    NoticeStore,
    active_notice,
    clean_text,
    notice_store,
    parse_until,
    reset_notice_store,
)
from lpse_assist.render import is_gsm7, sms_segments, to_gsm7
from lpse_assist.safe_text import shortened
from lpse_assist.settings import reset_settings_cache
from lpse_assist.tickets import local_zone

ROOT = Path(__file__).resolve().parents[2]
WIB = local_zone("Asia/Jakarta")
NOW = datetime(2026, 12, 5, 8, 0, tzinfo=timezone.utc)  # 15:00 WIB


@pytest.fixture()
def db_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "tracker.db"
    monkeypatch.setenv("TRACKER_DB", str(path))
    for name in ("TRACKER_DB_DIALECT", "POSTGRES_HOST", "TICKET_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    reset_settings_cache()
    reset_notice_store()
    yield path
    reset_notice_store()
    reset_settings_cache()


def store_at(path: Path) -> NoticeStore:
    return NoticeStore(f"sqlite:///{path}", WIB)


# --------------------------------------------------------------------------- the text


def test_text_becomes_one_clean_line() -> None:
    assert clean_text("  SPSE  sedang\npemeliharaan\t\x07sampai 22.00 WIB ") == (
        "SPSE sedang pemeliharaan sampai 22.00 WIB"
    )


def test_text_cannot_carry_placeholders_or_break_rasas_template() -> None:
    # Rasa drops a message whose interpolated text contains "0[" (unfilled placeholder).
    text = clean_text("Info {notice} {0[x]} [20] a\\b|c~d`e^f")
    assert not set(text) & set("{}[]\\|~`^")
    assert "0[" not in text
    assert text == "Info (notice) (0(x)) (20) abcdef"


@pytest.mark.parametrize("raw", ["", "   ", "\n\t", "\u200b"])
def test_empty_text_is_refused(raw: str) -> None:
    with pytest.raises(NoticeError, match="kosong"):
        clean_text(raw)


def test_too_long_text_is_refused_not_cut() -> None:
    clean_text("a" * MAX_CHARS)
    with pytest.raises(NoticeError, match="terlalu panjang"):
        clean_text("a" * (MAX_CHARS + 1))


def test_text_with_nothing_for_sms_is_refused() -> None:
    with pytest.raises(NoticeError, match="SMS"):
        clean_text("\U0001f6a7\U0001f6a7")


def test_sms_form_is_gsm7_and_short() -> None:
    text = clean_text("SPSE \u201cpemeliharaan\u201d \u2013 sampai 22.00 WIB\u2026 " + "x" * 150)
    sms = to_gsm7(text)
    assert is_gsm7(sms) and sms_segments(sms) <= 2


def test_closing_notes_are_shortened_at_a_word() -> None:
    assert shortened("kata " * 100, 30) == "kata kata kata kata kata..."
    assert len(shortened("x" * 500, 300)) == 300
    assert shortened(" dibantu\nlewat {telepon} ", 300) == "dibantu lewat (telepon)"


# --------------------------------------------------------------------------- UNTIL


@pytest.mark.parametrize(
    "raw", ["2026-12-05 22:00", "2026-12-05T22:00", "2026-12-05 22.00", "2026-12-05 22:00:00"]
)
def test_until_is_local_time(raw: str) -> None:
    assert parse_until(raw, WIB, NOW) == datetime(2026, 12, 5, 15, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "raw,message",
    [
        ("besok", "tidak dikenali"),
        ("22:00", "tidak dikenali"),
        ("2026-12-05 14:59", "sudah lewat"),
        ("2026-12-13 22:00", "terlalu jauh"),
    ],
)
def test_bad_until_is_refused(raw: str, message: str) -> None:
    with pytest.raises(NoticeError, match=message):
        parse_until(raw, WIB, NOW)


# --------------------------------------------------------------------------- the store


def test_nothing_connects_before_first_use(db_path: Path) -> None:
    store = notice_store()
    assert store._engine is None and not db_path.exists()
    assert store.active() is None
    assert db_path.exists()


def test_publish_show_replace_and_clear(db_path: Path) -> None:
    store = store_at(db_path)
    first = store.publish("SPSE sedang pemeliharaan", now=NOW)
    assert store.active(NOW) == first
    second = store.publish("SPSE kembali normal pukul 22.00 WIB", now=NOW + timedelta(minutes=5))
    assert store.active(NOW + timedelta(minutes=6)) == second
    assert store.clear(NOW + timedelta(minutes=7)) == 1
    assert store.active(NOW + timedelta(minutes=8)) is None
    assert store.clear(NOW + timedelta(minutes=9)) == 0


def test_notice_expires_by_itself(db_path: Path) -> None:
    store = store_at(db_path)
    until = NOW + timedelta(hours=2)
    notice = store.publish("Pemeliharaan", until, now=NOW)
    assert notice.local_expiry(WIB) == "2026-12-05 17:00 WIB"
    assert store.active(until - timedelta(seconds=1)) == notice
    assert store.active(until) is None


def test_without_until_it_expires_after_the_default(db_path: Path) -> None:
    store = store_at(db_path)
    notice = store.publish("Pemeliharaan", now=NOW)
    assert notice.expires_at == NOW + DEFAULT_DURATION
    assert store.active(NOW + DEFAULT_DURATION - timedelta(minutes=1)) == notice
    assert store.active(NOW + DEFAULT_DURATION) is None


def test_every_replica_sees_it_at_once(db_path: Path) -> None:
    operator, replica_1, replica_2 = store_at(db_path), store_at(db_path), store_at(db_path)
    assert replica_1.active() is None and replica_2.active() is None  # both already connected
    published = operator.publish("SPSE sedang pemeliharaan")
    assert replica_1.active() == published and replica_2.active() == published
    operator.clear()
    assert replica_1.active() is None and replica_2.active() is None


def test_published_text_is_the_cleaned_text(db_path: Path) -> None:
    notice = store_at(db_path).publish("SPSE {x}\n sedang  gangguan")
    assert notice.text == "SPSE (x) sedang gangguan"
    assert store_at(db_path).active() == notice


def test_an_expiry_in_the_past_is_refused(db_path: Path) -> None:
    with pytest.raises(NoticeError):
        store_at(db_path).publish("Pemeliharaan", NOW - timedelta(minutes=1), now=NOW)
    assert store_at(db_path).active(NOW) is None


async def test_an_unreadable_database_means_no_notice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A directory where the database file should be: SQLite cannot open it.
    (tmp_path / "tracker.db").mkdir()
    monkeypatch.setenv("TRACKER_DB", str(tmp_path / "tracker.db"))
    monkeypatch.delenv("POSTGRES_HOST", raising=False)
    reset_settings_cache()
    reset_notice_store()
    try:
        assert await active_notice() is None
    finally:
        reset_notice_store()
        reset_settings_cache()


# --------------------------------------------------------------------------- make notice


def run_notice(db_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRACKER_DB": str(db_path), "TICKET_TIMEZONE": "Asia/Jakarta"}
    env.pop("POSTGRES_HOST", None)
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "notice.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_command_publishes_shows_and_clears(db_path: Path) -> None:
    until = (datetime.now(WIB) + timedelta(hours=3)).strftime("%Y-%m-%d %H:%M")
    done = run_notice(db_path, "--text", "SPSE sedang pemeliharaan", "--until", until)
    assert done.returncode == 0, done.stderr
    assert f"sampai {until} WIB" in done.stdout and "(1 segmen)" in done.stdout
    assert store_at(db_path).active() is not None

    shown = run_notice(db_path)
    assert shown.returncode == 0 and "SPSE sedang pemeliharaan" in shown.stdout

    cleared = run_notice(db_path, "--clear")
    assert cleared.returncode == 0 and "dihapus" in cleared.stdout
    assert store_at(db_path).active() is None
    assert "Tidak ada pengumuman aktif." in run_notice(db_path).stdout


def test_command_refuses_bad_input_and_keeps_the_current_notice(db_path: Path) -> None:
    current = store_at(db_path).publish("SPSE sedang pemeliharaan")
    for args in (["--text", "x", "--until", "2020-01-01 10:00"], ["--text", " "]):
        done = run_notice(db_path, *args)
        assert done.returncode == 2, done.stdout
        assert "tidak diterbitkan" in done.stderr
    assert store_at(db_path).active() == current
    assert run_notice(db_path, "--until", "2026-12-05 22:00").returncode == 2


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_notice_passes_any_text_through(db_path: Path) -> None:
    env = {**os.environ, "TRACKER_DB": str(db_path)}
    env.pop("POSTGRES_HOST", None)
    on_test_db = [f"TRACKER_DB={db_path}", "TRACKER_DB_DIALECT=sqlite"]
    text = "SPSE \"pemeliharaan\" 'server' $HOME `id` & 50% sampai 22.00 WIB"
    done = subprocess.run(
        # On the command line: a developer's .env cannot point make at another database.
        ["make", "-s", "notice", f"TEXT={text}", *on_test_db],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    notice = store_at(db_path).active()
    assert notice is not None
    assert notice.text == "SPSE \"pemeliharaan\" 'server' $HOME id & 50% sampai 22.00 WIB"
    cleared = subprocess.run(
        ["make", "-s", "notice", "CLEAR=1", *on_test_db],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert cleared.returncode == 0 and store_at(db_path).active() is None
