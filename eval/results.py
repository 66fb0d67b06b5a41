"""A run's results (predictions and timings per pipeline): saved after every pipeline, loaded
again to re-render the report (`--rescore`) or to finish an interrupted run (`--resume`)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.machine import load_average, machine_facts
from eval.metrics import Prediction
from eval.sets import Manifest

ROOT = Path(__file__).resolve().parent.parent
# What a model depends on: a change here (not committed) makes a saved run unfit to resume.
NLU_PATHS = ("config.yml", "data", "lpse_assist/nlu", "tests/nlu")


@dataclass
class PipelineResult:
    """Predictions and timings of one pipeline."""

    name: str
    description: str
    threshold: float
    ambiguity: float
    fold_train_seconds: list[float] = field(default_factory=list)
    full_train_seconds: float = 0.0
    parse_ms: list[float] = field(default_factory=list)
    predictions: dict[str, list[Prediction]] = field(default_factory=dict)


@dataclass
class Run:
    """What a results file holds: the machine and commit, the options, the data sizes, the
    sets it was scored on (None in files from before the manifest) and every pipeline."""

    info: dict[str, str]
    folds: int
    seed: int
    sizes: dict[str, int]
    results: list[PipelineResult]
    manifest: Manifest | None = None


def git_commit() -> str:
    """The short commit, marked when the NLU's files have uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", *NLU_PATHS],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        commit, dirty = "unknown", ""
    return commit + (" (with uncommitted NLU changes)" if dirty else "")


def run_info() -> dict[str, str]:
    """What the figures were measured on: the machine, the load at the start, the commit."""
    return {
        **{key: str(value) for key, value in machine_facts().items()},
        "load average at start": f"{load_average():.2f}",
        "git": git_commit(),
    }


def result_to_dict(result: PipelineResult) -> dict[str, Any]:
    """One pipeline's result as JSON-ready data (`result_from_dict` reads it back)."""
    return {
        **asdict(result),
        "predictions": {k: [asdict(p) for p in v] for k, v in result.predictions.items()},
    }


def result_from_dict(raw: dict[str, Any]) -> PipelineResult:
    """A PipelineResult from what `result_to_dict` gave."""
    result = PipelineResult(**{**raw, "predictions": {}})
    result.predictions = {k: [Prediction(**p) for p in v] for k, v in raw["predictions"].items()}
    return result


def save_run(path: Path, run: Run) -> None:
    """All predictions and timings, for --rescore and --resume."""
    path.parent.mkdir(parents=True, exist_ok=True)
    saved: dict[str, Any] = {
        "info": run.info,
        "folds": run.folds,
        "seed": run.seed,
        "sizes": run.sizes,
        "results": [result_to_dict(r) for r in run.results],
    }
    if run.manifest is not None:
        saved["manifest"] = run.manifest.to_dict()
    path.write_text(json.dumps(saved, ensure_ascii=False), encoding="utf-8")


def load_run(path: Path) -> Run:
    """What `save_run` wrote."""
    saved = json.loads(path.read_text(encoding="utf-8"))
    return Run(
        info=saved["info"],
        folds=saved["folds"],
        seed=saved["seed"],
        sizes=saved["sizes"],
        results=[result_from_dict(raw) for raw in saved["results"]],
        manifest=Manifest.from_dict(saved["manifest"]) if "manifest" in saved else None,
    )


def resumable(
    path: Path, info: dict[str, str], folds: int, seed: int, sizes: dict[str, int]
) -> dict[str, PipelineResult]:
    """Pipelines of an earlier run that can be reused: same commit (no uncommitted NLU change),
    folds, seed and data sizes; else nothing."""
    if not path.exists():
        return {}
    saved = load_run(path)
    same = (
        saved.info.get("git") == info["git"]
        and "uncommitted" not in info["git"]
        and saved.folds == folds
        and saved.seed == seed
        and saved.sizes == sizes
    )
    if not same:
        print(f"{path}: another commit, data or options; training everything", flush=True)
        return {}
    return {result.name: result for result in saved.results}


def by_name(results: Sequence[PipelineResult], name: str) -> PipelineResult | None:
    """The result of pipeline `name`, if the run has it."""
    return next((r for r in results if r.name == name), None)
