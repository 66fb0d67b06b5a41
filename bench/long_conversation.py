"""Long-conversation benchmark: does the cost of a message grow with the conversation?

One WhatsApp number sends 300 messages through the signed Twilio webhook, one at a time (each
waits for its answer), the load benchmark's ten-message script repeated. Then the same script
goes through the REST channel from a new sender, then a new WhatsApp sender sends 50 more.
The topology is the embedded default of ``make run`` (SQLite tracker store, in-memory lock,
one Rasa process, the action server; ``tests/deploy/topology.py``), with the per-sender limit
switched off (``SENDER_LIMIT_PER_MINUTE=0``: every message must get its full answer).

Printed and written to ``results/bench/long_conversation.md`` / ``.json``:

* median answer time of messages 1-50, 101-150 and 251-300 per channel, and their ratios
  (goal: 251-300 within 1.25x of 1-50; Twilio within 1.2x of REST on the same messages);
* tracker loads and saves per message in each channel (Rasa runs through
  ``bench/counting_rasa.py``, which counts the SQL tracker store's calls);
* resident memory of the Rasa process and the action server every 50 messages;
* a digest of every reply and the final dialogue state (slots, latest action, pending
  options), so that two runs (before and after a change) can be compared reply by reply
  (``--compare other.json``).

``--profile`` then sends 30 more messages of the long Twilio conversation while py-spy samples
the Rasa process, and puts the top entries of that flame graph in the report (the collapsed
stacks, ``profile.raw``, open in speedscope or flamegraph.pl).

``python -m bench.long_conversation`` (``make bench`` runs it after the load scenarios).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.counting_rasa import read_counts
from bench.load import AUTH_TOKEN, SCRIPT, WEBHOOK_PATH, machine_facts, twilio_form
from bench.stats import median
from lpse_assist.twilio_local.client import post_signed
from tests.deploy.topology import ROOT, Topology, tail

REST_PATH = "/webhooks/rest/webhook"
RANGES = ((1, 50), (101, 150), (251, 300))
MESSAGES = 300
NEW_SENDER_MESSAGES = 50
MEMORY_EVERY = 50
# Messages of the long Twilio conversation sampled by py-spy (--profile), after the timed ones.
PROFILE_MESSAGES = 30
TIMEOUT = 60.0
TICKET_REFERENCE = re.compile(r"LPSE-\d{8}-\d{4,}")


@dataclass
class Turn:
    """One message of the conversation and what it cost."""

    index: int  # 1-based position in the conversation
    text: str
    ms: float
    status: int
    replies: list[str]
    loads: int
    full_loads: int
    saves: int


@dataclass
class Run:
    """All messages of one sender in one channel."""

    channel: str
    sender: str
    turns: list[Turn] = field(default_factory=list)
    memory: list[dict[str, Any]] = field(default_factory=list)
    final_state: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- processes


def rss_kib(pid: int) -> int:
    """Resident size of a process and its children (KiB), from /proc."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for one in pids:
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def memory(topology: Topology) -> dict[str, float]:
    """Resident MiB of the Rasa process and of the action server, now."""
    rasa = topology.rasa[0].popen
    actions = topology.actions.popen
    return {
        "rasa_mib": round(rss_kib(rasa.pid) / 1024, 1) if rasa else 0.0,
        "actions_mib": round(rss_kib(actions.pid) / 1024, 1) if actions else 0.0,
    }


# --------------------------------------------------------------------------- talking


class Talker:
    """Sends one message at a time through either channel and records what it cost."""

    def __init__(
        self, session: aiohttp.ClientSession, base_url: str, topology: Topology, counts: Path
    ) -> None:
        self.session = session
        self.base_url = base_url
        self.topology = topology
        self.counts = counts

    async def twilio(self, phone: str, text: str) -> tuple[int, list[str]]:
        url = f"{self.base_url}{WEBHOOK_PATH}"
        reply = await post_signed(self.session, url, twilio_form(phone, text), AUTH_TOKEN)
        return reply.status, [m.body for m in reply.messages]

    async def rest(self, sender: str, text: str) -> tuple[int, list[str]]:
        async with self.session.post(
            f"{self.base_url}{REST_PATH}",
            json={"sender": sender, "message": text},
            timeout=aiohttp.ClientTimeout(total=TIMEOUT),
        ) as response:
            data = await response.json(content_type=None) if response.status == 200 else []
            replies = [
                "\n".join(
                    [str(r.get("text") or "")]
                    + [str(b.get("title")) for b in r.get("buttons") or []]
                )
                for r in data or []
            ]
            return response.status, replies

    async def final_state(self, sender: str) -> dict[str, Any]:
        """Slots, latest action and pending options of a conversation (HTTP API)."""
        url = f"{self.base_url}/conversations/{sender}/tracker"
        async with self.session.get(
            url, params={"token": self.topology.api_token, "include_events": "AFTER_RESTART"}
        ) as response:
            tracker = await response.json()
        events = tracker.get("events") or []
        options: list[str] = []
        for event in reversed(events):
            if event.get("event") == "user":
                break
            if event.get("event") == "bot":
                buttons = (event.get("data") or {}).get("buttons") or []
                if buttons:
                    options = [str(b.get("payload")) for b in buttons]
                    break
        return {
            "slots": {k: v for k, v in (tracker.get("slots") or {}).items() if v is not None},
            "latest_action": (tracker.get("latest_action") or {}).get("action_name"),
            "latest_intent": ((tracker.get("latest_message") or {}).get("intent") or {}).get(
                "name"
            ),
            "active_loop": (tracker.get("active_loop") or {}).get("name"),
            "pending_options": options,
            # Every message must be in the store, whatever the sessions.
            "user_messages_stored": sum(1 for e in events if e.get("event") == "user"),
        }


# --------------------------------------------------------------------------- figures


def median_ms(turns: Sequence[Turn], first: int, last: int) -> float:
    values = [t.ms for t in turns if first <= t.index <= last]
    return round(median(values), 1) if values else 0.0


def per_message(turns: Sequence[Turn], what: str) -> str:
    """How often each count occurs, e.g. ``3 (300)`` or ``1 (290), 2 (10)``."""
    counts = Counter(getattr(t, what) for t in turns)
    return ", ".join(f"{k} ({n})" for k, n in sorted(counts.items()))


def comparable(replies: Sequence[str]) -> list[str]:
    """Replies without ticket numbers (each escalation has its own; the rest must match)."""
    return [TICKET_REFERENCE.sub("LPSE-<ticket>", reply) for reply in replies]


def reply_digest(turns: Sequence[Turn]) -> str:
    """One hash over every message and its replies (ticket numbers left out), in order."""
    digest = hashlib.sha256()
    for turn in turns:
        digest.update(json.dumps([turn.text, comparable(turn.replies)]).encode())
    return digest.hexdigest()[:16]


def summary(runs: dict[str, Run]) -> dict[str, Any]:
    """The figures the goals are about."""
    twilio, rest, fresh = runs["twilio"], runs["rest"], runs["twilio_new_sender"]
    result: dict[str, Any] = {"ranges": []}
    for first, last in RANGES:
        t = median_ms(twilio.turns, first, last)
        r = median_ms(rest.turns, first, last)
        result["ranges"].append(
            {
                "messages": f"{first}-{last}",
                "twilio_ms": t,
                "rest_ms": r,
                "twilio_over_rest": round(t / r, 2) if r else None,
            }
        )
    first_t = result["ranges"][0]["twilio_ms"]
    first_r = result["ranges"][0]["rest_ms"]
    result["growth_twilio"] = round(result["ranges"][-1]["twilio_ms"] / first_t, 2)
    result["growth_rest"] = round(result["ranges"][-1]["rest_ms"] / first_r, 2)
    result["new_sender_ms"] = median_ms(fresh.turns, 1, NEW_SENDER_MESSAGES)
    all_t = median([t.ms for t in twilio.turns])
    all_r = median([t.ms for t in rest.turns])
    result["twilio_over_rest_all"] = round(all_t / all_r, 2)
    result["per_message"] = {
        name: {
            "loads": per_message(run.turns, "loads"),
            "full_loads": per_message(run.turns, "full_loads"),
            "saves": per_message(run.turns, "saves"),
        }
        for name, run in runs.items()
    }
    result["memory"] = twilio.memory
    result["digests"] = {name: reply_digest(run.turns) for name, run in runs.items()}
    result["final_state"] = {name: run.final_state for name, run in runs.items()}
    result["errors"] = {
        name: sum(1 for t in run.turns if t.status != 200 or not t.replies)
        for name, run in runs.items()
    }
    return result


def markdown(facts: dict[str, Any], figures: dict[str, Any], profile: list[str]) -> str:
    """The report."""
    lines = [
        "# Long conversation",
        "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in facts.items()),
        "",
        f"One sender, {MESSAGES} messages one at a time (script: {' / '.join(SCRIPT)}, "
        "repeated); embedded default (SQLite, in-memory lock).",
        "",
        "| messages | Twilio webhook, median ms | REST channel, median ms | Twilio / REST |",
        "|---|---|---|---|",
    ]
    for row in figures["ranges"]:
        lines.append(
            f"| {row['messages']} | {row['twilio_ms']} | {row['rest_ms']} | "
            f"{row['twilio_over_rest']} |"
        )
    lines += [
        f"| new sender afterwards, 1-{NEW_SENDER_MESSAGES} | {figures['new_sender_ms']} | - | - |",
        "",
        f"- 251-300 over 1-50: Twilio {figures['growth_twilio']}x, REST "
        f"{figures['growth_rest']}x (goal <= 1.25x).",
        f"- Twilio over REST, all {MESSAGES} messages: {figures['twilio_over_rest_all']}x "
        "(goal <= 1.2x).",
        "- Tracker loads / full loads / saves per message (count (messages)):",
    ]
    for name, counts in figures["per_message"].items():
        lines.append(
            f"  - {name}: loads {counts['loads']}; full loads {counts['full_loads']}; "
            f"saves {counts['saves']}"
        )
    lines.append(
        "- Resident memory (MiB), Rasa / action server, after N Twilio messages: "
        + "; ".join(
            f"{m['after']}: {m['rasa_mib']} / {m['actions_mib']}" for m in figures["memory"]
        )
    )
    lines.append(f"- Unanswered or failed messages: {figures['errors']}")
    lines.append(f"- Reply digests: {figures['digests']}")
    lines.append(f"- Final state: {json.dumps(figures['final_state'], ensure_ascii=False)}")
    if profile:
        lines += [
            "",
            f"Profile (py-spy, Twilio messages {MESSAGES + 1}-{MESSAGES + PROFILE_MESSAGES} "
            "of the long conversation; share of the samples where Rasa was busy):",
            "",
            *profile,
        ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- profile


def start_profile(pid: int, out: Path) -> subprocess.Popen[bytes] | None:
    """py-spy sampling the Rasa process until stopped (SIGINT); raw collapsed stacks."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        print("py-spy not installed (make setup): no profile", file=sys.stderr)
        return None
    return subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(pid),
            "--nonblocking",  # never pause Rasa to sample it
            "--format",
            "raw",
            "--rate",
            "100",
            "-o",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_profile(process: subprocess.Popen[bytes] | None) -> None:
    if process is None:
        return
    process.send_signal(2)  # SIGINT: py-spy writes what it sampled and exits
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()


def top_entries(raw: Path, limit: int = 15, within: str | None = "handle_request ") -> list[str]:
    """Functions with the largest share of the time Rasa spent handling the webhook requests.

    Only stacks inside Sanic's ``handle_request`` count: the event loop waiting and idle
    worker threads are not the cost of a message. ``within=None``: every sample (py-spy
    leaves idle threads out), worker threads included.
    """
    if not raw.exists():
        return []
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        names = [
            short(f)
            for f in stack.split(";")
            if f and not f.startswith("process ") and not f.startswith("thread ")
        ]
        if within is None:
            inner = names
        elif any(name.startswith(within) for name in names):
            inner = names[next(i for i, n in enumerate(names) if n.startswith(within)) :]
        else:
            continue
        if not inner:
            continue
        count = int(count_text)
        total += count
        for name in set(inner):  # a recursive frame counts once
            inclusive[name] += count
        own[inner[-1]] += count
    if not total:
        return []
    rows = ["| function (file) | inclusive % | own % |", "|---|---|---|"]
    for name, count in inclusive.most_common(limit + 40):
        if count >= 0.97 * total:
            continue  # Sanic's request frames: in every sample
        rows.append(f"| {name} | {100 * count / total:.1f} | {100 * own[name] / total:.1f} |")
        if len(rows) >= limit + 2:
            break
    return rows


def short(frame: str) -> str:
    """``func (path/to/site-packages/pkg/mod.py:12)`` -> ``func (pkg/mod.py)``."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "lib/python3.10/", str(ROOT) + "/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})"


# --------------------------------------------------------------------------- main


async def drive(topology: Topology, counts: Path, args: argparse.Namespace) -> dict[str, Run]:
    base_url = topology.replica_url(0)
    async with aiohttp.ClientSession() as session:
        talker = Talker(session, base_url, topology, counts)
        # Warm-up on throwaway senders: TensorFlow builds its graphs on the first turns.
        for _ in range(2):
            for text in SCRIPT:
                await talker.twilio(f"whatsapp:+6281999{uuid.uuid4().int % 10**6:06d}", text)
                await talker.rest(f"warmup-{uuid.uuid4().hex[:8]}", text)
        runs: dict[str, Run] = {}
        suffix = f"{int(time.time()) % 10**7:07d}"

        # Message i of the Twilio conversation, then message i of the REST one: both see the
        # same moment of the machine (other work on it changes from minute to minute).
        twilio_run = Run("twilio", f"whatsapp:+62812{suffix}")
        rest_run = Run("rest", f"rest-long-{suffix}")
        twilio_run.memory.append({"after": 0, **memory(topology)})
        for index in range(1, args.messages + 1):
            twilio_run.turns.append(await one_turn(talker, "twilio", twilio_run.sender, index))
            rest_run.turns.append(await one_turn(talker, "rest", rest_run.sender, index))
            if index % MEMORY_EVERY == 0:
                twilio_run.memory.append({"after": index, **memory(topology)})
        twilio_run.final_state = await talker.final_state(twilio_run.sender)
        rest_run.final_state = await talker.final_state(rest_run.sender)
        runs["twilio"] = twilio_run
        runs["rest"] = rest_run

        fresh = Run("twilio_new_sender", f"whatsapp:+62813{suffix}")
        for index in range(1, NEW_SENDER_MESSAGES + 1):
            fresh.turns.append(await one_turn(talker, "twilio", fresh.sender, index))
        fresh.final_state = await talker.final_state(fresh.sender)
        runs["twilio_new_sender"] = fresh

        if args.profile and topology.rasa[0].popen:
            # After the timed messages: the profiler's sampling must not slow those down.
            profiler = start_profile(topology.rasa[0].popen.pid, args.out / "profile.raw")
            for index in range(args.messages + 1, args.messages + PROFILE_MESSAGES + 1):
                await one_turn(talker, "twilio", twilio_run.sender, index)
            stop_profile(profiler)
        return runs


async def one_turn(talker: Talker, channel: str, sender: str, index: int) -> Turn:
    """Message ``index`` (1-based) of the script, timed and counted."""
    text = SCRIPT[(index - 1) % len(SCRIPT)]
    before = read_counts(str(talker.counts))
    started = time.perf_counter()
    if channel == "rest":
        status, replies = await talker.rest(sender, text)
    else:
        status, replies = await talker.twilio(sender, text)
    ms = (time.perf_counter() - started) * 1000
    after = read_counts(str(talker.counts))
    return Turn(
        index,
        text,
        round(ms, 2),
        status,
        replies,
        after["load"] - before["load"],
        after["load_full"] - before["load_full"],
        after["save"] - before["save"],
    )


def compare(this: dict[str, Any], other_path: Path) -> list[str]:
    """Differences in replies and final state between this run and an earlier report."""
    other = json.loads(other_path.read_text(encoding="utf-8"))
    problems: list[str] = []
    for name, run in this["runs"].items():
        theirs = other["runs"].get(name)
        if theirs is None:
            continue
        for mine, old in zip(run["turns"], theirs["turns"], strict=False):
            if comparable(mine["replies"]) != comparable(old["replies"]):
                problems.append(f"{name} message {mine['index']} ({mine['text']!r}) differs")
        if run["final_state"] != theirs["final_state"]:
            problems.append(
                f"{name} final state differs: {run['final_state']} vs {theirs['final_state']}"
            )
    return problems


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.long_conversation", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--messages", type=int, default=MESSAGES)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "bench")
    parser.add_argument("--profile", action="store_true", help="py-spy on 30 more messages")
    parser.add_argument("--compare", type=Path, help="an earlier long_conversation.json")
    args = parser.parse_args(argv)
    args.messages = max(50, min(args.messages, 2000))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Start the embedded topology, talk, print and write the report."""
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="lpse-long-"))
    counts = workdir / "tracker-calls.txt"
    topology = Topology(
        workdir / "topology",
        replicas=1,
        endpoints=ROOT / "endpoints.yml",
        extra_env={"BENCH_TRACKER_COUNT_FILE": str(counts), "SENDER_LIMIT_PER_MINUTE": "0"},
        rasa_command=[sys.executable, str(ROOT / "bench" / "counting_rasa.py")],
        with_stores=False,
        enable_api=True,
    )
    facts = machine_facts()
    try:
        topology.start()
        facts["load_average_before"] = round(os.getloadavg()[0], 2)
        runs = asyncio.run(drive(topology, counts, args))
    except Exception:
        for process in [*topology.rasa, topology.actions]:
            print(f"--- {process.name}\n{tail(process.log)}", file=sys.stderr)
        raise
    finally:
        topology.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    figures = summary(runs)
    profile = top_entries(args.out / "profile.raw") if args.profile else []
    report = {
        "machine": facts,
        "figures": figures,
        "profile": profile,
        "runs": {name: asdict(run) for name, run in runs.items()},
    }
    text = markdown(facts, figures, profile)
    if args.compare:
        problems = compare(report, args.compare)
        text += (
            "\nCompared with "
            + str(args.compare)
            + ": "
            + ("same replies and final state." if not problems else "; ".join(problems[:20]))
            + "\n"
        )
    (args.out / "long_conversation.md").write_text(text, encoding="utf-8")
    (args.out / "long_conversation.json").write_text(
        json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8"
    )
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
