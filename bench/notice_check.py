"""What the outage-notice check costs a turn: ``action_check_outage_notice`` on a real action
server, called over HTTP the way Rasa calls it (whole tracker and domain in the request).

    .venv/bin/python bench/notice_check.py [--calls 300]

Rasa runs the check after greetings, outage reports and login problems only (a custom slot
mapping), so those turns pay one more action-server call; other turns pay nothing. Starts
``rasa run actions`` on a free loopback port with a temporary SQLite tracker database, then
times the call without a notice and with one (published through ``NoticeStore``). A
benchmark, not a test: the figures depend on the machine and its load (both printed).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.machine import cpu_model
from lpse_assist.notice import NoticeStore

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def request_body(domain: dict[str, Any], turns: int = 10) -> bytes:
    """A Rasa action call for a conversation of ``turns`` user/bot exchanges."""
    events: list[dict[str, Any]] = [{"event": "action", "name": "action_session_start"}]
    for i in range(turns):
        parse = {"text": "gak bisa login", "intent": {"name": "login_problem", "confidence": 1}}
        events += [
            {"event": "user", "text": "gak bisa login", "parse_data": parse, "timestamp": i},
            {"event": "action", "name": "utter_ask_login_message"},
            {"event": "bot", "text": "Pesan apa yang muncul?", "metadata": {}},
            {"event": "action", "name": "action_listen"},
        ]
    tracker = {
        "sender_id": "whatsapp:+6281200000000",
        "slots": {},
        "latest_message": events[-4]["parse_data"],
        "events": events,
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": "action_listen",
    }
    body = {
        "next_action": "action_check_outage_notice",
        "sender_id": tracker["sender_id"],
        "tracker": tracker,
        "domain": domain,
        "version": "3.6.21",
    }
    return json.dumps(body).encode()


def timed_calls(url: str, body: bytes, calls: int) -> list[float]:
    """Milliseconds per call, after 20 warm-up calls."""
    times = []
    for i in range(calls + 20):
        request = urllib.request.Request(url, data=body, method="POST")
        request.add_header("Content-Type", "application/json")
        start = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
            response.read()
        if i >= 20:
            times.append((time.perf_counter() - start) * 1000)
    return times


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    return f"p50 {statistics.median(ordered):.1f} ms, p95 {p95:.1f} ms ({len(ordered)} calls)"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()

    from rasa.shared.core.domain import Domain

    domain = Domain.load(str(ROOT / "domain.yml")).as_dict()
    workdir = Path(tempfile.mkdtemp(prefix="lpse-bench-notice-"))
    db = workdir / "tracker.db"
    port = free_port()
    env = {**os.environ, "TRACKER_DB": str(db)}
    env.pop("POSTGRES_HOST", None)
    log = (workdir / "actions.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "rasa", "run", "actions", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}/webhook"
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).close()  # noqa: S310
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    print((workdir / "actions.log").read_text(), file=sys.stderr)
                    return 1
                time.sleep(0.5)
        body = request_body(domain)
        print(f"machine: {cpu_model()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
        print(f"request: {len(body) / 1024:.0f} KiB (tracker of 10 turns + domain)")
        print(f"no notice:   {summary(timed_calls(url, body, args.calls))}")
        store = NoticeStore(f"sqlite:///{db}")
        store.publish("SPSE sedang pemeliharaan sampai 22.00 WIB")
        store.dispose()
        print(f"with notice: {summary(timed_calls(url, body, args.calls))}")
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
