"""Speed benchmark of the NLU: full `rasa train` wall time and message parse latency.

    flock /tmp/lpse-assist-train.lock .venv/bin/python bench/nlu_speed.py

Trains the whole assistant (NLU + dialogue policies) from scratch with Rasa's training cache
turned off, as `rasa train` would on a fresh checkout, then loads the trained model in-process
(`rasa.core.agent.Agent`) and times `agent.parse_message` on every message of the harness's
held-out sets (after a warm-up). Prints the machine it ran on. A benchmark, never a unit test:
figures depend on the machine and on what else runs on it (the load average is printed too).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.machine import load_average
from bench.stats import median, percentile
from eval.results import run_info
from eval.sets import load_test_sets
from eval.training import quiet_logs

ROOT = Path(__file__).resolve().parent.parent

TARGET_TRAIN_SECONDS = 180.0
TARGET_PARSE_P50_MS = 20.0


def train_wall_seconds(out_dir: Path) -> tuple[float, Path]:
    """Run `rasa train` in a subprocess with the cache off; (seconds, model path)."""
    env = dict(
        os.environ,
        RASA_TELEMETRY_ENABLED="false",
        RASA_MAX_CACHE_SIZE="0",  # a cold training, as on a fresh checkout
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    rasa = str(ROOT / ".venv" / "bin" / "rasa")
    started = time.perf_counter()
    result = subprocess.run(
        [rasa, "train", "--fixed-model-name", "bench", "--out", str(out_dir), "--force"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        print(result.stdout[-2000:], result.stderr[-3000:], sep="\n")
        raise SystemExit("rasa train failed")
    return seconds, out_dir / "bench.tar.gz"


def parse_latencies_ms(model: Path, texts: Sequence[str], rounds: int) -> list[float]:
    """Milliseconds per `agent.parse_message`, after a warm-up pass."""
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    loop = asyncio.new_event_loop()
    try:
        for text in texts[:20]:
            loop.run_until_complete(agent.parse_message(text))
        timings = []
        for _ in range(rounds):
            for text in texts:
                started = time.perf_counter()
                loop.run_until_complete(agent.parse_message(text))
                timings.append((time.perf_counter() - started) * 1000)
        return timings
    finally:
        loop.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Train (unless --model), time parsing, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="skip training; time parsing on this model")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the messages")
    args = parser.parse_args(argv)
    quiet_logs()

    info = run_info()
    print("machine: " + "; ".join(f"{k} {v}" for k, v in info.items()))
    # Every held-out message, the typo copies included (they take the spelling corrector's path).
    texts = [text for examples in load_test_sets(42).values() for text, _ in examples]
    with tempfile.TemporaryDirectory(prefix="lpse-bench-") as tmp:
        if args.model:
            model = Path(args.model)
        else:
            seconds, model = train_wall_seconds(Path(tmp))
            verdict = "ok" if seconds < TARGET_TRAIN_SECONDS else "OVER TARGET"
            print(
                f"rasa train (NLU + policies, cache off): {seconds:.1f} s "
                f"[target < {TARGET_TRAIN_SECONDS:.0f} s: {verdict}]"
            )
        timings = parse_latencies_ms(model, texts, args.rounds)
    p50, p95 = median(timings), percentile(timings, 0.95)
    verdict = "ok" if p50 < TARGET_PARSE_P50_MS else "OVER TARGET"
    print(
        f"parse_message over {len(timings)} calls ({len(texts)} messages x {args.rounds}): "
        f"p50 {p50:.1f} ms, p95 {p95:.1f} ms [target p50 < {TARGET_PARSE_P50_MS:.0f} ms: "
        f"{verdict}]"
    )
    print(f"load average at end: {load_average():.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
