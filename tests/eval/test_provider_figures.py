"""Issue 15's count lines: right counts, never a message text."""

from __future__ import annotations

from typing import Any

from eval.provider_figures import figures


def _prediction(text: str, gold: str, top: str, confidence: float = 0.9) -> dict[str, Any]:
    return {
        "text": text,
        "gold": gold,
        "top": top,
        "top_confidence": confidence,
        "second_confidence": 0.05,
    }


def _run() -> dict[str, Any]:
    provider = [
        _prediction("secret-a", "register_account", "register_account"),
        _prediction("secret-b", "register_account", "forgot_account"),
        _prediction("secret-c", "ticket_status", "ticket_status", confidence=0.3),
        _prediction("secret-d", "forgot_user_id", "register_account"),
        _prediction("secret-e", "out_of_scope", "change_provider_data"),
        _prediction("secret-f", "out_of_scope", "out_of_scope"),
    ]
    headline = [
        _prediction("secret-g", "forgot_password", "forgot_password"),
        _prediction("secret-h", "login_problem", "login_problem", confidence=0.2),
        _prediction("secret-i", "out_of_scope", "login_problem"),
        _prediction("secret-j", "out_of_scope", "out_of_scope"),
        _prediction("secret-k", "greet", "greet"),
    ]
    ours = {
        "name": "ours",
        "threshold": 0.4,
        "ambiguity": 0.0,
        "predictions": {"provider-9": provider, "external-13": headline},
    }
    return {"results": [{"name": "default", "predictions": {}}, ours]}


def test_provider_set_counts() -> None:
    lines = figures(_run())
    assert lines[0] == "thresholds 0.4 / 0.0"
    provider = next(line for line in lines if line.startswith("provider-9"))
    # 1 of 3 right: one confused with forgot_account, one under the 0.4 threshold (fallback).
    assert "six intents 1/3 = 0.333 (fallback 1;" in provider
    assert "register->forgot 1/2, forgot->register 1/1" in provider
    assert "OOS false-accept 1/2 (to a new intent 1)" in provider


def test_headline_set_counts_and_other_thresholds() -> None:
    line = next(x for x in figures(_run()) if x.startswith("external-13"))
    # The greeting counts for the old in-scope figure, not for the FAQ topics.
    assert "old in-scope 2/3 = 0.667 (fallback 1; FAQ topics 1/2)" in line
    assert "OOS false-accept 1/2 = 0.500 (to a new intent 0)" in line
    # At 0.1 the low-confidence login answer is accepted.
    stricter = next(x for x in figures(_run(), (0.1, 0.0)) if x.startswith("external-13"))
    assert "old in-scope 3/3 = 1.000 (fallback 0; FAQ topics 2/2)" in stricter


def test_no_message_text_is_printed() -> None:
    assert not any("secret" in line for line in figures(_run()))
