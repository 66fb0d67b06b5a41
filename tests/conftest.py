"""Shared fixtures: a real ``rasa run`` with the Twilio channel, started once per test session.

``twilio_bot`` starts three processes on free loopback ports: the action server, the Rasa
server (``--credentials credentials.yml --enable-api``, the project's ``endpoints.yml`` with
a temporary SQLite tracker) and the local Twilio stand-in (``python -m
lpse_assist.twilio_local``), which the bot's REST client is pointed at. Tests talk to them
over HTTP only. Needs a trained model (``make train``); without one the tests that use the
fixture are skipped. Mark such tests ``e2e`` (``pytest -m "not e2e"`` skips them).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.topology import DEV_TWILIO_ENV, Process, free_port, tail

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "lpse-assist.tar.gz"
STARTUP_TIMEOUT = 420.0  # Rasa needs 15-60 s to load on a busy 2-core machine


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``e2e`` marker."""
    config.addinivalue_line("markers", "e2e: needs a trained model and starts real servers")


def _http(method: str, url: str, payload: Any = None, timeout: float = 30.0) -> Any:
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (loopback)
        body = response.read()
    return json.loads(body) if body else None


HELPDESK_NOTIFY_NUMBER = "whatsapp:+6281100000077"


@dataclass
class TwilioBot:
    """A running bot with its action server and the local Twilio stand-in."""

    rasa_url: str
    standin_url: str
    env: dict[str, str]
    processes: list[Process]
    # The action server's contacts file (a copy of contacts.yml): tests may rewrite it, the
    # actions read it on every call (tests/e2e/test_account.py).
    contacts_file: Path | None = None

    @property
    def webhook_url(self) -> str:
        return f"{self.rasa_url}/webhooks/twilio/webhook"

    def inbound(self, **payload: Any) -> dict[str, Any]:
        """A user's message delivered through the stand-in (see ``/_local/inbound``)."""
        result: dict[str, Any] = _http("POST", f"{self.standin_url}/_local/inbound", payload)
        return result

    def status(self, message_sid: str, status: str) -> dict[str, Any]:
        """Make the stand-in report a delivery status for one of its recorded messages."""
        result: dict[str, Any] = _http(
            "POST",
            f"{self.standin_url}/_local/status",
            {"message_sid": message_sid, "status": status},
        )
        return result

    def sent(self, to: str | None = None) -> list[dict[str, Any]]:
        """Messages the stand-in recorded (TwiML replies and REST sends)."""
        query = f"?to={urllib.parse.quote(to)}" if to else ""
        result = _http("GET", f"{self.standin_url}/_local/messages{query}")
        return list(result["messages"])

    def tracker(self, sender: str) -> dict[str, Any]:
        """The conversation tracker from Rasa's HTTP API."""
        # Sanic does not unescape path parameters: ":" and "+" must arrive as they are.
        quoted = urllib.parse.quote(sender, safe=":+")
        result: dict[str, Any] = _http("GET", f"{self.rasa_url}/conversations/{quoted}/tracker")
        return result

    def script(self, name: str, *args: str) -> str:
        """``scripts/<name>`` as staff or the operator run it, on this bot's database; its
        standard output (the test fails when it exits with an error)."""
        done = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / name), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def logs(self) -> str:
        """Tails of every process log, for a failing test's report."""
        return "\n".join(f"--- {p.name}\n{tail(p.log)}" for p in self.processes)


def _wait_ready(processes: list[Process]) -> None:
    waiting = [p for p in processes if p.ready_url]
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while waiting and time.monotonic() < deadline:
        for process in list(waiting):
            if not process.running:
                raise RuntimeError(f"{process.name} exited:\n{tail(process.log)}")
            try:
                assert process.ready_url is not None
                urllib.request.urlopen(process.ready_url, timeout=2).close()  # noqa: S310
                waiting.remove(process)
            except (urllib.error.URLError, OSError):
                pass
        if waiting:
            time.sleep(0.5)
    if waiting:
        logs = "\n".join(f"--- {p.name}\n{tail(p.log)}" for p in waiting)
        raise RuntimeError(f"not ready after {STARTUP_TIMEOUT:.0f} s:\n{logs}")


@pytest.fixture(scope="session")
def twilio_bot() -> Iterator[TwilioBot]:
    """Action server, Rasa with the Twilio channel, and the Twilio stand-in, once per session."""
    if not MODEL.exists():
        pytest.skip(f"no model at {MODEL}: run `make train`")
    workdir = Path(tempfile.mkdtemp(prefix="lpse-twilio-e2e-"))
    rasa_port, action_port, standin_port = free_port(), free_port(), free_port()
    rasa_url = f"http://127.0.0.1:{rasa_port}"
    standin_url = f"http://127.0.0.1:{standin_port}"
    env = {
        **os.environ,
        **DEV_TWILIO_ENV,
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "SANIC_WORKERS": "1",
        "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{action_port}/webhook",
        "TRACKER_DB": str(workdir / "tracker.db"),
        # Empty: the channel rebuilds the URL Twilio signed from the request itself.
        "TWILIO_WEBHOOK_URL": "",
        "TWILIO_API_BASE_URL": standin_url,
        "TWILIO_SEND_TIMEOUT": "5",
        # Escalations notify this helpdesk number through the stand-in (tests/lpse_assist/
        # test_tickets_e2e.py checks the message arrives).
        "HELPDESK_NOTIFY_NUMBER": HELPDESK_NOTIFY_NUMBER,
        "LPSE_CONTACTS_FILE": str(workdir / "contacts.yml"),
    }
    shutil.copyfile(ROOT / "contacts.yml", workdir / "contacts.yml")
    python = sys.executable
    processes = [
        Process(
            "actions",
            [
                python,
                "-m",
                "rasa",
                "run",
                "actions",
                "--actions",
                "actions",
                "--port",
                str(action_port),
            ],
            workdir / "actions.log",
            ready_url=f"http://127.0.0.1:{action_port}/health",
        ),
        Process(
            "rasa",
            [
                python,
                "-m",
                "rasa",
                "run",
                "--model",
                str(MODEL),
                "--endpoints",
                str(ROOT / "endpoints.yml"),
                "--credentials",
                str(ROOT / "credentials.yml"),
                "--interface",
                "127.0.0.1",
                "--port",
                str(rasa_port),
                "--enable-api",
            ],
            workdir / "rasa.log",
            ready_url=f"{rasa_url}/status",
        ),
        Process(
            "twilio-standin",
            [
                python,
                "-m",
                "lpse_assist.twilio_local",
                "serve",
                "--port",
                str(standin_port),
                "--webhook-url",
                f"{rasa_url}/webhooks/twilio/webhook",
            ],
            workdir / "standin.log",
            ready_url=f"{standin_url}/_local/health",
        ),
    ]
    try:
        for process in processes:
            process.start(env, ROOT)
        _wait_ready(processes)
        yield TwilioBot(rasa_url, standin_url, env, processes, workdir / "contacts.yml")
    finally:
        for process in processes:
            process.stop()
        shutil.rmtree(workdir, ignore_errors=True)
