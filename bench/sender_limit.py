"""Cost of the per-sender limit (SENDER_LIMIT_PER_MINUTE) on each Twilio message.

The limit adds one check per webhook call: a dictionary lookup (embedded default) or one
round trip to Redis running an atomic script (production). This bench measures exactly that
check, with a real ``redis-server`` (Debian package) on loopback, at the webhook's load of
``make bench`` (20 msg/s spread over many senders, each under the limit), and back to back
for the most checks per second. Compare with a turn of the bot (docs/benchmarks.md: hundreds
of milliseconds) to see whether it is visible.

``python -m bench.sender_limit`` (``make bench-limit``) prints a Markdown table. For the whole
webhook with and without the limit: ``python -m bench.load --sender-limit 20`` and ``0``.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.machine import cpu_model
from lpse_assist.channels.sender_limit import MemoryCounter, RedisCounter, SenderLimiter, Verdict
from lpse_assist.settings import SenderLimitSettings
from tests.deploy.topology import Topology


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def paced(limiter: SenderLimiter, senders: int, rate: float, seconds: float) -> list[float]:
    """Checks at ``rate`` per second, senders taking turns; each check's latency in ms."""
    latencies: list[float] = []
    total = int(rate * seconds)
    start = time.monotonic()
    for i in range(total):
        await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
        began = time.perf_counter()
        verdict = await limiter.check(f"+62812{i % senders:07d}", f"SMpaced{i}")
        latencies.append((time.perf_counter() - began) * 1000)
        assert verdict is Verdict.ALLOW  # under the limit: the bench measures the common case
    return latencies


async def back_to_back(limiter: SenderLimiter, senders: int, count: int) -> float:
    """Checks per second, one after the other."""
    began = time.perf_counter()
    for i in range(count):
        await limiter.check(f"+62813{i % senders:07d}", f"SMburst{i}")
    return count / (time.perf_counter() - began)


async def measure(name: str, limiter: SenderLimiter, args: argparse.Namespace) -> list[str]:
    latencies = await paced(limiter, args.senders, args.rate, args.seconds)
    per_second = await back_to_back(limiter, args.senders * 10, args.burst)
    return [
        name,
        str(len(latencies)),
        f"{statistics.median(latencies):.3f}",
        f"{percentile(latencies, 0.95):.3f}",
        f"{percentile(latencies, 0.99):.3f}",
        f"{max(latencies):.3f}",
        f"{per_second:,.0f}",
    ]


async def run(args: argparse.Namespace, redis: Topology) -> list[list[str]]:
    settings = SenderLimitSettings(
        per_minute=args.limit,
        redis_host="127.0.0.1",
        redis_port=redis.redis_port,
        redis_password=redis.redis_password,
        redis_db=0,
    )
    return [
        await measure("off (0)", SenderLimiter(0, MemoryCounter()), args),
        await measure(
            "memory (embedded default)", SenderLimiter(args.limit, MemoryCounter()), args
        ),
        await measure(
            "Redis (production)", SenderLimiter(args.limit, RedisCounter(settings)), args
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sender_limit", description=__doc__)
    parser.add_argument("--rate", type=float, default=20.0, help="checks per second (paced)")
    parser.add_argument("--seconds", type=float, default=30.0, help="paced phase length")
    parser.add_argument("--senders", type=int, default=300, help="distinct senders")
    parser.add_argument("--burst", type=int, default=5000, help="back-to-back checks")
    parser.add_argument("--limit", type=int, default=20, help="SENDER_LIMIT_PER_MINUTE")
    args = parser.parse_args(argv)
    # Every sender stays under the limit: at most rate*seconds/senders messages each.
    args.senders = max(args.senders, int(args.rate * args.seconds / max(1, args.limit)) + 1)
    workdir = Path(tempfile.mkdtemp(prefix="lpse-bench-limit-"))
    redis = Topology(workdir, replicas=0)
    try:
        redis.start_redis()
        rows = asyncio.run(run(args, redis))
    finally:
        redis.redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"Sender-limit check, {args.rate:g} checks/s for {args.seconds:g} s over {args.senders} "
        f"senders (limit {args.limit}/min), then {args.burst} back to back; redis-server on "
        f"loopback; {cpu_model()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n"
    )
    header = ["counter", "checks", "p50 ms", "p95 ms", "p99 ms", "max ms", "checks/s"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
