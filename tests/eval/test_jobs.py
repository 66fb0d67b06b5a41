"""`--jobs`: models trained in worker processes (a fold or a full model each) give what one
process gives."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.results import PipelineResult
from eval.training import evaluate_pipeline, run_all

TRAINING = [
    (text, intent)
    for intent, texts in {
        "greet": ["halo", "hai min", "selamat pagi", "pagi kak", "assalamualaikum", "halo admin"],
        "thank": ["makasih", "terima kasih", "thanks min", "trims", "makasih banyak", "tks"],
        "login_problem": [
            "gak bisa login",
            "gagal masuk lpse",
            "login spse gagal",
            "tidak bisa login",
            "akun gagal login",
            "login error terus",
        ],
    }.items()
    for text in texts
]
TESTS: dict[str, Sequence[tuple[str, str]]] = {
    "small": [("halo kak", "greet"), ("makasih ya", "thank"), ("gagal login", "login_problem")]
}


def tiny(seed: int) -> list[dict[str, Any]]:
    """A pipeline that trains in seconds."""
    return [
        {"name": "WhitespaceTokenizer"},
        {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 3},
        {
            "name": "DIETClassifier",
            "epochs": 2,
            "random_seed": seed,
            "number_of_transformer_layers": 0,
            "entity_recognition": False,
        },
    ]


def test_worker_processes_give_the_same_predictions(tmp_path: Path) -> None:
    todo = [("a", "first", tiny(1)), ("b", "second", tiny(2))]
    parallel: dict[str, PipelineResult] = {}
    run_all(
        todo, TRAINING, TESTS, 2, 3, 2, tmp_path / "jobs", lambda r: parallel.__setitem__(r.name, r)
    )
    assert set(parallel) == {"a", "b"}
    for name, description, pipeline in todo:
        alone = evaluate_pipeline(
            name, description, pipeline, TRAINING, TESTS, 2, 3, tmp_path / "alone"
        )
        assert parallel[name].description == description
        for key in ("cv", "small"):
            got = [(p.text, p.top) for p in parallel[name].predictions[key]]
            assert got == [(p.text, p.top) for p in alone.predictions[key]], (name, key)
            assert len(got) == (len(TRAINING) if key == "cv" else len(TESTS["small"]))


def test_a_decision_run_splits_one_pipeline_over_workers(tmp_path: Path) -> None:
    """--cv-only with --jobs: no held-out sets, so only folds, assembled in fold order."""
    parallel: list[PipelineResult] = []
    run_all([("a", "first", tiny(1))], TRAINING, {}, 3, 3, 2, tmp_path / "jobs", parallel.append)
    alone = evaluate_pipeline("a", "first", tiny(1), TRAINING, {}, 3, 3, tmp_path / "alone")
    assert len(parallel) == 1 and set(parallel[0].predictions) == {"cv"}
    assert [(p.text, p.top) for p in parallel[0].predictions["cv"]] == [
        (p.text, p.top) for p in alone.predictions["cv"]
    ]
    assert len(parallel[0].fold_train_seconds) == 3 and parallel[0].full_train_seconds == 0.0
