"""The markdown report of a run (docs/nlu-report.md) and its summary on stdout.

Pure functions of a saved run (eval/results.py) and the sets it was scored on: the same
results file always renders the same report.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.stats import median, percentile
from eval.metrics import Scores, choose_thresholds, score, scored_label, threshold_grid
from eval.results import PipelineResult, Run, by_name
from eval.sets import Manifest, read_manifest

THRESHOLDS = [round(0.2 + 0.05 * i, 2) for i in range(14)]  # 0.20 .. 0.85
AMBIGUITIES = [0.0, 0.05, 0.1, 0.15, 0.2]
# Figures compared between ours and Rasa's default: (name, attribute, higher is better).
HEADLINE_METRICS = [
    ("accuracy", "accuracy", True),
    ("macro-F1", "macro_f1", True),
    ("OOS false-accept", "oos_false_accept", False),
]


def pct(value: float) -> str:
    """0.9512 -> 0.951."""
    return f"{value:.3f}"


def scores_of(result: PipelineResult) -> dict[str, Scores]:
    """Scores of every data set of `result` under its own fallback thresholds."""
    return {
        name: score(predictions, result.threshold, result.ambiguity)
        for name, predictions in result.predictions.items()
    }


def metric_table(
    results: Sequence[PipelineResult], attribute: str, manifest: Manifest
) -> list[str]:
    """One row per pipeline, one column per data set."""
    sets = [k for k in manifest.titles if any(k in r.predictions for r in results)]
    lines = ["| pipeline | " + " | ".join(f"`{k}`" for k in sets) + " |"]
    lines.append("|---|" + "---|" * len(sets))
    for result in results:
        scores = scores_of(result)
        cells = [pct(getattr(scores[k], attribute)) if k in scores else "–" for k in sets]
        lines.append(f"| {result.name} | " + " | ".join(cells) + " |")
    return lines


def comparison(
    ours: PipelineResult, default: PipelineResult, manifest: Manifest
) -> list[tuple[str, str, str]]:
    """(set, metric, outcome) of ours against Rasa's default on every headline figure."""
    mine, theirs = scores_of(ours), scores_of(default)
    rows = []
    for set_name in manifest.titles:
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


def tally(rows: Sequence[tuple[str, str, str]], manifest: Manifest) -> str:
    """'better on 7 of 9; tie on ...; worse on ...' for comparison rows."""
    parts = [f"better on {sum(o.startswith('ours') for _, _, o in rows)} of {len(rows)}"]
    for outcome, word in (("tie", "tie on"), ("default", "worse on")):
        matching = [f"{manifest.titles[s]} {m}: {o}" for s, m, o in rows if o.startswith(outcome)]
        if matching:
            parts.append(f"{word} {len(matching)}: " + "; ".join(matching))
    return "; ".join(parts)


def goals_section(results: Sequence[PipelineResult], manifest: Manifest) -> list[str]:
    """The issue's targets, checked on this run's figures."""
    ours, default = by_name(results, "ours"), by_name(results, "rasa-default")
    if ours is None:
        return []
    lines = ["## Against the goals (this run)", ""]
    mine = scores_of(ours)
    for goal in manifest.goals:
        if goal.set not in mine:
            continue
        value = getattr(mine[goal.set], goal.metric)
        verdict = "met" if value >= goal.minimum else "NOT met"
        lines.append(
            f"- ours, {manifest.titles[goal.set]}: {goal.metric.replace('_', '-')} {pct(value)} "
            f"(goal ≥ {goal.minimum}): {verdict}"
        )
    if default is not None:
        rows = comparison(ours, default, manifest)
        seen = {t.key for t in manifest.sets if t.seen}
        headline = [r for r in rows if r[0] not in seen]
        lines.append(
            "- ours against Rasa's default on the headline figures (CV and the sets nobody on "
            "the team had seen): " + tally(headline, manifest)
        )
        dev = [r for r in rows if r[0] in seen]
        if dev:
            lines.append("- on the development sets (seen): " + tally(dev, manifest))
    lines.append("")
    return lines


def render_report(run: Run, notes: str) -> str:
    """The markdown report of `run`, scored on the sets it was run on (for a results file from
    before the manifest: the manifest as it is now), with `notes` at the end."""
    manifest = run.manifest or read_manifest()
    titles = manifest.titles
    results, info, folds, seed, sizes = run.results, run.info, run.folds, run.seed, run.sizes
    lines: list[str] = ["# NLU evaluation report", ""]
    lines.append("Generated by `make eval` (`eval/run.py`); do not edit by hand.")
    lines.append("")
    for key, value in info.items():
        lines.append(f"- {key}: {value}")
    lines.append(f"- folds: {folds} (stratified by intent, seed {seed}); typo seed {seed}")
    lines.append(
        "- data: " + ", ".join(f"{titles.get(k, k)}: {v} examples" for k, v in sizes.items())
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
    lines.extend(goals_section(results, manifest))
    lines.append("## Headline figures")
    lines.append("")
    lines.append(
        "Columns: " + "; ".join(f"`{k}` {title}" for k, title in titles.items() if k in sizes) + "."
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
        lines.extend(metric_table(results, attribute, manifest))
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
            f"{median(result.parse_ms):.1f} | {percentile(result.parse_ms, 0.95):.1f} |"
        )
    lines.append("")
    lines.append(
        "Full `rasa train` (NLU + dialogue policies) and parse latency on the trained model: "
        "`bench/nlu_speed.py`."
    )
    lines.append("")
    ours = by_name(results, "ours")
    if ours is not None:
        lines.extend(threshold_section(ours, manifest))
        lines.extend(per_intent_section(ours, manifest.main, manifest))
    lines.append("## Confusions (gold -> predicted, count)")
    lines.append("")
    for result in results:
        for set_name in (manifest.main, manifest.public, "cv"):
            if set_name not in result.predictions:
                continue
            s = score(result.predictions[set_name], result.threshold, result.ambiguity)
            shown = ", ".join(f"{g} -> {p} ({c})" for g, p, c in s.confusions[:12]) or "none"
            more = f" … and {len(s.confusions) - 12} more pairs" if len(s.confusions) > 12 else ""
            lines.append(f"- **{result.name}**, {titles[set_name]}: {shown}{more}")
    lines.append("")
    if ours is not None:
        lines.extend(errors_section(ours, manifest))
    if notes:
        lines.append(notes.strip())
        lines.append("")
    return "\n".join(lines)


def threshold_section(ours: PipelineResult, manifest: Manifest) -> list[str]:
    """Trade-off table of fallback thresholds, chosen on CV predictions only."""
    main, public, titles = manifest.main, manifest.public, manifest.titles
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
        f"| CV in-scope fallback | {titles[main]} acc | {titles[public]} acc "
        f"| {titles[public]} OOS false-accept |"
    )
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for threshold, ambiguity, cv in grid:
        if ambiguity not in (0.0, 0.1, 0.2) and (threshold, ambiguity) != (best_t, best_a):
            continue
        held = score(ours.predictions.get(main, []), threshold, ambiguity)
        public_scores = score(ours.predictions.get(public, []), threshold, ambiguity)
        mark = " **←**" if (threshold, ambiguity) == (ours.threshold, ours.ambiguity) else ""
        lines.append(
            f"| {threshold}{mark} | {ambiguity} | {pct(cv.accuracy)} | {pct(cv.macro_f1)} | "
            f"{pct(cv.oos_false_accept)} | {pct(cv.in_scope_fallback)} | {pct(held.accuracy)} | "
            f"{pct(public_scores.accuracy)} | {pct(public_scores.oos_false_accept)} |"
        )
    lines.append("")
    lines.append("**←** marks the thresholds in config.yml.")
    lines.append("")
    return lines


def per_intent_section(result: PipelineResult, set_name: str, manifest: Manifest) -> list[str]:
    """Precision/recall/F1 per intent for one data set."""
    s = score(result.predictions[set_name], result.threshold, result.ambiguity)
    lines = [f"## Per intent: {result.name}, {manifest.titles[set_name]}", ""]
    lines.append("| intent | precision | recall | F1 | support |")
    lines.append("|---|---|---|---|---|")
    for intent, (p, r, f1, n) in s.per_intent.items():
        lines.append(f"| {intent} | {pct(p)} | {pct(r)} | {pct(f1)} | {n} |")
    lines.append("")
    return lines


def errors_section(result: PipelineResult, manifest: Manifest) -> list[str]:
    """Every message of the headline sets that ours gets wrong (they are few, and telling)."""
    lines = ["## Messages ours gets wrong (held-out sets)", ""]
    for test_set in manifest.sets:
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
    ours = by_name(results, "ours")
    if ours is not None:
        t, a, s = choose_thresholds(threshold_grid(ours.predictions["cv"], THRESHOLDS, AMBIGUITIES))
        print(
            f"\nthresholds best on CV for ours: {t} / {a} (CV macro-F1 {s.macro_f1:.3f}); "
            f"config.yml: {ours.threshold} / {ours.ambiguity}"
        )
