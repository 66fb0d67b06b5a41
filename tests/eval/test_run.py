"""The harness compares the right pipelines, on the right sets, and reports the goals honestly."""

from __future__ import annotations

from collections.abc import Sequence

from eval.metrics import Prediction
from eval.pipelines import (
    DENSE_FEATURIZER,
    OUR_TOKENIZER,
    SPELLING,
    pipelines,
    rasa_default_pipeline,
)
from eval.report import comparison, goals_section, render_report
from eval.results import PipelineResult, Run
from eval.sets import load_test_sets, read_manifest

MANIFEST = read_manifest()
TEST_SETS = MANIFEST.sets
MAIN_SET = MANIFEST.main
SET_TITLES = MANIFEST.titles


def names(pipeline: list[dict[str, object]]) -> list[object]:
    return [step["name"] for step in pipeline]


def test_the_compared_pipelines_differ_only_where_their_names_say() -> None:
    compared = {name: pipeline for name, _, pipeline in pipelines(ablations=True)}
    ours = names(compared["ours"])
    assert OUR_TOKENIZER in ours and SPELLING in ours and DENSE_FEATURIZER not in ours
    no_normaliser = names(compared["ours-no-normaliser"])
    assert no_normaliser[0] == "WhitespaceTokenizer"
    assert SPELLING not in no_normaliser
    assert no_normaliser[1:] == [n for n in ours[1:] if n != SPELLING]
    assert names(compared["ours-no-spelling"]) == [n for n in ours if n != SPELLING]
    with_dense = names(compared["ours-with-dense"])
    diet = ours.index("DIETClassifier")
    assert with_dense == ours[:diet] + [DENSE_FEATURIZER] + ours[diet:]
    # After the classifier: the other-system guard, then the fallback on its result.
    assert ours[diet:] == [
        "DIETClassifier",
        "lpse_assist.nlu.other_system.OtherSystemGuard",
        "FallbackClassifier",
    ]
    spacy = compared["ours-spacy-tokens"][0]
    assert spacy["name"] == OUR_TOKENIZER and spacy["base_tokenizer"] == "spacy"
    # These ablations change one option and nothing else (chat rules: on the tokenizer and on
    # the corrector, which normalises split parts with the same settings).
    for name, option, value, components in (
        ("ours-with-split", "split_words", True, {SPELLING}),
        ("ours-no-chat-rules", "chat_rules", False, {OUR_TOKENIZER, SPELLING}),
        ("ours-no-variants", "correct_variants", False, {SPELLING}),
    ):
        changed = [(a, b) for a, b in zip(compared["ours"], compared[name], strict=True) if a != b]
        assert {after["name"] for _, after in changed} == components, name
        for before, after in changed:
            assert after[option] is value
            assert {k: v for k, v in after.items() if k != option} == {
                k: v for k, v in before.items() if k != option
            }


def test_rasa_default_is_rasas_pipeline_with_only_a_seed_added() -> None:
    default = rasa_default_pipeline()
    assert names(default) == [
        "WhitespaceTokenizer",
        "RegexFeaturizer",
        "LexicalSyntacticFeaturizer",
        "CountVectorsFeaturizer",
        "CountVectorsFeaturizer",
        "DIETClassifier",
        "EntitySynonymMapper",
        "ResponseSelector",
        "FallbackClassifier",
    ]
    diet = next(step for step in default if step["name"] == "DIETClassifier")
    assert diet == {
        "name": "DIETClassifier",
        "epochs": 100,
        "constrain_similarities": True,
        "random_seed": 1,
    }


def test_held_out_sets_load_and_typo_copies_really_differ() -> None:
    sets = load_test_sets(42)
    assert set(sets) == {t.key for t in TEST_SETS}
    for key in (
        "external",
        "external-2",
        "external-3",
        "external-4",
        "external-5",
        "external-6",
        "external-7",
        "external-8",
        "external-9",
        "external-10",
        "external-11",
        "external-12",
        "external-13",
        "external-14",
        "external-19",
        "external-20",
    ):
        assert len(sets[key]) >= 250, key
    assert len(sets["public-real"]) >= 40 and len(sets["public-real-2"]) >= 40
    assert len(sets["public-real-3"]) >= 25 and len(sets["public-real-4"]) >= 30
    assert len(sets["public-real-5"]) >= 20 and len(sets["public-real-6"]) >= 9
    assert len(sets["public-real-7"]) >= 32 and len(sets["public-real-8"]) >= 32
    assert len(sets["public-real-9"]) >= 40 and len(sets["public-real-10"]) >= 44
    clean, typos = sets["external-3"], sets["external-3-typos"]
    assert [i for _, i in clean] == [i for _, i in typos]
    # Messages of only one- and two-letter words (`ok`, `ya`) keep no typo: the others do.
    changed = sum(a != b for (a, _), (b, _) in zip(clean, typos, strict=True))
    assert changed >= 0.95 * len(clean)


def result(name: str, right: int, total: int = 10, oos_right: int = 4) -> PipelineResult:
    """A pipeline whose predictions on MAIN_SET have `right` in-scope hits of `total`."""
    predictions = [
        Prediction("m", "greet", "greet" if i < right else "goodbye", 0.9, 0.0)
        for i in range(total)
    ] + [
        Prediction("o", "out_of_scope", "out_of_scope" if i < oos_right else "greet", 0.9, 0.0)
        for i in range(4)
    ]
    r = PipelineResult(name, name, 0.3, 0.0)
    r.predictions = {"cv": predictions, MAIN_SET: predictions, "heldout": predictions}
    return r


def test_comparison_names_wins_ties_and_losses() -> None:
    rows = {
        (s, m): o for s, m, o in comparison(result("ours", 9), result("rasa-default", 9), MANIFEST)
    }
    assert rows[(MAIN_SET, "accuracy")].startswith("tie")
    rows = {
        (s, m): o
        for s, m, o in comparison(
            result("ours", 9, oos_right=3), result("rasa-default", 7, oos_right=4), MANIFEST
        )
    }
    assert rows[(MAIN_SET, "accuracy")].startswith("ours")
    # Fewer false accepts is better: ours accepted one more out-of-scope message.
    assert rows[(MAIN_SET, "OOS false-accept")].startswith("default")


def test_goals_say_not_met_and_list_what_ours_does_not_win() -> None:
    lines = "\n".join(goals_section([result("rasa-default", 9), result("ours", 7)], MANIFEST))
    assert f"{SET_TITLES[MAIN_SET]}: accuracy 0.786 (goal ≥ 0.95): NOT met" in lines
    assert "team had seen): better on 0 of 6; tie on 2: " in lines
    assert "; worse on 4: k-fold CV on data/nlu accuracy: default (0.786 vs 0.929)" in lines
    # The development set is reported apart from the headline figures.
    assert "on the development sets (seen): better on 0 of 3;" in lines
    report = render_report(
        Run({}, 5, 42, {MAIN_SET: 14}, [result("rasa-default", 7), result("ours", 10)]), ""
    )
    assert "accuracy 1.000 (goal ≥ 0.95): met" in report
    goals = report.split("## Headline figures")[0]
    assert "better on 4 of 6; tie on 2:" in goals and "worse on" not in goals


def test_every_real_public_question_names_its_source() -> None:
    """The 'real' set must stay real: each question keeps the address of the page it is from."""
    import yaml

    from eval.sets import ROOT

    for name, size in (
        ("public_real.yml", 40),
        ("public_real_2.yml", 40),
        ("public_real_3.yml", 25),
    ):
        data = yaml.safe_load((ROOT / "tests/nlu" / name).read_text(encoding="utf-8"))
        examples = [e for block in data["nlu"] for e in block["examples"]]
        assert len(examples) >= size, name
        for example in examples:
            assert example["text"].strip()
            assert str(example["metadata"]["source"]).startswith(("http://", "https://"))


def test_an_interrupted_run_resumes_only_on_the_same_commit_and_data(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from eval.results import resumable, save_run

    path = tmp_path / "eval.json"
    info = {"git": "abc1234"}
    sizes = {"cv": 10, "external": 14}
    saved = result("ours", 9)
    save_run(path, Run(info, 5, 42, sizes, [saved]))
    kept = resumable(path, info, 5, 42, sizes)
    assert list(kept) == ["ours"]
    assert kept["ours"].predictions == saved.predictions
    assert resumable(path, {"git": "def5678"}, 5, 42, sizes) == {}
    assert resumable(path, info, 3, 42, sizes) == {}
    assert resumable(path, info, 5, 42, {**sizes, "cv": 11}) == {}
    dirty = {"git": "abc1234 (with uncommitted NLU changes)"}
    save_run(path, Run(dirty, 5, 42, sizes, [saved]))
    assert resumable(path, dirty, 5, 42, sizes) == {}


def test_overlap_count_names_each_clean_set_and_ignores_case() -> None:
    from eval.sets import training_overlaps

    training = [("Halo", "greet"), ("lupa password", "forgot_password")]
    tests: dict[str, Sequence[tuple[str, str]]] = {
        t.key: [("halo ", "greet"), ("gak bisa login", "login_problem")] for t in TEST_SETS
    }
    counts = training_overlaps(training, tests, MANIFEST).split(", ")
    assert counts[0] == f"{TEST_SETS[0].key} 1/2"
    # Typo copies are not listed: their messages are the clean ones, changed.
    assert len(counts) == sum(not t.typos for t in TEST_SETS)


def test_a_cv_only_run_trains_the_folds_and_never_a_full_model(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """--cv-only must not look at a held-out set: no full model is trained, nothing parsed
    but the folds' own test parts."""
    import eval.training as run

    trained: list[int] = []
    parsed: list[str] = []

    def fake_train(pipeline, examples, workdir):  # type: ignore[no-untyped-def]
        trained.append(len(examples))
        return object(), 0.1

    def fake_parse(agent, examples, timings=None):  # type: ignore[no-untyped-def]
        parsed.extend(text for text, _ in examples)
        return [Prediction(text, intent, intent, 0.9, 0.0) for text, intent in examples]

    monkeypatch.setattr(run, "train", fake_train)
    monkeypatch.setattr(run, "parse_all", fake_parse)
    training = [(f"pesan {i}", "greet" if i % 2 else "goodbye") for i in range(10)]
    result = run.evaluate_pipeline("ours", "", [], training, {}, 5, 42, tmp_path)
    assert trained == [8] * 5  # five folds of 8, no model on all 10
    assert sorted(parsed) == sorted(text for text, _ in training)
    assert list(result.predictions) == ["cv"]


def test_the_command_line_runs_saves_resumes_and_rescores(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """eval/run.py end to end with training and parsing faked: the results file keeps every
    pipeline and the sets, --resume trains nothing again, --rescore renders the same report."""
    import eval.run as run
    import eval.training as training
    from eval.results import load_run

    trained: list[str] = []

    def fake_train(pipeline, examples, workdir):  # type: ignore[no-untyped-def]
        trained.append(workdir.name)
        return object(), 0.5

    def fake_parse(agent, examples, timings=None):  # type: ignore[no-untyped-def]
        if timings is not None:
            timings.extend(1.0 for _ in examples)
        return [Prediction(text, intent, intent, 0.9, 0.1) for text, intent in examples]

    small = [(f"pesan {i}", "greet" if i % 2 else "out_of_scope") for i in range(10)]
    monkeypatch.setattr(training, "train", fake_train)
    monkeypatch.setattr(training, "parse_all", fake_parse)
    monkeypatch.setattr(run, "load_examples", lambda path: small)
    monkeypatch.setattr(run, "load_test_sets", lambda seed, manifest: {MAIN_SET: small[:4]})
    # A committed state (no uncommitted NLU change), or --resume would train everything.
    monkeypatch.setattr(run, "run_info", lambda: {"date": "today", "git": "abc1234"})
    files = ["--json", str(tmp_path / "r.json"), "--report", str(tmp_path / "report.md")]
    files += ["--notes", str(tmp_path / "none.md")]
    only = ["--only", "rasa-default", "ours", "--folds", "2"]
    assert run.main([*only, *files]) == 0
    assert len(trained) == 6  # two folds and the full model, twice
    saved = load_run(tmp_path / "r.json")
    assert [r.name for r in saved.results] == ["rasa-default", "ours"]
    assert saved.manifest == MANIFEST and saved.sizes == {"cv": 10, MAIN_SET: 4}
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert f"- ours, {SET_TITLES[MAIN_SET]}: accuracy 1.000 (goal ≥ 0.95): met" in report

    assert run.main([*only, "--resume", *files]) == 0
    assert len(trained) == 6  # both kept from the results file
    assert (tmp_path / "report.md").read_text(encoding="utf-8") == report

    assert run.main(["--rescore", *files]) == 0
    rescored = (tmp_path / "report.md").read_text(encoding="utf-8").splitlines()
    assert [line for line in rescored if not line.startswith("- re-scored: ")] == (
        report.splitlines()
    )

    # --cv-only: the folds of each pipeline, no full model, nothing written.
    before = (tmp_path / "r.json").read_bytes()
    assert run.main(["--cv-only", *only, *files]) == 0
    assert len(trained) == 10 and not any(name.endswith("-full") for name in trained[6:])
    assert (tmp_path / "r.json").read_bytes() == before
