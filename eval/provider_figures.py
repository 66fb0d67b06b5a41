"""Issue 15's figures from one harness run, as counts: no message text is printed.

`python -m eval.provider_figures results/nlu-eval-issue15-r2.json [THRESHOLD AMBIGUITY]`
reads the JSON that `python -m eval.run --json ...` writes and prints, for the `ours`
pipeline, the accuracy of the six provider intents on the provider sets, the confusion of
`register_account` with the forgotten-account intents both ways, and on the sets over all
intents the old intents' in-scope accuracy (and the FAQ topics' alone) and the out-of-scope
false-accept. Run it on a run of the model before issue 15 as well to compare. Only counts: the
held-out sets stay unread by whoever runs it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from eval.metrics import FALLBACK, OUT_OF_SCOPE, Prediction

NEW_INTENTS = (
    "register_account",
    "verification_documents",
    "agregasi_data",
    "change_provider_data",
    "service_outage",
    "ticket_status",
)
FORGOT_INTENTS = ("forgot_account", "forgot_user_id")
SMALL_TALK = ("greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "ask_menu")
# Sets over all intents (the third round's, and those written before issue 15, relabelled):
# the old intents' in-scope accuracy and the OOS false-accept, next to the model before issue 15.
ALL_INTENT_SETS = (
    "external-19",
    "external-19-typos",
    "external-20",
    "external-20-typos",
    "external-17",
    "external-17-typos",
    "external-18",
    "external-18-typos",
    "external-15",
    "external-15-typos",
    "external-16",
    "external-16-typos",
    "external-13",
    "external-13-typos",
    "external-14",
    "external-14-typos",
    "public-real-5",
    "public-real-10",
    "public-real-9",
    "public-real-8",
    "public-real-7",
    "public-real-4",
    "public-real-6",
)

Pairs = list[tuple[str, str]]


def _ratio(part: int, whole: int) -> str:
    return f"{part}/{whole} = {part / whole:.3f}" if whole else f"{part}/0"


def _false_accepts(pairs: Pairs) -> tuple[int, int, int]:
    """(accepted, out-of-scope messages, accepted by a new intent)."""
    oos = [p for g, p in pairs if g == OUT_OF_SCOPE]
    accepted = sum(p not in (OUT_OF_SCOPE, FALLBACK) for p in oos)
    return accepted, len(oos), sum(p in NEW_INTENTS for p in oos)


def provider_line(key: str, pairs: Pairs) -> str:
    """One provider set: the six intents, register/forgot confusion, OOS false-accept."""
    new = [(g, p) for g, p in pairs if g in NEW_INTENTS]
    right = sum(g == p for g, p in new)
    per_intent = ", ".join(
        f"{i} {sum(g == p for g, p in new if g == i)}/{sum(g == i for g, _ in new)}"
        for i in NEW_INTENTS
    )
    fallback = sum(p == FALLBACK for _, p in new)
    reg_to_forgot = sum(g == "register_account" and p in FORGOT_INTENTS for g, p in pairs)
    forgot_to_reg = sum(g in FORGOT_INTENTS and p == "register_account" for g, p in pairs)
    n_reg = sum(g == "register_account" for g, _ in pairs)
    n_forgot = sum(g in FORGOT_INTENTS for g, _ in pairs)
    fa, n_oos, fa_new = _false_accepts(pairs)
    return (
        f"{key}: six intents {_ratio(right, len(new))} (fallback {fallback}; {per_intent}) | "
        f"register->forgot {reg_to_forgot}/{n_reg}, forgot->register {forgot_to_reg}/{n_forgot}"
        f" | OOS false-accept {fa}/{n_oos} (to a new intent {fa_new})"
    )


def headline_line(key: str, pairs: Pairs) -> str:
    """One older set: old intents' in-scope accuracy and OOS false-accept."""
    old = [(g, p) for g, p in pairs if g != OUT_OF_SCOPE and g not in NEW_INTENTS]
    right = sum(g == p for g, p in old)
    fallback = sum(p == FALLBACK for _, p in old)
    fa, n_oos, fa_new = _false_accepts(pairs)
    faq = [(g, p) for g, p in old if g not in SMALL_TALK]
    line = (
        f"{key}: old in-scope {_ratio(right, len(old))} (fallback {fallback}; "
        f"FAQ topics {sum(g == p for g, p in faq)}/{len(faq)})"
    )
    new = [(g, p) for g, p in pairs if g in NEW_INTENTS]
    if new:
        line += f" | new-intent messages {sum(g == p for g, p in new)}/{len(new)}"
    return line + f" | OOS false-accept {_ratio(fa, n_oos)} (to a new intent {fa_new})"


def figures(run: dict[str, Any], thresholds: tuple[float, float] | None = None) -> list[str]:
    """The report lines for the `ours` pipeline of one harness run."""
    ours = next(r for r in run["results"] if r["name"] == "ours")
    threshold, ambiguity = thresholds or (ours["threshold"], ours["ambiguity"])

    def pairs(key: str) -> Pairs:
        return [
            (p["gold"], Prediction(**p).label(threshold, ambiguity))
            for p in ours["predictions"][key]
        ]

    lines = [f"thresholds {threshold} / {ambiguity}"]
    keys: Iterable[str] = ours["predictions"]
    lines += [provider_line(k, pairs(k)) for k in keys if k.startswith("provider")]
    lines += [headline_line(k, pairs(k)) for k in ALL_INTENT_SETS if k in ours["predictions"]]
    return lines


def main(argv: list[str]) -> None:
    run = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    thresholds = (float(argv[1]), float(argv[2])) if len(argv) >= 3 else None
    print("\n".join(figures(run, thresholds)))


if __name__ == "__main__":
    main(sys.argv[1:])
