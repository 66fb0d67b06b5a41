"""Scoring rules of the evaluation harness."""

from __future__ import annotations

from eval.metrics import (
    FALLBACK,
    OUT_OF_SCOPE,
    Prediction,
    Scores,
    add_typos,
    choose_thresholds,
    neighbourhood_f1,
    score,
    stratified_folds,
    threshold_grid,
)


def prediction(gold: str, top: str, confidence: float, second: float = 0.0) -> Prediction:
    return Prediction(
        text="x", gold=gold, top=top, top_confidence=confidence, second_confidence=second
    )


def test_fallback_rule_matches_rasa() -> None:
    assert prediction("a", "a", 0.49).label(0.5, 0.1) == FALLBACK
    assert prediction("a", "a", 0.5).label(0.5, 0.1) == "a"
    assert prediction("a", "a", 0.55, 0.5).label(0.5, 0.1) == FALLBACK


def test_fallback_is_right_for_out_of_scope_and_wrong_in_scope() -> None:
    scores = score(
        [
            prediction(OUT_OF_SCOPE, "login_problem", 0.3),  # fallback: right
            prediction(OUT_OF_SCOPE, "login_problem", 0.9),  # false accept
            prediction("login_problem", "login_problem", 0.3),  # fallback: wrong
            prediction("login_problem", "login_problem", 0.9),
        ],
        threshold=0.5,
        ambiguity=0.0,
    )
    assert scores.accuracy == 0.5
    assert scores.oos_false_accept == 0.5
    assert scores.in_scope_fallback == 0.5
    assert ("login_problem", FALLBACK, 1) in scores.confusions


def test_macro_f1_averages_over_gold_intents() -> None:
    scores = score(
        [prediction("a", "a", 1.0), prediction("b", "a", 1.0)], threshold=0.0, ambiguity=0.0
    )
    # a: precision 0.5, recall 1 -> F1 2/3; b: F1 0.
    assert abs(scores.macro_f1 - (2 / 3) / 2) < 1e-9


def test_typos_are_seeded_and_change_the_text() -> None:
    text = "saya tidak bisa login ke spse"
    assert add_typos(text, "s") == add_typos(text, "s")
    assert add_typos(text, "s") != text
    assert add_typos("gk bs", "s") == "gk bs"  # no word of three letters: left alone


def test_folds_are_stratified_and_cover_everything() -> None:
    examples = [(f"t{i}", "a" if i % 3 else "b") for i in range(30)]
    folds = stratified_folds(examples, 3, seed=1)
    assert sorted(i for fold in folds for i in fold) == list(range(30))
    for fold in folds:
        assert sum(1 for i in fold if examples[i][1] == "b") in (3, 4)


def test_threshold_choice_prefers_macro_f1() -> None:
    predictions = [
        prediction(OUT_OF_SCOPE, "a", 0.4),
        prediction("a", "a", 0.8),
        prediction("a", "a", 0.6),
    ]
    grid = threshold_grid(predictions, [0.3, 0.5, 0.55, 0.6, 0.7], [0.0])
    threshold, _, best = choose_thresholds(grid)
    assert threshold == 0.55
    assert best.accuracy == 1.0


def test_threshold_choice_prefers_a_good_region_to_a_lone_peak() -> None:
    def cell(threshold: float, macro_f1: float):  # type: ignore[no-untyped-def]
        return (
            threshold,
            0.0,
            Scores(
                n=1,
                accuracy=macro_f1,
                macro_f1=macro_f1,
                oos_n=0,
                oos_false_accept=0.0,
                in_scope_fallback=0.0,
                per_intent={},
                confusions=[],
            ),
        )

    # 0.3 is the single best cell, but 0.6 sits in the middle of a plateau that is almost as good.
    grid = [
        cell(0.2, 0.80),
        cell(0.3, 0.87),
        cell(0.4, 0.80),
        cell(0.5, 0.85),
        cell(0.6, 0.86),
        cell(0.7, 0.84),
    ]
    assert neighbourhood_f1(grid)[(0.6, 0.0)] > neighbourhood_f1(grid)[(0.3, 0.0)]
    threshold, _, _ = choose_thresholds(grid)
    assert threshold == 0.6
