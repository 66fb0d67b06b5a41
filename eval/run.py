"""NLU evaluation harness (`make eval`): compares pipelines on the same data in one run.

For each pipeline: k-fold cross-validation on data/nlu (stratified by intent, seeded), then one
model trained on all of data/nlu and scored on the held-out files (TEST_SETS), which are never
trained on. Headline sets: informal messages by two outside writers who never saw the training
data (tests/nlu/heldout_external_13.yml, heldout_external_14.yml), the same with seeded random
typos, and real public questions from LPSE FAQ pages and forums (tests/nlu/public_real_5.yml).
Development sets, looked at while the training data grew: the team's own sets
(tests/nlu/heldout.yml + typos, tests/nlu/public_questions.yml) and earlier runs' headline
sets (heldout_external.yml to heldout_external_12.yml and the earlier public collections).
Training and parsing run in-process through Rasa's Python API (`train_nlu`, `Agent.parse_message`).

Pipelines:
- rasa-default: the pipeline Rasa 3.6 uses when config.yml has none (what `rasa init` gives),
  with a fixed random seed for DIET so that two runs give the same figures;
- ours-no-normaliser: config.yml with Rasa's WhitespaceTokenizer instead of ours and without
  the spelling corrector;
- ours: config.yml as it is;
- ablations (`--ablations`): ours with spaCy's Indonesian tokenizer, ours with dense
  features, ours without the spelling corrector, with run-together words split,
  without the normaliser's chat rules, and without correcting misspelt informal spellings.

Run it under `flock /tmp/lpse-assist-train.lock` (the Makefile does): it trains many models.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import datetime as dt
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.machine import cpu_model
from eval.metrics import (
    FALLBACK,
    Prediction,
    Scores,
    add_typos,
    choose_thresholds,
    score,
    scored_label,
    stratified_folds,
    threshold_grid,
)

ROOT = Path(__file__).resolve().parent.parent
logger = logging.getLogger(__name__)

OUR_TOKENIZER = "lpse_assist.nlu.tokenizer.NormalizingTokenizer"
DENSE_FEATURIZER = "lpse_assist.nlu.sentence_encoder.SentenceEncoderFeaturizer"
SPELLING = "lpse_assist.nlu.spelling.VocabularySpellingCorrector"
# Seed given to Rasa's default DIETClassifier (it has none): the comparison is repeatable.
DEFAULT_SEED = 1
THRESHOLDS = [round(0.2 + 0.05 * i, 2) for i in range(14)]  # 0.20 .. 0.85
AMBIGUITIES = [0.0, 0.05, 0.1, 0.15, 0.2]

Example = tuple[str, str]  # (text, intent)


@dataclass(frozen=True)
class TestSet:
    """A held-out file (never trained on), or its copy with random typos."""

    key: str
    title: str
    path: str
    typos: bool = False
    # Written by the team and looked at while the training data grew: figures are optimistic.
    seen: bool = False


def with_typo_copy(key: str, writer: str, path: str, seen: bool = False) -> list[TestSet]:
    """An informal set and its copy with random typos (key `<key>-typos`), titled alike."""

    def title(extra: str) -> str:
        return f"dev: {writer}{extra} (seen)" if seen else f"held-out informal, {writer}{extra}"

    return [
        TestSet(key, title(""), path, seen=seen),
        TestSet(f"{key}-typos", title(", random typos"), path, typos=True, seen=seen),
    ]


TEST_SETS = [
    *with_typo_copy(
        "external-13", "thirteenth outside writer", "tests/nlu/heldout_external_13.yml"
    ),
    *with_typo_copy(
        "external-14", "fourteenth outside writer", "tests/nlu/heldout_external_14.yml"
    ),
    TestSet(
        "public-real-5", "real public questions, fifth collection", "tests/nlu/public_real_5.yml"
    ),
    # Headline sets of earlier runs: their misses were read and the training data grew
    # after them (new wording, not their messages), so they are development sets now.
    *with_typo_copy(
        "external-11", "eleventh outside writer", "tests/nlu/heldout_external_11.yml", seen=True
    ),
    *with_typo_copy(
        "external-12", "twelfth outside writer", "tests/nlu/heldout_external_12.yml", seen=True
    ),
    TestSet(
        "public-real-6",
        "dev: real public questions, sixth collection (seen)",
        "tests/nlu/public_real_6.yml",
        seen=True,
    ),
    *with_typo_copy(
        "external-9", "ninth outside writer", "tests/nlu/heldout_external_9.yml", seen=True
    ),
    *with_typo_copy(
        "external-10", "tenth outside writer", "tests/nlu/heldout_external_10.yml", seen=True
    ),
    *with_typo_copy(
        "external-7", "seventh outside writer", "tests/nlu/heldout_external_7.yml", seen=True
    ),
    *with_typo_copy(
        "external-8", "eighth outside writer", "tests/nlu/heldout_external_8.yml", seen=True
    ),
    TestSet(
        "public-real-4",
        "dev: real public questions, fourth collection (seen)",
        "tests/nlu/public_real_4.yml",
        seen=True,
    ),
    *with_typo_copy(
        "external-5", "fifth outside writer", "tests/nlu/heldout_external_5.yml", seen=True
    ),
    *with_typo_copy(
        "external-6", "sixth outside writer", "tests/nlu/heldout_external_6.yml", seen=True
    ),
    TestSet(
        "public-real-3",
        "dev: real public questions, third collection (seen)",
        "tests/nlu/public_real_3.yml",
        seen=True,
    ),
    *with_typo_copy(
        "external-3", "third outside writer", "tests/nlu/heldout_external_3.yml", seen=True
    ),
    *with_typo_copy(
        "external-4", "fourth outside writer", "tests/nlu/heldout_external_4.yml", seen=True
    ),
    *with_typo_copy(
        "external", "first outside writer", "tests/nlu/heldout_external.yml", seen=True
    ),
    *with_typo_copy(
        "external-2", "second outside writer", "tests/nlu/heldout_external_2.yml", seen=True
    ),
    TestSet(
        "public-real-2",
        "dev: real public questions, second collection (seen)",
        "tests/nlu/public_real_2.yml",
        seen=True,
    ),
    TestSet(
        "public-real",
        "dev: real public questions, first collection (seen)",
        "tests/nlu/public_real.yml",
        seen=True,
    ),
    *with_typo_copy("heldout", "team-written informal", "tests/nlu/heldout.yml", seen=True),
    TestSet(
        "public",
        "dev: team-written public-style questions (seen)",
        "tests/nlu/public_questions.yml",
        seen=True,
    ),
]
# The set whose per-intent table the report shows, and the sets the threshold table shows.
MAIN_SET = "external-13"
PUBLIC_SET = "public-real-5"


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


# ----------------------------------------------------------------------------- data


def load_examples(path: Path) -> list[Example]:
    """(text, intent) of every NLU example under `path` (file or folder)."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    return [
        (m.get("text"), m.get("intent"))
        for m in data.intent_examples
        if m.get("text") and m.get("intent")
    ]


def load_test_sets(seed: int) -> dict[str, Sequence[Example]]:
    """Every held-out set of TEST_SETS by key; typo copies get seeded random typos."""
    tests: dict[str, Sequence[Example]] = {}
    for test_set in TEST_SETS:
        examples = load_examples(ROOT / test_set.path)
        if test_set.typos:
            examples = [(add_typos(text, f"{seed}:{text}"), i) for text, i in examples]
        tests[test_set.key] = examples
    return tests


def training_overlaps(training: Sequence[Example], tests: dict[str, Sequence[Example]]) -> str:
    """How many messages of each clean held-out set also occur word for word in the training
    data (short small talk does: outside writers type `ok` too); the figures include them."""
    known = {text.strip().lower() for text, _ in training}
    counts = [
        f"{t.key} {sum(text.strip().lower() in known for text, _ in tests[t.key])}"
        f"/{len(tests[t.key])}"
        for t in TEST_SETS
        if not t.typos and t.key in tests
    ]
    return ", ".join(counts)


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


# ----------------------------------------------------------------------------- pipelines


def rasa_default_pipeline() -> list[dict[str, Any]]:
    """The pipeline Rasa 3.6 fills in when config.yml has none (as after `rasa init`).

    Only a random seed is added to its DIETClassifier, so that its figures do not move between
    runs (unseeded, they moved by 0.01-0.04 on the held-out sets).
    """
    import rasa.engine.recipes.default_recipe as recipe_module

    path = Path(recipe_module.__file__).parent / "config_files" / "default_config.yml"
    steps = list(yaml.safe_load(path.read_text(encoding="utf-8"))["pipeline"])
    return [
        {**step, "random_seed": DEFAULT_SEED} if step["name"] == "DIETClassifier" else step
        for step in steps
    ]


def without_normaliser(pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`pipeline` with Rasa's WhitespaceTokenizer in place of ours and no spelling corrector."""
    return [
        {"name": "WhitespaceTokenizer"} if step["name"] == OUR_TOKENIZER else dict(step)
        for step in without_spelling(pipeline)
    ]


def without_spelling(pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`pipeline` without the spelling corrector."""
    return [dict(step) for step in pipeline if step["name"] != SPELLING]


def with_option(
    pipeline: list[dict[str, Any]], component: str, option: str, value: Any
) -> list[dict[str, Any]]:
    """`pipeline` with one option of `component` set to `value`, every other step as it is."""
    return [
        {**step, option: value} if step["name"] == component else dict(step) for step in pipeline
    ]


def with_splitting(pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`pipeline` whose spelling corrector splits run-together words (off in config.yml)."""
    return with_option(pipeline, SPELLING, "split_words", True)


def without_variant_correction(pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`pipeline` whose spelling corrector does not correct misspelt informal spellings."""
    return with_option(pipeline, SPELLING, "correct_variants", False)


def without_chat_rules(pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`pipeline` whose normaliser has no chat rules (laughter, stretched last letter,
    remembered item)."""
    # The corrector normalises split parts and misspelt variants with the same settings.
    return with_option(
        with_option(pipeline, OUR_TOKENIZER, "chat_rules", False), SPELLING, "chat_rules", False
    )


def with_spacy_tokens(pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`pipeline` whose tokenizer splits words with spacy.blank("id") before normalising."""
    return with_option(pipeline, OUR_TOKENIZER, "base_tokenizer", "spacy")


def with_dense(pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`pipeline` with the sentence-encoder featurizer added just before the classifier."""
    result: list[dict[str, Any]] = []
    for step in pipeline:
        if step["name"] == "DIETClassifier":
            result.append({"name": DENSE_FEATURIZER})
        if step["name"] != DENSE_FEATURIZER:
            result.append(dict(step))
    return result


def fallback_thresholds(pipeline: Sequence[dict[str, Any]]) -> tuple[float, float]:
    """The FallbackClassifier's threshold and ambiguity threshold (Rasa's defaults if absent)."""
    for step in pipeline:
        if step["name"] == "FallbackClassifier":
            return float(step.get("threshold", 0.3)), float(step.get("ambiguity_threshold", 0.1))
    return 0.0, 0.0


def pipelines(
    ablations: bool, config: Path = ROOT / "config.yml"
) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(name, description, pipeline) of every pipeline to compare; ours comes from `config`."""
    ours = yaml.safe_load(config.read_text(encoding="utf-8"))["pipeline"]
    result = [
        ("rasa-default", "Rasa 3.6 default pipeline (`rasa init`)", rasa_default_pipeline()),
        (
            "ours-no-normaliser",
            "config.yml with WhitespaceTokenizer, no spelling corrector",
            without_normaliser(ours),
        ),
        ("ours", "config.yml", ours),
    ]
    if ablations:
        result += [
            (
                "ours-spacy-tokens",
                "config.yml, spaCy `id` tokenizer under the normaliser",
                with_spacy_tokens(ours),
            ),
            (
                "ours-with-dense",
                "config.yml plus the sentence-encoder features (512-d USE)",
                with_dense(ours),
            ),
            (
                "ours-no-spelling",
                "config.yml without the spelling corrector",
                without_spelling(ours),
            ),
            (
                "ours-with-split",
                "config.yml, run-together words split into training words",
                with_splitting(ours),
            ),
            (
                "ours-no-chat-rules",
                "config.yml, normaliser without laughter, stretched-letter "
                "and remembered-item rules",
                without_chat_rules(ours),
            ),
            (
                "ours-no-variants",
                "config.yml, misspelt informal spellings (`amkasih`) not corrected",
                without_variant_correction(ours),
            ),
        ]
    return result


# ----------------------------------------------------------------------------- train + parse


def train(
    pipeline: list[dict[str, Any]], examples: Sequence[Example], workdir: Path
) -> tuple[Any, float]:
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


# One model of a pipeline's evaluation: a CV fold (its index) or the model on all data (FULL).
FULL = "full"
Unit = Any  # int | FULL


def units_of(folds: int, tests: dict[str, Sequence[Example]]) -> list[Unit]:
    """The models a pipeline's evaluation trains: one per fold, then (with held-out sets) the
    model on all data."""
    return [*range(folds), *([FULL] if tests else [])]


def evaluate_unit(
    name: str,
    pipeline: list[dict[str, Any]],
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
    pipeline: list[dict[str, Any]],
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
    pipeline: list[dict[str, Any]],
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


# ----------------------------------------------------------------------------- report


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    cpu = cpu_model()
    import rasa

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "status",
                "--porcelain",
                "--",
                "config.yml",
                "data",
                "lpse_assist/nlu",
                "tests/nlu",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        commit, dirty = "unknown", ""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return {
        "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": cpu,
        "nproc": str(os.cpu_count()),
        "load average at start": f"{load:.2f}",
        "python": platform.python_version(),
        "rasa": rasa.__version__,
        "git": commit + (" (with uncommitted NLU changes)" if dirty else ""),
    }


def pct(value: float) -> str:
    """0.9512 -> 0.951."""
    return f"{value:.3f}"


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sequence (0 if empty)."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[index]


SET_TITLES = {"cv": "k-fold CV on data/nlu", **{t.key: t.title for t in TEST_SETS}}
# Figures compared between ours and Rasa's default: (name, attribute, higher is better).
HEADLINE_METRICS = [
    ("accuracy", "accuracy", True),
    ("macro-F1", "macro_f1", True),
    ("OOS false-accept", "oos_false_accept", False),
]
# The targets for ours: (set, metric attribute, minimum).
GOALS = [
    ("external-13", "accuracy", 0.95),
    ("external-13", "macro_f1", 0.95),
    ("external-14", "accuracy", 0.95),
    ("external-14", "macro_f1", 0.95),
    ("public-real-5", "accuracy", 0.85),
]


def scores_of(result: PipelineResult) -> dict[str, Scores]:
    """Scores of every data set of `result` under its own fallback thresholds."""
    return {
        name: score(predictions, result.threshold, result.ambiguity)
        for name, predictions in result.predictions.items()
    }


def metric_table(results: Sequence[PipelineResult], attribute: str) -> list[str]:
    """One row per pipeline, one column per data set."""
    sets = [k for k in SET_TITLES if any(k in r.predictions for r in results)]
    lines = ["| pipeline | " + " | ".join(f"`{k}`" for k in sets) + " |"]
    lines.append("|---|" + "---|" * len(sets))
    for result in results:
        scores = scores_of(result)
        cells = [pct(getattr(scores[k], attribute)) if k in scores else "–" for k in sets]
        lines.append(f"| {result.name} | " + " | ".join(cells) + " |")
    return lines


def comparison(ours: PipelineResult, default: PipelineResult) -> list[tuple[str, str, str]]:
    """(set, metric, outcome) of ours against Rasa's default on every headline figure."""
    mine, theirs = scores_of(ours), scores_of(default)
    rows = []
    for set_name in SET_TITLES:
        if set_name not in mine or set_name not in theirs:
            continue
        for label, attribute, higher in HEADLINE_METRICS:
            if attribute == "oos_false_accept" and not mine[set_name].oos_n:
                continue
            a, b = getattr(mine[set_name], attribute), getattr(theirs[set_name], attribute)
            rows.append((set_name, label, f"{winner(a, b, higher)} ({pct(a)} vs {pct(b)})"))
    return rows


def winner(ours: float, default: float, higher: bool) -> str:
    """'ours', 'tie' or 'default': whose figure is better (equal to three decimals: a tie)."""
    if round(ours, 3) == round(default, 3):
        return "tie"
    return "ours" if (ours > default) == higher else "default"


def tally(rows: Sequence[tuple[str, str, str]]) -> str:
    """'better on 7 of 9; tie on ...; worse on ...' for comparison rows."""
    parts = [f"better on {sum(o.startswith('ours') for _, _, o in rows)} of {len(rows)}"]
    for outcome, word in (("tie", "tie on"), ("default", "worse on")):
        matching = [f"{SET_TITLES[s]} {m}: {o}" for s, m, o in rows if o.startswith(outcome)]
        if matching:
            parts.append(f"{word} {len(matching)}: " + "; ".join(matching))
    return "; ".join(parts)


def goals_section(results: Sequence[PipelineResult]) -> list[str]:
    """The issue's targets, checked on this run's figures."""
    ours = next((r for r in results if r.name == "ours"), None)
    default = next((r for r in results if r.name == "rasa-default"), None)
    if ours is None:
        return []
    lines = ["## Against the goals (this run)", ""]
    mine = scores_of(ours)
    for set_name, attribute, minimum in GOALS:
        if set_name not in mine:
            continue
        value = getattr(mine[set_name], attribute)
        verdict = "met" if value >= minimum else "NOT met"
        lines.append(
            f"- ours, {SET_TITLES[set_name]}: {attribute.replace('_', '-')} {pct(value)} "
            f"(goal ≥ {minimum}): {verdict}"
        )
    if default is not None:
        rows = comparison(ours, default)
        seen = {t.key for t in TEST_SETS if t.seen}
        headline = [r for r in rows if r[0] not in seen]
        lines.append(
            "- ours against Rasa's default on the headline figures (CV and the sets nobody on "
            "the team had seen): " + tally(headline)
        )
        dev = [r for r in rows if r[0] in seen]
        if dev:
            lines.append("- on the development sets (seen): " + tally(dev))
    lines.append("")
    return lines


def render_report(
    results: Sequence[PipelineResult],
    info: dict[str, str],
    folds: int,
    seed: int,
    sizes: dict[str, int],
    notes: str,
) -> str:
    """The markdown report."""
    lines: list[str] = ["# NLU evaluation report", ""]
    lines.append("Generated by `make eval` (`eval/run.py`); do not edit by hand.")
    lines.append("")
    for key, value in info.items():
        lines.append(f"- {key}: {value}")
    lines.append(f"- folds: {folds} (stratified by intent, seed {seed}); typo seed {seed}")
    lines.append(
        "- data: " + ", ".join(f"{SET_TITLES.get(k, k)}: {v} examples" for k, v in sizes.items())
    )
    lines.append("")
    lines.append(
        "Scoring: an out-of-scope message counts as right when it gets `out_of_scope` or the "
        "fallback (`nlu_fallback`); an in-scope message that gets the fallback counts as wrong. "
        "OOS false-accept = share of out-of-scope messages that got an in-scope intent (the bot "
        "would answer them wrongly). Each pipeline uses its own FallbackClassifier thresholds. "
        "Sets marked *dev* were written by the team, or were headline sets of an earlier run "
        "whose misses were read; the training data grew while they were looked at. The others "
        "had never been seen when the pipeline and the training data were fixed."
    )
    lines.append("")
    lines.extend(goals_section(results))
    lines.append("## Headline figures")
    lines.append("")
    lines.append(
        "Columns: "
        + "; ".join(f"`{k}` {title}" for k, title in SET_TITLES.items() if k in sizes)
        + "."
    )
    lines.append("")
    for title, attribute in [
        ("Accuracy", "accuracy"),
        ("Macro-F1", "macro_f1"),
        ("Out-of-scope false-accept (lower is better)", "oos_false_accept"),
        ("In-scope messages sent to the fallback (lower is better)", "in_scope_fallback"),
    ]:
        lines.append(f"### {title}")
        lines.append("")
        lines.extend(metric_table(results, attribute))
        lines.append("")
    lines.append("## Speed (this harness, in-process)")
    lines.append("")
    lines.append(
        "| pipeline | fallback threshold / ambiguity | NLU train per fold (s) "
        "| NLU train, all data (s) | parse p50 (ms) | parse p95 (ms) |"
    )
    lines.append("|---|---|---|---|---|---|")
    for result in results:
        lines.append(
            f"| {result.name} | {result.threshold} / {result.ambiguity} | "
            f"{median(result.fold_train_seconds):.0f} | {result.full_train_seconds:.0f} | "
            f"{median(result.parse_ms):.1f} | {percentile(result.parse_ms, 95):.1f} |"
        )
    lines.append("")
    lines.append(
        "Full `rasa train` (NLU + dialogue policies) and parse latency on the trained model: "
        "`bench/nlu_speed.py`."
    )
    lines.append("")
    ours = next((r for r in results if r.name == "ours"), None)
    if ours is not None:
        lines.extend(threshold_section(ours))
        lines.extend(per_intent_section(ours, MAIN_SET))
    lines.append("## Confusions (gold -> predicted, count)")
    lines.append("")
    for result in results:
        for set_name in (MAIN_SET, PUBLIC_SET, "cv"):
            if set_name not in result.predictions:
                continue
            s = score(result.predictions[set_name], result.threshold, result.ambiguity)
            shown = ", ".join(f"{g} -> {p} ({c})" for g, p, c in s.confusions[:12]) or "none"
            more = f" … and {len(s.confusions) - 12} more pairs" if len(s.confusions) > 12 else ""
            lines.append(f"- **{result.name}**, {SET_TITLES[set_name]}: {shown}{more}")
    lines.append("")
    if ours is not None:
        lines.extend(errors_section(ours))
    if notes:
        lines.append(notes.strip())
        lines.append("")
    return "\n".join(lines)


def threshold_section(ours: PipelineResult) -> list[str]:
    """Trade-off table of fallback thresholds, chosen on CV predictions only."""
    grid = threshold_grid(ours.predictions["cv"], THRESHOLDS, AMBIGUITIES)
    best_t, best_a, _ = choose_thresholds(grid)
    lines = ["## Fallback thresholds (ours)", ""]
    lines.append(
        "Chosen on the cross-validation predictions only (best macro-F1 averaged over the "
        "cell and its grid neighbours, so that a lucky cell on a flat surface does not win; "
        "then macro-F1, accuracy, fewer OOS false accepts, fewer in-scope fallbacks); the "
        "held-out columns show "
        "what each choice does on data "
        f"that played no part in the choice. Best on CV: threshold **{best_t}**, ambiguity "
        f"**{best_a}**; config.yml has {ours.threshold} / {ours.ambiguity}."
    )
    lines.append("")
    lines.append(
        "| threshold | ambiguity | CV acc | CV macro-F1 | CV OOS false-accept "
        f"| CV in-scope fallback | {SET_TITLES[MAIN_SET]} acc | {SET_TITLES[PUBLIC_SET]} acc "
        f"| {SET_TITLES[PUBLIC_SET]} OOS false-accept |"
    )
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for threshold, ambiguity, cv in grid:
        if ambiguity not in (0.0, 0.1, 0.2) and (threshold, ambiguity) != (best_t, best_a):
            continue
        held = score(ours.predictions.get(MAIN_SET, []), threshold, ambiguity)
        public = score(ours.predictions.get(PUBLIC_SET, []), threshold, ambiguity)
        mark = " **←**" if (threshold, ambiguity) == (ours.threshold, ours.ambiguity) else ""
        lines.append(
            f"| {threshold}{mark} | {ambiguity} | {pct(cv.accuracy)} | {pct(cv.macro_f1)} | "
            f"{pct(cv.oos_false_accept)} | {pct(cv.in_scope_fallback)} | {pct(held.accuracy)} | "
            f"{pct(public.accuracy)} | {pct(public.oos_false_accept)} |"
        )
    lines.append("")
    lines.append("**←** marks the thresholds in config.yml.")
    lines.append("")
    return lines


def per_intent_section(result: PipelineResult, set_name: str) -> list[str]:
    """Precision/recall/F1 per intent for one data set."""
    s = score(result.predictions[set_name], result.threshold, result.ambiguity)
    lines = [f"## Per intent: {result.name}, {SET_TITLES[set_name]}", ""]
    lines.append("| intent | precision | recall | F1 | support |")
    lines.append("|---|---|---|---|---|")
    for intent, (p, r, f1, n) in s.per_intent.items():
        lines.append(f"| {intent} | {pct(p)} | {pct(r)} | {pct(f1)} | {n} |")
    lines.append("")
    return lines


def errors_section(result: PipelineResult) -> list[str]:
    """Every message of the headline sets that ours gets wrong (they are few, and telling)."""
    lines = ["## Messages ours gets wrong (held-out sets)", ""]
    for test_set in TEST_SETS:
        wrong = []
        for p in result.predictions.get(test_set.key, []):
            label = p.label(result.threshold, result.ambiguity)
            if scored_label(p.gold, label) != p.gold:
                wrong.append(f"- `{p.text}` — {p.gold} → {label} ({p.top} {p.top_confidence:.2f})")
        lines.append(f"**{test_set.title}**: {len(wrong)} wrong")
        lines.append("")
        lines.extend(wrong[:40])
        if len(wrong) > 40:
            lines.append(f"- … {len(wrong) - 40} more")
        lines.append("")
    return lines


def print_summary(results: Sequence[PipelineResult]) -> None:
    """Headline figures on stdout."""
    print()
    print(f"{'pipeline':<20} {'data':<17} {'acc':>6} {'macroF1':>8} {'OOS-FA':>7} {'fallbk':>7}")
    for result in results:
        for set_name, predictions in result.predictions.items():
            s = score(predictions, result.threshold, result.ambiguity)
            print(
                f"{result.name:<20} {set_name:<17} {s.accuracy:6.3f} {s.macro_f1:8.3f} "
                f"{s.oos_false_accept:7.3f} {s.in_scope_fallback:7.3f}"
            )
        print(
            f"{result.name:<20} train/fold {median(result.fold_train_seconds):.0f}s, "
            f"parse p50 {median(result.parse_ms):.1f} ms"
        )
    ours = next((r for r in results if r.name == "ours"), None)
    if ours is not None:
        t, a, s = choose_thresholds(threshold_grid(ours.predictions["cv"], THRESHOLDS, AMBIGUITIES))
        print(
            f"\nthresholds best on CV for ours: {t} / {a} (CV macro-F1 {s.macro_f1:.3f}); "
            f"config.yml: {ours.threshold} / {ours.ambiguity}"
        )


# ----------------------------------------------------------------------------- main


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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
    args = parser.parse_args(argv)
    quiet_logs()
    if args.rescore:
        return rescore(Path(args.json), Path(args.report), Path(args.notes))
    if args.cv_only:
        return cv_only(args)

    training = load_examples(ROOT / "data" / "nlu")
    tests = load_test_sets(args.seed)
    sizes = {"cv": len(training), **{k: len(v) for k, v in tests.items()}}
    info = machine()
    info["held-out messages also in the training data, word for word"] = training_overlaps(
        training, tests
    )
    json_path = Path(args.json)
    done = resumable(json_path, info, args.folds, args.seed, sizes) if args.resume else {}
    chosen = chosen_pipelines(args)
    finished: dict[str, PipelineResult] = {}
    for name, _, _ in chosen:
        if name in done:
            print(f"[{name}] kept from {json_path}", flush=True)
            finished[name] = done[name]
    todo = [
        (name, description, pipeline) for name, description, pipeline in chosen if name not in done
    ]

    def keep(result: PipelineResult) -> None:
        # After every pipeline: a crash or a stop later loses nothing (see --resume).
        finished[result.name] = result
        save_results(
            json_path,
            info,
            args.folds,
            args.seed,
            sizes,
            [finished[n] for n, _, _ in chosen if n in finished],
        )

    with tempfile.TemporaryDirectory(prefix="lpse-eval-") as tmp:
        if args.jobs > 1 and todo:
            run_in_processes(todo, training, tests, args, Path(tmp), keep)
        else:
            for name, description, pipeline in todo:
                keep(
                    evaluate_pipeline(
                        name,
                        description,
                        pipeline,
                        training,
                        tests,
                        args.folds,
                        args.seed,
                        Path(tmp),
                    )
                )
    results = [finished[name] for name, _, _ in chosen]
    print_summary(results)
    notes_path = Path(args.notes)
    notes = notes_path.read_text(encoding="utf-8") if notes_path.exists() else ""
    report = render_report(results, info, args.folds, args.seed, sizes, notes)
    Path(args.report).parent.mkdir(parents=True, exist_ok=True)
    Path(args.report).write_text(report + "\n", encoding="utf-8")
    print(f"\nreport: {args.report}")
    return 0


def _evaluate_unit_in_worker(
    name: str,
    pipeline: list[dict[str, Any]],
    training: Sequence[Example],
    tests: dict[str, Sequence[Example]],
    folds: int,
    seed: int,
    unit: Unit,
    workdir: str,
) -> dict[str, Any]:
    """`evaluate_unit` in a worker process."""
    quiet_logs()
    return evaluate_unit(name, pipeline, training, tests, folds, seed, unit, Path(workdir))


def run_in_processes(
    todo: Sequence[tuple[str, str, list[dict[str, Any]]]],
    training: Sequence[Example],
    tests: dict[str, Sequence[Example]],
    args: argparse.Namespace,
    workdir: Path,
    keep: Callable[[PipelineResult], None],
) -> None:
    """Evaluate `todo` with `args.jobs` worker processes; `keep` gets each pipeline's result
    as soon as its last model is done. The unit of work is one model (a fold, or the full
    model), not a pipeline: the slow default pipeline's folds then train side by side instead
    of one after the other. Results do not depend on the order: every model has a fixed seed
    and its own folder."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    pipelines_by_name = {name: (description, pipeline) for name, description, pipeline in todo}
    parts: dict[str, dict[Unit, dict[str, Any]]] = {name: {} for name in pipelines_by_name}
    units = units_of(args.folds, tests)
    context = multiprocessing.get_context("spawn")  # TensorFlow does not survive fork
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=context) as pool:
        # Submitted in the order given (longest-running pipeline first).
        futures = {
            pool.submit(
                _evaluate_unit_in_worker,
                name,
                pipeline,
                training,
                tests,
                args.folds,
                args.seed,
                unit,
                str(workdir / name),
            ): (name, unit)
            for name, _, pipeline in todo
            for unit in units
        }
        for future in as_completed(futures):
            name, unit = futures[future]
            parts[name][unit] = future.result()
            if len(parts[name]) == len(units):
                description, pipeline = pipelines_by_name[name]
                keep(assemble(name, description, pipeline, parts[name], args.folds))


def chosen_pipelines(
    args: argparse.Namespace,
) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """The pipelines of this run: with --ablations or not, from --config, kept by --only."""
    return [
        (name, description, pipeline)
        for name, description, pipeline in pipelines(args.ablations, Path(args.config))
        if not args.only or name in args.only
    ]


def cv_only(args: argparse.Namespace) -> int:
    """Cross-validate the chosen pipelines and print their figures: how a pipeline or
    threshold choice is made without looking at the held-out sets."""
    training = load_examples(ROOT / "data" / "nlu")
    chosen = chosen_pipelines(args)
    finished: dict[str, PipelineResult] = {}
    with tempfile.TemporaryDirectory(prefix="lpse-eval-cv-") as tmp:
        if args.jobs > 1:
            run_in_processes(
                chosen,
                training,
                {},
                args,
                Path(tmp),
                lambda result: finished.__setitem__(result.name, result),
            )
        else:
            for name, description, pipeline in chosen:
                finished[name] = evaluate_pipeline(
                    name, description, pipeline, training, {}, args.folds, args.seed, Path(tmp)
                )
    print_summary([finished[name] for name, _, _ in chosen])
    return 0


def save_results(
    path: Path,
    info: dict[str, str],
    folds: int,
    seed: int,
    sizes: dict[str, int],
    results: Sequence[PipelineResult],
) -> None:
    """All predictions and timings, for --rescore and --resume."""
    path.parent.mkdir(parents=True, exist_ok=True)
    saved = {
        "info": info,
        "folds": folds,
        "seed": seed,
        "sizes": sizes,
        "results": [result_to_dict(r) for r in results],
    }
    path.write_text(json.dumps(saved, ensure_ascii=False), encoding="utf-8")


def result_to_dict(result: PipelineResult) -> dict[str, Any]:
    """One pipeline's result as JSON-ready data (`load_results` reads it back)."""
    return {
        **asdict(result),
        "predictions": {k: [asdict(p) for p in v] for k, v in result.predictions.items()},
    }


def load_results(saved: dict[str, Any]) -> list[PipelineResult]:
    """PipelineResults from what `save_results` wrote."""
    results = []
    for raw in saved["results"]:
        result = PipelineResult(**{**raw, "predictions": {}})
        result.predictions = {
            k: [Prediction(**p) for p in v] for k, v in raw["predictions"].items()
        }
        results.append(result)
    return results


def resumable(
    path: Path, info: dict[str, str], folds: int, seed: int, sizes: dict[str, int]
) -> dict[str, PipelineResult]:
    """Pipelines of an earlier run that can be reused: same commit (no uncommitted NLU change),
    folds, seed and data sizes; else nothing."""
    if not path.exists():
        return {}
    saved = json.loads(path.read_text(encoding="utf-8"))
    same = (
        saved["info"].get("git") == info["git"]
        and "uncommitted" not in info["git"]
        and saved["folds"] == folds
        and saved["seed"] == seed
        and saved["sizes"] == sizes
    )
    if not same:
        print(f"{path}: another commit, data or options; training everything", flush=True)
        return {}
    return {result.name: result for result in load_results(saved)}


def rescore(saved_path: Path, report_path: Path, notes_path: Path) -> int:
    """Re-render the report from saved predictions with config.yml's current thresholds."""
    saved = json.loads(saved_path.read_text(encoding="utf-8"))
    current = {name: fallback_thresholds(pipeline) for name, _, pipeline in pipelines(True)}
    results = load_results(saved)
    for result in results:
        result.threshold, result.ambiguity = current.get(
            result.name, (result.threshold, result.ambiguity)
        )
    print_summary(results)
    info = {
        **saved["info"],
        "re-scored": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
        + " with config.yml's thresholds (no retraining)",
    }
    notes = notes_path.read_text(encoding="utf-8") if notes_path.exists() else ""
    report = render_report(results, info, saved["folds"], saved["seed"], saved["sizes"], notes)
    report_path.write_text(report + "\n", encoding="utf-8")
    print(f"\nreport: {report_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
