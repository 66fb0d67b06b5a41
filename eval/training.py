"""Training and parsing for the harness: one unit of work is one model (a CV fold, or the
model on all data scored on the held-out sets); `run_all` runs the units of many pipelines,
in this process or in worker processes, for both the full run and the CV-only run."""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from eval.metrics import FALLBACK, Prediction, stratified_folds
from eval.pipelines import Named, Pipeline, fallback_thresholds
from eval.results import PipelineResult
from eval.sets import Example

ROOT = Path(__file__).resolve().parent.parent

# One model of a pipeline's evaluation: a CV fold (its index) or the model on all data (FULL).
FULL = "full"
Unit = Any  # int | FULL


def quiet_logs() -> None:
    """Rasa and TensorFlow log every training step at INFO; keep warnings only."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    # No training cache: every fold trains from scratch, so the timings are real and a
    # repeated run cannot reuse a model trained on other data.
    os.environ["RASA_MAX_CACHE_SIZE"] = "0"
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("rasa", "tensorflow", "absl", "matplotlib"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # Rasa's structlog events (one per parsed message, with its text) print at DEBUG unless
    # structlog is configured; filter them by the stdlib levels set above.
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)


def write_training_data(examples: Sequence[Example], source: Path, target: Path) -> None:
    """Write `examples` as Rasa YAML, keeping `source`'s lookup tables and regexes."""
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    full = load_data(str(source))
    data = TrainingData(
        training_examples=[Message.build(text=text, intent=intent) for text, intent in examples],
        entity_synonyms=full.entity_synonyms,
        regex_features=full.regex_features,
        lookup_tables=full.lookup_tables,
    )
    target.write_text(data.nlu_as_yaml(), encoding="utf-8")


def train(pipeline: Pipeline, examples: Sequence[Example], workdir: Path) -> tuple[Any, float]:
    """Train an NLU model on `examples` in-process; returns (agent, seconds)."""
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu

    workdir.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    config["pipeline"] = copy.deepcopy(pipeline)
    config_path = workdir / "config.yml"
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    data_path = workdir / "nlu.yml"
    write_training_data(examples, ROOT / "data" / "nlu", data_path)
    started = time.perf_counter()
    model = train_nlu(
        str(config_path), str(data_path), str(workdir / "models"), fixed_model_name="m"
    )
    seconds = time.perf_counter() - started
    if model is None:
        raise RuntimeError(f"training failed in {workdir}")
    return Agent.load(model), seconds


def parse_all(
    agent: Any, examples: Sequence[Example], timings: list[float] | None = None
) -> list[Prediction]:
    """Parse every text; keep the ranking before the fallback rule."""
    loop = asyncio.new_event_loop()
    try:
        predictions = []
        for text, gold in examples:
            started = time.perf_counter()
            result = loop.run_until_complete(agent.parse_message(text))
            if timings is not None:
                timings.append((time.perf_counter() - started) * 1000)
            ranking = [r for r in result.get("intent_ranking") or [] if r.get("name") != FALLBACK]
            if not ranking:
                ranking = [result["intent"]]
            predictions.append(
                Prediction(
                    text=text,
                    gold=gold,
                    top=ranking[0]["name"],
                    top_confidence=float(ranking[0].get("confidence") or 0.0),
                    second_confidence=(
                        float(ranking[1].get("confidence") or 0.0) if len(ranking) > 1 else 0.0
                    ),
                )
            )
        return predictions
    finally:
        loop.close()


def units_of(folds: int, tests: dict[str, Sequence[Example]]) -> list[Unit]:
    """The models a pipeline's evaluation trains: one per fold, then (with held-out sets) the
    model on all data."""
    return [*range(folds), *([FULL] if tests else [])]


def evaluate_unit(
    name: str,
    pipeline: Pipeline,
    training: Sequence[Example],
    tests: dict[str, Sequence[Example]],
    folds: int,
    seed: int,
    unit: Unit,
    workdir: Path,
) -> dict[str, Any]:
    """Train one model of `unit` and parse what it is scored on: the held-back fold, or every
    held-out set (timed, after a warm-up). Returns seconds, predictions and parse times."""
    if unit == FULL:
        agent, seconds = train(pipeline, training, workdir / f"{name}-full")
        parse_all(agent, list(tests.values())[0][:20])  # warm-up, not timed
        parse_ms: list[float] = []
        predictions = {key: parse_all(agent, examples, parse_ms) for key, examples in tests.items()}
        print(f"[{name}] full model trained in {seconds:.0f}s", flush=True)
        return {"seconds": seconds, "predictions": predictions, "parse_ms": parse_ms}
    test_indices = stratified_folds(training, folds, seed)[unit]
    held = set(test_indices)
    train_part = [e for i, e in enumerate(training) if i not in held]
    test_part = [training[i] for i in test_indices]
    agent, seconds = train(pipeline, train_part, workdir / f"{name}-fold{unit}")
    print(f"[{name}] fold {unit + 1}/{folds}: trained in {seconds:.0f}s", flush=True)
    return {"seconds": seconds, "predictions": {"cv": parse_all(agent, test_part)}, "parse_ms": []}


def assemble(
    name: str,
    description: str,
    pipeline: Pipeline,
    parts: dict[Unit, dict[str, Any]],
    folds: int,
) -> PipelineResult:
    """The pipeline's result from its units' outputs (CV predictions in fold order)."""
    threshold, ambiguity = fallback_thresholds(pipeline)
    result = PipelineResult(name, description, threshold, ambiguity)
    out_of_fold: list[Prediction] = []
    for fold in range(folds):
        result.fold_train_seconds.append(parts[fold]["seconds"])
        out_of_fold.extend(parts[fold]["predictions"]["cv"])
    result.predictions["cv"] = out_of_fold
    if FULL in parts:
        result.full_train_seconds = parts[FULL]["seconds"]
        result.predictions.update(parts[FULL]["predictions"])
        result.parse_ms = list(parts[FULL]["parse_ms"])
    return result


def evaluate_pipeline(
    name: str,
    description: str,
    pipeline: Pipeline,
    training: Sequence[Example],
    tests: dict[str, Sequence[Example]],
    folds: int,
    seed: int,
    workdir: Path,
) -> PipelineResult:
    """Cross-validate `pipeline`, then train on everything and parse the held-out sets (none
    in a decision run, --cv-only: no full model, no held-out set looked at)."""
    parts = {
        unit: evaluate_unit(name, pipeline, training, tests, folds, seed, unit, workdir)
        for unit in units_of(folds, tests)
    }
    return assemble(name, description, pipeline, parts, folds)


def _quietly(function: Callable[..., Any], *args: Any) -> Any:
    """`function(*args)` in a worker process, with Rasa's and TensorFlow's logs quiet."""
    quiet_logs()
    return function(*args)


def run_all(
    todo: Sequence[Named],
    training: Sequence[Example],
    tests: dict[str, Sequence[Example]],
    folds: int,
    seed: int,
    jobs: int,
    workdir: Path,
    keep: Callable[[PipelineResult], None],
) -> None:
    """Evaluate every pipeline of `todo`; `keep` gets each pipeline's result as soon as its
    last model is done. No held-out sets (`tests` empty): cross-validation only.

    With `jobs` > 1 the models train in that many worker processes. The unit of work is one
    model (a fold, or the full model), not a pipeline: the slow default pipeline's folds then
    train side by side instead of one after the other. Results do not depend on the order:
    every model has a fixed seed and its own folder."""
    if jobs <= 1:
        for name, description, pipeline in todo:
            keep(
                evaluate_pipeline(
                    name, description, pipeline, training, tests, folds, seed, workdir
                )
            )
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    pipelines_by_name = {name: (description, pipeline) for name, description, pipeline in todo}
    parts: dict[str, dict[Unit, dict[str, Any]]] = {name: {} for name in pipelines_by_name}
    units = units_of(folds, tests)
    context = multiprocessing.get_context("spawn")  # TensorFlow does not survive fork
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        # Submitted in the order given (longest-running pipeline first).
        futures = {
            pool.submit(
                _quietly,
                evaluate_unit,
                name,
                pipeline,
                training,
                tests,
                folds,
                seed,
                unit,
                workdir / name,
            ): (name, unit)
            for name, _, pipeline in todo
            for unit in units
        }
        for future in as_completed(futures):
            name, unit = futures[future]
            parts[name][unit] = future.result()
            if len(parts[name]) == len(units):
                description, pipeline = pipelines_by_name[name]
                keep(assemble(name, description, pipeline, parts[name], folds))
