"""The seed check retrains with the seed it is given and only calls ours better when it is."""

from __future__ import annotations

import json

from eval.metrics import Prediction, Scores, score
from eval.pipelines import pipelines, with_seed
from eval.provider_figures import figures
from eval.results import result_from_dict
from eval.seeds import compare, headline_tests, run_json
from eval.sets import read_manifest


def test_with_seed_changes_only_diets_seed() -> None:
    ours = dict((n, p) for n, _, p in pipelines(False))["ours"]
    seeded = with_seed(ours, 7)
    assert [s for s in seeded if s["name"] == "DIETClassifier"][0]["random_seed"] == 7
    assert [s for s in seeded if s["name"] != "DIETClassifier"] == [
        s for s in ours if s["name"] != "DIETClassifier"
    ]
    assert [s for s in ours if s["name"] == "DIETClassifier"][0]["random_seed"] == 1


def test_only_the_unseen_sets_are_checked() -> None:
    keys = set(headline_tests(42))
    assert keys == {t.key for t in read_manifest().sets if not t.seen}
    assert any(k.endswith("-typos") for k in keys)


def test_all_sets_adds_the_dev_sets() -> None:
    manifest = read_manifest()
    keys = set(headline_tests(42, all_sets=True))
    seen = {t.key for t in manifest.sets if t.seen}
    assert seen and seen <= keys
    assert {t.key for t in manifest.sets if not t.seen} <= keys


def test_a_seeds_json_reads_like_an_eval_run() -> None:
    """provider_figures counts a seed's saved predictions with the thresholds saved with them."""
    predictions = {
        "external-19": [
            Prediction("a", "forgot_password", "forgot_password", 0.9, 0.0),
            Prediction("b", "login_problem", "login_problem", 0.35, 0.0),  # under 0.4: fallback
            Prediction("c", "out_of_scope", "register_account", 0.8, 0.1),
            Prediction("d", "out_of_scope", "out_of_scope", 0.8, 0.1),
        ]
    }
    run = json.loads(json.dumps(run_json("ours", 0.4, 0.05, predictions)))
    assert result_from_dict(run["results"][0]).predictions == predictions  # make eval's format
    lines = figures(run)
    assert lines[0] == "thresholds 0.4 / 0.05"
    assert "external-19: old in-scope 1/2" in lines[1]
    assert "FAQ topics 1/2" in lines[1]
    assert "OOS false-accept 1/2 = 0.500 (to a new intent 1)" in lines[1]


def scores(right: int, oos_right: int) -> dict[str, Scores]:
    """One set of 4 in-scope and 2 out-of-scope messages, `right` and `oos_right` correct."""
    preds = [Prediction("m", "greet", "greet" if i < right else "deny", 0.9, 0.0) for i in range(4)]
    preds += [
        Prediction("o", "out_of_scope", "out_of_scope" if i < oos_right else "greet", 0.9, 0.0)
        for i in range(2)
    ]
    return {"external-13": score(preds, 0.3, 0.0)}


def test_ours_is_better_only_when_every_pairing_says_so() -> None:
    runs: dict[tuple[str, int], dict[str, Scores]] = {
        ("ours", 1): scores(4, 2),
        ("ours", 2): scores(3, 2),
        ("rasa-default", 1): scores(4, 1),
        ("rasa-default", 2): scores(2, 1),
    }
    rows = {(s, m): (a, b, v) for s, m, a, b, v in compare(runs)}
    # Ours' worse seed (5 of 6 right) ties the default's better one (5 of 6): not every pairing.
    assert rows[("external-13", "accuracy")] == (
        "0.833-1.000",
        "0.500-0.833",
        "ours in 3 of 4 pairings",
    )
    assert rows[("external-13", "OOS false-accept")] == (
        "0.000-0.000",
        "0.500-0.500",
        "ours in every pairing",
    )
