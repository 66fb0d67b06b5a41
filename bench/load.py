"""Load benchmark: simulated phones talk to ``/webhooks/twilio/webhook`` as Twilio would.

Each request is a form Twilio would post for an SMS or WhatsApp message, signed with
``TWILIO_AUTH_TOKEN`` (``lpse_assist.twilio_local.client``: the fields, the signature by
twilio's own ``RequestValidator``, the TwiML reply, as the local stand-in and the tests send
them). Scenarios, each
on a fresh topology (``tests/deploy/topology.py``: real processes on loopback, the trained
model ``models/lpse-assist.tar.gz``):

* ``lpse-1``: our channel, one Rasa process, production stores (PostgreSQL + Redis lock);
* ``lpse-2``: the same with two replicas behind nginx (``docker/nginx.conf``, upstreams on
  loopback);
* ``embedded-1``: our channel, one process, the embedded default (SQLite, in-memory lock);
* ``builtin-1``: Rasa's built-in ``twilio`` channel (``twilio:`` in a credentials file), one
  process, production stores; its replies go through Twilio's REST API, here the local
  stand-in (``bench/builtin_twilio_rasa.py``);
* ``builtin-fixed-1``: the same with ``lpse_assist.rasa_speedups`` installed in the process
  (what our channels install): how much of the difference is the channel, how much those fixes.

Phases of each scenario: a warm-up; *steady*, messages at a fixed rate (default 20/s) spread
over N phones (default 100); *burst*, N phones at once, each sending its next message as soon
as the previous one is answered; *retries*, messages sent again with the same MessageSid, as
Twilio does after a timeout. Lost and duplicated replies are counted from the HTTP replies
and from the conversation store. Everything is bounded in count and time, and only
127.0.0.1 is contacted.

``make bench`` runs it and writes ``results/bench/report.md`` (the figures recorded in
``docs/benchmarks.md``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

import bench.cpu
import bench.machine
from bench.stats import percentile
from lpse_assist.twilio_local.client import bot_number, inbound_form, post_signed
from tests.deploy.topology import (
    DEV_TWILIO_ENV,
    ROOT,
    Process,
    Topology,
    find_program,
    free_port,
    nginx_command,
    tail,
)

WEBHOOK_PATH = "/webhooks/twilio/webhook"
ACCOUNT_SID = DEV_TWILIO_ENV["TWILIO_ACCOUNT_SID"]
AUTH_TOKEN = DEV_TWILIO_ENV["TWILIO_AUTH_TOKEN"]
SMS_NUMBER = DEV_TWILIO_ENV["TWILIO_SMS_NUMBER"]
WHATSAPP_NUMBER = DEV_TWILIO_ENV["TWILIO_WHATSAPP_NUMBER"]
# What providers write, in the order one phone writes it (then again from the start). NLU,
# rules, numbered options, the action server (escalation after "belum") are all exercised.
SCRIPT = (
    "halo",
    "gak bisa login",
    "2",
    "belum",
    "terima kasih",
    "lupa password",
    "sudah",
    "integrasi sikap gagal terus",
    "blm bisa",
    "menu",
)
SCENARIOS = ("lpse-1", "lpse-2", "embedded-1", "builtin-1", "builtin-fixed-1")
MAX_REQUESTS_PER_PHASE = 5000


# --------------------------------------------------------------------------- requests


@dataclass
class Sample:
    """One webhook call as the simulated Twilio saw it."""

    phase: str
    phone: str
    message_sid: str
    started: float
    latency: float
    status: int
    messages: int  # <Message> elements (our channel); 0 for Rasa's channel (REST replies)
    error: str = ""
    retry: bool = False
    body: str = ""


def phone_number(index: int) -> str:
    """Phone ``index``: even ones on WhatsApp, odd ones on SMS (Indonesian mobile numbers)."""
    number = f"+62812{index:07d}"
    return f"whatsapp:{number}" if index % 2 == 0 else number


def twilio_form(phone: str, body: str) -> dict[str, str]:
    """The fields Twilio posts for an inbound text message from ``phone``."""
    return inbound_form(
        account_sid=ACCOUNT_SID,
        from_=phone,
        to=bot_number(phone, SMS_NUMBER, WHATSAPP_NUMBER),
        body=body,
        profile_name="Penyedia",
    )


class Client:
    """Simulated Twilio: signed webhook calls, one conversation script per phone."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url
        self.position: dict[str, int] = {}
        self.sent: list[tuple[str, str]] = []  # (phone, MessageSid) of first-time messages
        # Twilio sends a retry with the idempotency token of the first try.
        self.tokens: dict[str, str] = {}

    def next_form(self, phone: str) -> dict[str, str]:
        # Phones start at different points of the script, so that each moment sees a mix
        # of messages (not 100 escalations at once).
        index = self.position.get(phone, sum(map(ord, phone)) % len(SCRIPT))
        self.position[phone] = index + 1
        form = twilio_form(phone, SCRIPT[index % len(SCRIPT)])
        self.sent.append((phone, form["MessageSid"]))
        return form

    async def post(self, phase: str, form: dict[str, str], retry: bool = False) -> Sample:
        started = time.monotonic()
        status, messages, error = 0, 0, ""
        token = self.tokens.setdefault(form["MessageSid"], secrets.token_hex(16))
        try:
            reply = await post_signed(
                self.session,
                self.url,
                form,
                AUTH_TOKEN,
                headers={"I-Twilio-Idempotency-Token": token},
            )
            status, messages = reply.status, len(reply.messages)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            error = type(exc).__name__
        return Sample(
            phase,
            form["From"],
            form["MessageSid"],
            started,
            time.monotonic() - started,
            status,
            messages,
            error,
            retry,
            form.get("Body", ""),
        )


# --------------------------------------------------------------------------- phases


async def steady(client: Client, phones: int, rate: float, duration: float) -> list[Sample]:
    """Messages at ``rate`` per second for ``duration`` seconds, phones taking turns.

    A phone never has two messages in flight (a person waits for the answer): its next
    message waits for the previous reply, which then shows up as extra latency.
    """
    total = min(int(rate * duration), MAX_REQUESTS_PER_PHASE)
    numbers = [phone_number(i) for i in range(phones)]
    busy: dict[str, asyncio.Lock] = {n: asyncio.Lock() for n in numbers}
    t0 = time.monotonic()

    async def one(i: int) -> Sample:
        await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
        phone = numbers[i % phones]
        async with busy[phone]:
            return await client.post("steady", client.next_form(phone))

    return list(
        await asyncio.wait_for(
            asyncio.gather(*(one(i) for i in range(total))), timeout=duration + 120
        )
    )


async def burst(client: Client, phones: int, per_phone: int) -> list[Sample]:
    """All phones at once, each sending its next message as soon as it has the answer."""
    per_phone = max(1, min(per_phone, MAX_REQUESTS_PER_PHASE // max(1, phones)))

    async def phone_loop(i: int) -> list[Sample]:
        phone = phone_number(phones + i)  # fresh conversations
        return [await client.post("burst", client.next_form(phone)) for _ in range(per_phone)]

    results = await asyncio.wait_for(
        asyncio.gather(*(phone_loop(i) for i in range(phones))), timeout=600
    )
    return [sample for samples in results for sample in samples]


async def retries(client: Client, count: int) -> list[Sample]:
    """Messages Twilio sends again with the same MessageSid (it did not get our answer)."""
    samples: list[Sample] = []
    for i in range(count):
        phone = phone_number(10_000 + i)
        form = client.next_form(phone)
        samples.append(await client.post("retry-first", form))
        samples.append(await client.post("retry-again", form, retry=True))
    return samples


# --------------------------------------------------------------------------- results


@dataclass
class PhaseResult:
    """Throughput, latency and losses of one phase."""

    phase: str
    requests: int
    answered: int
    lost: int
    duplicated: int
    seconds: float
    throughput: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int] = field(default_factory=dict)
    # p95 latency (ms) per message of the script: which kind of turn is slow.
    p95_by_message: dict[str, float] = field(default_factory=dict)
    # CPU per message of each process (``Probe``); steady phase only.
    cpu: dict[str, Any] = field(default_factory=dict)


def answered(sample: Sample, builtin: bool) -> bool:
    """An answer the user sees: TwiML messages (ours) or 204 + REST messages (Rasa's)."""
    if builtin:
        return sample.status == 204
    return sample.status == 200 and sample.messages > 0


def summarize(phase: str, samples: Sequence[Sample], builtin: bool) -> PhaseResult:
    """Figures of one phase. A retry must get no message (it was answered already)."""
    first = [s for s in samples if not s.retry]
    again = [s for s in samples if s.retry]
    ok = [s for s in first if answered(s, builtin)]
    duplicated = sum(1 for s in again if s.messages > 0 or (builtin and s.status == 204))
    errors: dict[str, int] = {}
    for sample in first:
        if not answered(sample, builtin):
            key = sample.error or f"HTTP {sample.status}"
            errors[key] = errors.get(key, 0) + 1
    if first:
        start = min(s.started for s in first)
        end = max(s.started + s.latency for s in first)
        seconds = max(end - start, 1e-9)
    else:
        seconds = 0.0
    latencies = [s.latency * 1000 for s in ok]
    by_message: dict[str, list[float]] = {}
    for sample in ok:
        by_message.setdefault(sample.body, []).append(sample.latency * 1000)
    return PhaseResult(
        phase=phase,
        requests=len(first),
        answered=len(ok),
        lost=len(first) - len(ok),
        duplicated=duplicated,
        seconds=round(seconds, 2),
        throughput=round(len(ok) / seconds, 2) if seconds else 0.0,
        p50_ms=round(percentile(latencies, 0.50), 1),
        p95_ms=round(percentile(latencies, 0.95), 1),
        p99_ms=round(percentile(latencies, 0.99), 1),
        max_ms=round(max(latencies), 1) if latencies else 0.0,
        errors=errors,
        p95_by_message={k: round(percentile(v, 0.95), 1) for k, v in sorted(by_message.items())},
    )


# --------------------------------------------------------------------------- store checks


def stored_user_messages(topology: Topology, builtin: bool) -> dict[str, Any]:
    """User events per MessageSid (ours) or per phone (Rasa's: no MessageSid stored)."""
    query = "SELECT sender_id, data FROM events WHERE type_name = 'user'"
    rows: list[tuple[str, str]]
    if topology.with_stores:
        import psycopg2

        connection = psycopg2.connect(topology.database_url(), connect_timeout=10)
        try:
            with connection.cursor() as cursor:
                cursor.execute(query)
                rows = list(cursor.fetchall())
        finally:
            connection.close()
    else:
        with sqlite3.connect(topology.workdir / "tracker.db") as connection:
            rows = list(connection.execute(query).fetchall())
    per_key: dict[str, int] = {}
    for sender, data in rows:
        key = sender if builtin else str(json.loads(data).get("message_id"))
        per_key[key] = per_key.get(key, 0) + 1
    return per_key


def store_check(client: Client, per_key: dict[str, int], builtin: bool) -> dict[str, int]:
    """Messages missing from the store, and messages stored more than once."""
    if builtin:
        expected: dict[str, int] = {}
        for phone, _ in client.sent:
            expected[phone] = expected.get(phone, 0) + 1
        missing = sum(max(0, n - per_key.get(p, 0)) for p, n in expected.items())
        extra = sum(max(0, per_key.get(p, 0) - n) for p, n in expected.items())
        return {"missing_in_store": missing, "stored_twice": extra}
    sids = {sid for _, sid in client.sent}
    return {
        "missing_in_store": sum(1 for sid in sids if per_key.get(sid, 0) == 0),
        "stored_twice": sum(1 for sid in sids if per_key.get(sid, 0) > 1),
    }


# --------------------------------------------------------------------------- processes


def nginx_process(workdir: Path, listen_port: int, upstream_ports: Sequence[int]) -> Process:
    """docker/nginx.conf with the replicas on loopback, as a foreground process."""
    nginx = find_program("nginx")
    if nginx is None:
        raise SystemExit("nginx not found: apt-get install nginx (or run without lpse-2)")
    conf = (ROOT / "docker" / "nginx.conf").read_text(encoding="utf-8")
    servers = "\n".join(
        f"        server 127.0.0.1:{port} max_fails=3 fail_timeout=10s;" for port in upstream_ports
    )
    lines = [line for line in conf.splitlines() if "server rasa-" not in line]
    conf = "\n".join(lines).replace("upstream rasa {", "upstream rasa {\n" + servers, 1)
    conf = conf.replace("listen 80;", f"listen 127.0.0.1:{listen_port};")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "nginx.conf").write_text(conf, encoding="utf-8")
    return Process(
        "nginx",
        nginx_command(nginx, workdir, "daemon off;"),
        workdir / "nginx.log",
        ready_url=f"http://127.0.0.1:{listen_port}/healthz",
    )


def standin_process(workdir: Path, port: int) -> Process:
    """The local Twilio stand-in (receives the built-in channel's REST sends)."""
    return Process(
        "twilio-standin",
        [sys.executable, "-m", "lpse_assist.twilio_local", "serve", "--port", str(port)],
        workdir / "standin.log",
        ready_url=f"http://127.0.0.1:{port}/_local/health",
    )


def builtin_credentials(path: Path) -> Path:
    """A credentials file with Rasa's own ``twilio:`` channel instead of ours."""
    path.write_text(
        "# Benchmark only: Rasa's built-in Twilio channel.\n"
        "rest:\n"
        "twilio:\n"
        f"  account_sid: {ACCOUNT_SID}\n"
        f"  auth_token: {AUTH_TOKEN}\n"
        f'  twilio_number: "{SMS_NUMBER}"\n',
        encoding="utf-8",
    )
    return path


@dataclass
class Scenario:
    """What runs: which channel, how many replicas, which stores."""

    name: str
    replicas: int
    builtin: bool
    with_stores: bool
    description: str


def scenario(name: str) -> Scenario:
    return {
        "lpse-1": Scenario(
            name, 1, False, True, "our Twilio channel, 1 Rasa process, PostgreSQL + Redis"
        ),
        "lpse-2": Scenario(
            name, 2, False, True, "our Twilio channel, 2 replicas behind nginx, PostgreSQL + Redis"
        ),
        "embedded-1": Scenario(
            name, 1, False, False, "our Twilio channel, 1 process, SQLite + in-memory lock"
        ),
        "builtin-1": Scenario(
            name, 1, True, True, "Rasa's built-in twilio channel, 1 process, PostgreSQL + Redis"
        ),
        "builtin-fixed-1": Scenario(
            name,
            1,
            True,
            True,
            "Rasa's built-in twilio channel with lpse_assist.rasa_speedups installed, 1 process, "
            "PostgreSQL + Redis",
        ),
    }[name]


# --------------------------------------------------------------------------- a scenario


class Probe:
    """What the steady phase cost each process: CPU seconds from ``/proc`` (always) and, with
    ``--profile``, py-spy's samples of the Rasa process and the action server."""

    def __init__(self, groups: dict[str, int], profile_dir: Path | None = None) -> None:
        self.groups = groups  # name -> pid of the process (its children count with it)
        self.profile_dir = profile_dir
        self._before: dict[int, bench.cpu.ProcessTime] = {}
        self._machine = 0.0
        self._wall = 0.0
        self._profilers: list[Any] = []

    def start(self) -> None:
        if self.profile_dir is not None:
            from bench.long_conversation import start_profile

            self.profile_dir.mkdir(parents=True, exist_ok=True)
            for name in ("rasa", "actions"):
                if name in self.groups:
                    raw = self.profile_dir / f"{name}.raw"
                    self._profilers.append(start_profile(self.groups[name], raw))
        self._before = bench.cpu.snapshot()
        self._machine = bench.cpu.machine_seconds()
        self._wall = time.monotonic()

    def stop(self, messages: int) -> dict[str, Any]:
        """CPU milliseconds per answered message, per group, and the machine's busy share."""
        after = bench.cpu.snapshot()
        wall = time.monotonic() - self._wall
        busy = bench.cpu.machine_seconds() - self._machine
        if self.profile_dir is not None:
            from bench.long_conversation import stop_profile

            for profiler in self._profilers:
                stop_profile(profiler)
        members: dict[int, str] = {}
        for name, pid in self.groups.items():
            for member in bench.cpu.descendants(pid, after):
                members.setdefault(member, name)
        me = os.getpid()

        def classify(pid: int, info: bench.cpu.ProcessTime) -> str | None:
            if pid in members:
                return members[pid]
            if pid == me:
                return "load generator"
            if info.comm == "postgres":
                return "postgresql"
            if info.comm.startswith("redis"):
                return "redis"
            if info.comm == "py-spy":
                return "profiler"
            return None

        seconds = bench.cpu.spent(self._before, after, classify)
        per = max(1, messages)
        ordered = sorted(seconds.items(), key=lambda kv: -kv[1])
        return {
            "messages": messages,
            "wall_s": round(wall, 1),
            "machine_busy_share": round(busy / max(wall, 1e-9) / (os.cpu_count() or 1), 2),
            "cpu_ms_per_message": {k: round(1000 * v / per, 1) for k, v in ordered},
        }


async def drive(
    url: str, args: argparse.Namespace, builtin: bool, probe: Probe | None = None
) -> tuple[Client, list[Any]]:
    """Warm-up, then the measured phases; returns the client and the phase results (the
    probe, when given, measures the steady phase)."""
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        client = Client(session, url)
        # The first turns of a process are slow (TensorFlow builds its graphs).
        warm = [phone_number(20_000 + i) for i in range(min(10, args.phones))]
        for _ in range(2):
            await asyncio.gather(*(client.post("warmup", client.next_form(p)) for p in warm))
        if probe is not None:
            probe.start()
        steady_phase = summarize(
            "steady", await steady(client, args.phones, args.rate, args.duration), builtin
        )
        if probe is not None:
            steady_phase.cpu = probe.stop(steady_phase.answered)
        results = [
            steady_phase,
            summarize("burst", await burst(client, args.phones, args.per_phone), builtin),
        ]
        retried = await retries(client, args.retries)
        results.append(summarize("retries", retried, builtin))
        return client, results


def run_scenario(spec: Scenario, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Start the topology of a scenario, load it, check the store, stop it."""
    workdir.mkdir(parents=True, exist_ok=True)
    extra_env: dict[str, str] = {}
    if args.sender_limit is not None:  # the per-sender limit's cost: run with N and with 0
        extra_env["SENDER_LIMIT_PER_MINUTE"] = str(args.sender_limit)
    credentials = ROOT / "credentials.yml"
    rasa_command: list[str] | None = None
    helpers: list[Process] = []
    if spec.builtin:
        standin_port = free_port()
        helpers.append(standin_process(workdir, standin_port))
        extra_env["BENCH_TWILIO_API_BASE_URL"] = f"http://127.0.0.1:{standin_port}"
        credentials = builtin_credentials(workdir / "credentials.builtin.yml")
        if spec.name == "builtin-fixed-1":
            extra_env["BENCH_RASA_SPEEDUPS"] = "1"
        rasa_command = [sys.executable, str(ROOT / "bench" / "builtin_twilio_rasa.py")]
    topology = Topology(
        workdir / "topology",
        replicas=spec.replicas,
        endpoints=ROOT / ("endpoints.production.yml" if spec.with_stores else "endpoints.yml"),
        credentials=credentials,
        extra_env=extra_env,
        rasa_command=rasa_command,
        with_stores=spec.with_stores,
        enable_api=False,
        durable_postgres=True,  # every commit on disk, like SQLite and like production
    )
    url = f"{topology.replica_url(0)}{WEBHOOK_PATH}"
    if spec.replicas > 1:
        listen = free_port()
        helpers.append(nginx_process(workdir / "nginx", listen, topology.replica_ports))
        url = f"http://127.0.0.1:{listen}{WEBHOOK_PATH}"
    started = time.monotonic()
    try:
        env = topology.env()
        for helper in helpers:
            helper.start(env, ROOT)
        topology.start()
        topology.wait_ready(helpers)
        print(f"[{spec.name}] up in {time.monotonic() - started:.0f} s; loading {url}", flush=True)
        load_average = bench.machine.load_average()
        groups = {"rasa": topology.rasa[0].popen.pid} if topology.rasa[0].popen else {}
        if topology.actions.popen:
            groups["actions"] = topology.actions.popen.pid
        for helper in helpers:
            if helper.popen:
                groups[helper.name] = helper.popen.pid
        profile_dir = args.profile / spec.name if args.profile else None
        probe = Probe(groups, profile_dir)
        client, phases = asyncio.run(drive(url, args, spec.builtin, probe))
        per_key = stored_user_messages(topology, spec.builtin)
        store = store_check(client, per_key, spec.builtin)
        rest_replies = None
        if spec.builtin:
            rest_replies = rest_reply_count(helpers[0])
        profiles: dict[str, list[str]] = {}
        if profile_dir is not None:
            from bench.long_conversation import top_entries

            for name in ("rasa", "actions"):
                profiles[name] = top_entries(profile_dir / f"{name}.raw", within=None)
        return {
            "scenario": spec.name,
            "description": spec.description,
            "load_average_before": round(load_average, 2),
            "phases": [asdict(p) for p in phases],
            "store": store,
            "rest_replies": rest_replies,
            "profiles": profiles,
        }
    except Exception:
        for process in [*topology.rasa, topology.actions, *helpers]:
            print(f"--- {process.name}\n{tail(process.log)}", file=sys.stderr)
        raise
    finally:
        topology.stop()
        for helper in helpers:
            helper.stop()


def rest_reply_count(standin: Process) -> int:
    """Messages the built-in channel sent through the (local) REST API."""
    assert standin.ready_url is not None
    url = standin.ready_url.replace("/_local/health", "/_local/messages")

    async def fetch() -> int:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            data = await response.json()
            return len(data.get("messages") or [])

    return asyncio.run(fetch())


# --------------------------------------------------------------------------- report


def machine_facts() -> dict[str, Any]:
    """What the figures were measured on, with the servers' versions."""
    nginx, redis = find_program("nginx"), find_program("redis-server")
    return bench.machine.machine_facts(
        {
            "postgresql": ["psql", "--version"],
            "redis": [redis, "--version"] if redis else None,
            "nginx": [nginx, "-v"] if nginx else None,
        }
    )


def markdown(facts: dict[str, Any], args: argparse.Namespace, results: list[dict[str, Any]]) -> str:
    """The report as a Markdown document."""
    lines = [
        "# LPSE Assist load benchmark",
        "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in facts.items()),
        "",
        f"Load: {args.phones} phones (half WhatsApp, half SMS) writing the script "
        f"{' / '.join(SCRIPT)}; steady {args.rate:g} msg/s for {args.duration:g} s; burst: "
        f"{args.phones} phones at once, {args.per_phone} messages each, next one as soon as "
        f"the previous is answered; {args.retries} Twilio retries (same MessageSid). Load "
        "generator, servers, PostgreSQL and Redis share the same machine.",
        "",
        "| scenario | phase | requests | answered | lost | dup | msg/s | p50 ms | p95 ms | "
        "p99 ms | max ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        for phase in result["phases"]:
            lines.append(
                f"| {result['scenario']} | {phase['phase']} | {phase['requests']} | "
                f"{phase['answered']} | {phase['lost']} | {phase['duplicated']} | "
                f"{phase['throughput']} | {phase['p50_ms']} | {phase['p95_ms']} | "
                f"{phase['p99_ms']} | {phase['max_ms']} |"
            )
    lines += ["", "Scenarios:"]
    for result in results:
        extra = ""
        if result.get("rest_replies") is not None:
            extra = f"; REST messages sent by the channel: {result['rest_replies']}"
        errors = {p["phase"]: p["errors"] for p in result["phases"] if p["errors"]}
        steady_phase = next((p for p in result["phases"] if p["phase"] == "steady"), None)
        if steady_phase and steady_phase["p95_by_message"]:
            slowest = sorted(steady_phase["p95_by_message"].items(), key=lambda kv: -kv[1])[:2]
            extra += "; steady p95 of the slowest turns: " + ", ".join(
                f"{text!r} {ms:g} ms" for text, ms in slowest
            )
        if steady_phase and steady_phase.get("cpu"):
            cpu = steady_phase["cpu"]
            extra += (
                "; steady CPU ms per answered message: "
                + ", ".join(f"{k} {v:g}" for k, v in cpu["cpu_ms_per_message"].items())
                + f" (machine busy {100 * cpu['machine_busy_share']:.0f}% of its cores)"
            )
        lines.append(
            f"- `{result['scenario']}`: {result['description']}. Store check: "
            f"{result['store']['missing_in_store']} message(s) missing, "
            f"{result['store']['stored_twice']} stored twice{extra}. Load average before: "
            f"{result['load_average_before']}." + (f" Errors: {errors}." if errors else "")
        )
    for result in results:
        for name, rows in (result.get("profiles") or {}).items():
            if rows:
                lines += [
                    "",
                    f"Profile of `{result['scenario']}`, {name} process, steady phase (py-spy, "
                    "share of the samples where it was busy, worker threads included):",
                    "",
                    *rows,
                ]
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated, of {', '.join(SCENARIOS)}",
    )
    parser.add_argument("--phones", type=int, default=100)
    parser.add_argument("--rate", type=float, default=20.0, help="steady messages per second")
    parser.add_argument("--duration", type=float, default=30.0, help="steady phase seconds")
    parser.add_argument("--per-phone", type=int, default=5, help="burst messages per phone")
    parser.add_argument("--retries", type=int, default=20, help="Twilio retries to send")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "bench")
    parser.add_argument(
        "--sender-limit",
        type=int,
        default=None,
        help="SENDER_LIMIT_PER_MINUTE of the bot (default: its setting, 20; 0: off)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="directory: py-spy samples the Rasa process and the action server in the steady "
        "phase (<dir>/<scenario>/rasa.raw, actions.raw)",
    )
    args = parser.parse_args(argv)
    args.phones = max(1, min(args.phones, 1000))
    args.rate = max(0.1, min(args.rate, 200.0))
    args.duration = max(1.0, min(args.duration, 300.0))
    args.retries = max(0, min(args.retries, 200))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the scenarios one after the other; print and write the report."""
    args = parse_args(argv)
    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s): {unknown}", file=sys.stderr)
        return 2
    facts = machine_facts()
    results: list[dict[str, Any]] = []
    args.out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="lpse-bench-"))
    try:
        for name in names:
            results.append(run_scenario(scenario(name), args, workdir / name))
            write_report(args, facts, results)  # a later failure keeps what was measured
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(markdown(facts, args, results))
    return 0


def write_report(
    args: argparse.Namespace, facts: dict[str, Any], results: list[dict[str, Any]]
) -> None:
    """``report.md`` and ``report.json`` in the output directory."""
    (args.out / "report.md").write_text(markdown(facts, args, results), encoding="utf-8")
    (args.out / "report.json").write_text(
        json.dumps(
            {
                "machine": facts,
                "args": {k: str(v) for k, v in vars(args).items()},
                "results": results,
            },
            indent=2,
        ),
        encoding="utf-8",
    )


if __name__ == "__main__":
    sys.exit(main())
