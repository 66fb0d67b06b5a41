"""The report is a pure function of a results file: the split harness renders, byte for byte,
what the harness before the split (eval/run.py at 8ac3e29, one module) rendered from the same
file.

tests/eval/fixtures/nlu-eval.json is a synthetic run (three pipelines, seven sets, random
predictions that reach every branch of the report: goals not met, ties, more than 40 wrong
messages, more than 12 confusion pairs), written by that harness's `save_results`, plus the
sets it was scored on (`manifest`). nlu-report.md is what that harness's `render_report` gave
for it, with fixtures/report_notes.md as the notes. Never regenerate nlu-report.md with the
code under test: it is the old harness's output.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from eval.results import load_run, save_run

FIXTURES = Path(__file__).parent / "fixtures"
RESULTS = FIXTURES / "nlu-eval.json"
NOTES = FIXTURES / "report_notes.md"
EXPECTED = FIXTURES / "nlu-report.md"


def test_the_report_is_byte_for_byte_what_the_harness_rendered_before_the_split() -> None:
    from eval.report import render_report

    notes = NOTES.read_text(encoding="utf-8")
    rendered = render_report(load_run(RESULTS), notes) + "\n"
    assert rendered.encode("utf-8") == EXPECTED.read_bytes()


def test_a_saved_run_loads_back_unchanged(tmp_path: Path) -> None:
    run = load_run(RESULTS)
    assert run.manifest is not None and [r.name for r in run.results] == [
        "rasa-default",
        "ours-no-normaliser",
        "ours",
    ]
    save_run(tmp_path / "again.json", run)
    assert load_run(tmp_path / "again.json") == run


def test_a_results_file_is_rendered_with_the_sets_it_was_scored_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A later change of tests/nlu/sets.yml (a new set, a set that becomes seen) does not change
    the report of an earlier run: it is rendered with the sets saved with it."""
    import eval.report as report

    def no_current_manifest() -> None:
        raise AssertionError("the report read today's manifest")

    monkeypatch.setattr(report, "read_manifest", no_current_manifest)
    run = load_run(RESULTS)
    assert run.manifest is not None and run.manifest.main == "external-13"
    assert report.render_report(run, "") + "\n" == EXPECTED.read_text(encoding="utf-8").replace(
        "\n" + NOTES.read_text(encoding="utf-8"), ""
    )


def test_rescore_rewrites_the_thresholds_and_says_when(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--rescore: the same report with config.yml's thresholds, and a line that says so."""
    import eval.run as run

    monkeypatch.setattr(run, "fallback_thresholds", lambda pipeline: (0.6, 0.1))
    report = tmp_path / "report.md"
    now = dt.datetime(2026, 12, 3, 19, 0, tzinfo=dt.timezone.utc)
    assert run.rescore(RESULTS, report, NOTES, now=now) == 0
    lines = EXPECTED.read_text(encoding="utf-8").splitlines(keepends=True)
    after_info = lines.index(next(line for line in lines if line.startswith("- folds: ")))
    expected = lines[:after_info] + [
        f"- re-scored: {now.astimezone():%Y-%m-%d %H:%M %Z} with config.yml's thresholds "
        "(no retraining)\n"
    ]
    assert report.read_text(encoding="utf-8") == "".join(expected + lines[after_info:])

    monkeypatch.setattr(run, "fallback_thresholds", lambda pipeline: (0.3, 0.0))
    run.rescore(RESULTS, report, NOTES, now=now)
    assert "| ours | 0.3 / 0.0 |" in report.read_text(encoding="utf-8")
