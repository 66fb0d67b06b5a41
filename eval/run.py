"""NLU evaluation harness (`make eval`): compares pipelines on the same data in one run.

For each pipeline: k-fold cross-validation on data/nlu (stratified by intent, seeded), then one
model trained on all of data/nlu and scored on the held-out sets of tests/nlu/sets.yml, which
are never trained on. Headline sets (`seen: false`): informal messages by outside writers who
never saw the training data, the same with seeded random typos, and real public questions from
LPSE FAQ pages and forums. Development sets (`seen: true`): the team's own sets and earlier
runs' headline sets, looked at while the training data grew. Training and parsing run
in-process through Rasa's Python API (`train_nlu`, `Agent.parse_message`).

Pipelines (eval/pipelines.py):
- rasa-default: the pipeline Rasa 3.6 uses when config.yml has none (what `rasa init` gives),
  with a fixed random seed for DIET so that two runs give the same figures;
- ours-no-normaliser: config.yml with Rasa's WhitespaceTokenizer instead of ours and without
  the spelling corrector;
- ours: config.yml as it is;
- ablations (`--ablations`): ours with spaCy's Indonesian tokenizer, ours with dense
  features, ours without the spelling corrector, with run-together words split,
  without the normaliser's chat rules, and without correcting misspelt informal spellings.

Run it under `flock /tmp/lpse-assist-train.lock` (the Makefile does): it trains many models.

This module is the command line only: the sets are in eval/sets.py, training and parsing in
eval/training.py, the results file in eval/results.py, the report in eval/report.py.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from eval.pipelines import chosen_pipelines, fallback_thresholds, pipelines
from eval.report import print_summary, render_report
from eval.results import PipelineResult, Run, load_run, resumable, run_info, save_run
from eval.sets import load_examples, load_test_sets, read_manifest, training_overlaps
from eval.training import quiet_logs, run_all

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--only", nargs="*", help="pipeline names to run (default: all)")
    parser.add_argument("--ablations", action="store_true", help="also ablations of ours")
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="models trained at once (CV folds and full models of every pipeline), each in its "
        "own process (DIET trains on about one core here, so 2 uses a 2-core machine fully)",
    )
    parser.add_argument(
        "--config",
        default=str(ROOT / "config.yml"),
        help="config whose pipeline is 'ours' (to try a change before editing config.yml)",
    )
    parser.add_argument("--report", default=str(ROOT / "docs" / "nlu-report.md"))
    parser.add_argument("--notes", default=str(ROOT / "eval" / "report_notes.md"))
    parser.add_argument(
        "--json",
        default=str(ROOT / "results" / "nlu-eval.json"),
        help="where to keep all predictions and timings",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the pipelines already in --json from an interrupted run of the same commit, "
        "data and options; train only the others",
    )
    parser.add_argument(
        "--rescore",
        action="store_true",
        help="no training: re-render the report from --json with the thresholds now in "
        "config.yml (predictions before the fallback rule do not depend on them)",
    )
    parser.add_argument(
        "--cv-only",
        action="store_true",
        help="decision run: cross-validation only (try --seed, --only, --config); the held-out "
        "sets are neither loaded nor parsed and nothing is written",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison and write the report (or re-score, or cross-validate only)."""
    args = parse_args(argv)
    quiet_logs()
    if args.rescore:
        return rescore(Path(args.json), Path(args.report), Path(args.notes))
    if args.cv_only:
        return cv_only(args)
    return full_run(args)


def full_run(args: argparse.Namespace) -> int:
    """Cross-validate and score on the held-out sets every chosen pipeline; save the results
    after each pipeline; write the report."""
    manifest = read_manifest()
    training = load_examples(ROOT / "data" / "nlu")
    tests = load_test_sets(args.seed, manifest)
    sizes = {"cv": len(training), **{k: len(v) for k, v in tests.items()}}
    info = run_info()
    info["held-out messages also in the training data, word for word"] = training_overlaps(
        training, tests, manifest
    )
    json_path = Path(args.json)
    done = resumable(json_path, info, args.folds, args.seed, sizes) if args.resume else {}
    chosen = chosen_pipelines(args.ablations, Path(args.config), args.only)
    finished: dict[str, PipelineResult] = {}
    for name, _, _ in chosen:
        if name in done:
            print(f"[{name}] kept from {json_path}", flush=True)
            finished[name] = done[name]
    todo = [named for named in chosen if named[0] not in done]

    def run_so_far() -> Run:
        results = [finished[n] for n, _, _ in chosen if n in finished]
        return Run(info, args.folds, args.seed, sizes, results, manifest)

    def keep(result: PipelineResult) -> None:
        # After every pipeline: a crash or a stop later loses nothing (see --resume).
        finished[result.name] = result
        save_run(json_path, run_so_far())

    with tempfile.TemporaryDirectory(prefix="lpse-eval-") as tmp:
        run_all(todo, training, tests, args.folds, args.seed, args.jobs, Path(tmp), keep)
    run = run_so_far()
    print_summary(run.results)
    write_report(run, Path(args.report), Path(args.notes))
    return 0


def cv_only(args: argparse.Namespace) -> int:
    """Cross-validate the chosen pipelines and print their figures: how a pipeline or
    threshold choice is made without looking at the held-out sets."""
    training = load_examples(ROOT / "data" / "nlu")
    chosen = chosen_pipelines(args.ablations, Path(args.config), args.only)
    finished: dict[str, PipelineResult] = {}
    with tempfile.TemporaryDirectory(prefix="lpse-eval-cv-") as tmp:
        run_all(
            chosen,
            training,
            {},
            args.folds,
            args.seed,
            args.jobs,
            Path(tmp),
            lambda result: finished.__setitem__(result.name, result),
        )
    print_summary([finished[name] for name, _, _ in chosen])
    return 0


def rescore(
    saved_path: Path, report_path: Path, notes_path: Path, now: dt.datetime | None = None
) -> int:
    """Re-render the report from saved predictions with config.yml's current thresholds."""
    run = load_run(saved_path)
    current = {name: fallback_thresholds(pipeline) for name, _, pipeline in pipelines(True)}
    for result in run.results:
        result.threshold, result.ambiguity = current.get(
            result.name, (result.threshold, result.ambiguity)
        )
    print_summary(run.results)
    when = (now or dt.datetime.now()).astimezone().strftime("%Y-%m-%d %H:%M %Z")
    run.info = {**run.info, "re-scored": when + " with config.yml's thresholds (no retraining)"}
    write_report(run, report_path, notes_path)
    return 0


def write_report(run: Run, report_path: Path, notes_path: Path) -> None:
    """The report of `run`, with the notes file (if any) at the end."""
    notes = notes_path.read_text(encoding="utf-8") if notes_path.exists() else ""
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(render_report(run, notes) + "\n", encoding="utf-8")
    print(f"\nreport: {report_path}")


if __name__ == "__main__":
    sys.exit(main())
