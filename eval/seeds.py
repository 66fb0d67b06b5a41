"""Seed check (`make eval-seeds`): do the headline comparisons survive another random seed?

`make eval` gives DIET one fixed seed per pipeline, so its figures are reproducible; but they
are one draw. This script trains the model on all of data/nlu again for ours and Rasa's
default with other DIET seeds (`--seeds`), scores each on the headline sets of tests/nlu/sets.yml
(sets nobody on the team had seen, their typo copies; CV is not repeated: it costs five
trainings per seed), and prints, per figure, the range over seeds and whether ours was
better in every pairing of an our seed with a default seed.

Rasa's default takes 6-8 minutes per training on a 2-core machine; `--jobs 2` trains two at a
time. `--pipelines ours --all-sets --json-dir DIR` keeps each model's predictions on every
held-out set (dev sets too) in DIR/<pipeline>-seed<N>.json, which `python -m
eval.provider_figures` reads like a `make eval` run: issue 15's comparison with the model
before the issue (the same command in a worktree of that commit) is made that way.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from eval.metrics import Prediction, Scores, score
from eval.pipelines import fallback_thresholds, pipelines, with_seed
from eval.report import HEADLINE_METRICS, winner
from eval.results import PipelineResult, result_to_dict
from eval.sets import ROOT, Example, load_examples, load_test_sets, read_manifest
from eval.training import FULL, evaluate_unit, quiet_logs

PIPELINES = ("rasa-default", "ours")


def headline_tests(seed: int, all_sets: bool = False) -> dict[str, Sequence[Example]]:
    """The held-out sets that count as headline sets (not seen), typo copies included.

    With `all_sets`, every held-out set of the manifest (dev sets too).
    """
    tests = load_test_sets(seed)
    if all_sets:
        return dict(tests)
    unseen = {t.key for t in read_manifest().sets if not t.seen}
    return {k: v for k, v in tests.items() if k in unseen}


def run_json(
    name: str, threshold: float, ambiguity: float, predictions: dict[str, list[Prediction]]
) -> dict[str, Any]:
    """One seed's predictions in the shape of a `make eval` run's JSON (what
    eval.provider_figures reads): one pipeline, its thresholds, predictions per set."""
    description = dict((n, d) for n, d, _ in pipelines(False))[name]
    result = PipelineResult(name, description, threshold, ambiguity, predictions=predictions)
    return {"results": [result_to_dict(result)]}


def train_and_parse(
    name: str, seed: int, typo_seed: int, all_sets: bool = False
) -> tuple[str, int, dict[str, list[Prediction]]]:
    """Train pipeline `name` with DIET seed `seed` on all data; predictions per headline set."""
    quiet_logs()  # also sets TensorFlow's log level and turns telemetry off
    pipeline = dict((n, p) for n, _, p in pipelines(False))[name]
    examples = load_examples(ROOT / "data" / "nlu")
    with tempfile.TemporaryDirectory(prefix="lpse-seeds-") as workdir:
        # The same step as `make eval`'s model on all data (folds do not apply to it).
        part = evaluate_unit(
            name,
            with_seed(pipeline, seed),
            examples,
            headline_tests(typo_seed, all_sets),
            folds=0,
            seed=typo_seed,
            unit=FULL,
            workdir=Path(workdir),
        )
    return name, seed, part["predictions"]


def compare(
    scores: dict[tuple[str, int], dict[str, Scores]],
) -> list[tuple[str, str, str, str, str]]:
    """(set, metric, ours range, default range, verdict) over all seeds of both pipelines.

    The verdict is "ours in every pairing" only if every our seed beats every default seed.
    """
    rows = []
    ours = [s for (n, _), s in scores.items() if n == "ours"]
    default = [s for (n, _), s in scores.items() if n == "rasa-default"]
    for set_name in ours[0]:
        for label, attribute, higher in HEADLINE_METRICS:
            if attribute == "oos_false_accept" and not ours[0][set_name].oos_n:
                continue
            a = [getattr(s[set_name], attribute) for s in ours]
            b = [getattr(s[set_name], attribute) for s in default]
            pairs = list(itertools.product(a, b))
            better = sum(winner(x, y, higher) == "ours" for x, y in pairs)
            verdict = (
                "ours in every pairing"
                if better == len(pairs)
                else f"ours in {better} of {len(pairs)} pairings"
            )
            rows.append(
                (
                    set_name,
                    label,
                    f"{min(a):.3f}-{max(a):.3f}",
                    f"{min(b):.3f}-{max(b):.3f}",
                    verdict,
                )
            )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[1, 2, 3],
        help="DIET seeds for both pipelines (1 is the one `make eval` uses)",
    )
    parser.add_argument("--typo-seed", type=int, default=42, help="as eval/run.py's --seed")
    parser.add_argument("--jobs", type=int, default=1, help="trainings at a time")
    parser.add_argument(
        "--pipelines", nargs="+", choices=PIPELINES, default=list(PIPELINES), help="to train"
    )
    parser.add_argument(
        "--all-sets", action="store_true", help="score the dev sets too, not only the unseen ones"
    )
    parser.add_argument(
        "--json-dir", type=Path, help="keep each model's predictions: DIR/<pipeline>-seed<N>.json"
    )
    args = parser.parse_args(argv)

    units = [(name, seed) for name in args.pipelines for seed in args.seeds]
    thresholds = {name: fallback_thresholds(p) for name, _, p in pipelines(False)}
    scores: dict[tuple[str, int], dict[str, Scores]] = {}
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [
            pool.submit(train_and_parse, n, s, args.typo_seed, args.all_sets) for n, s in units
        ]
        for future in futures:
            name, seed, predictions = future.result()
            threshold, ambiguity = thresholds[name]
            if args.json_dir:
                args.json_dir.mkdir(parents=True, exist_ok=True)
                path = args.json_dir / f"{name}-seed{seed}.json"
                path.write_text(json.dumps(run_json(name, threshold, ambiguity, predictions)))
            scores[(name, seed)] = {
                k: score(v, threshold, ambiguity) for k, v in predictions.items()
            }
            figures = ", ".join(
                f"{k} {s.accuracy:.3f}/{s.macro_f1:.3f}/{s.oos_false_accept:.3f}"
                for k, s in scores[(name, seed)].items()
            )
            print(f"{name} seed {seed} (acc/macro-F1/OOS-FA): {figures}", flush=True)

    if len(args.pipelines) < 2:
        return 0  # nothing to compare with: the per-seed lines (and --json-dir) are the output
    print("\n| set | figure | ours (range over seeds) | Rasa default (range) | verdict |")
    print("|---|---|---|---|---|")
    for row in compare(scores):
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
