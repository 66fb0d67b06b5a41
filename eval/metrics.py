"""Scoring of intent predictions: accuracy, macro-F1, confusion, out-of-scope false accepts.

Pure functions over `Prediction`s, so thresholds can be re-applied without re-parsing: a
prediction keeps the classifier's ranking as it was before Rasa's FallbackClassifier.
"""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

OUT_OF_SCOPE = "out_of_scope"
FALLBACK = "nlu_fallback"
# An answer the bot does not give: both count as "not accepted" for an out-of-scope message.
NOT_ANSWERED = frozenset({OUT_OF_SCOPE, FALLBACK})


@dataclass(frozen=True)
class Prediction:
    """Gold intent, and the classifier's top two intents before the fallback rule."""

    text: str
    gold: str
    top: str
    top_confidence: float
    second_confidence: float

    def label(self, threshold: float, ambiguity: float) -> str:
        """The intent Rasa's FallbackClassifier would output with these thresholds."""
        if self.top_confidence < threshold:
            return FALLBACK
        if self.top_confidence - self.second_confidence < ambiguity:
            return FALLBACK
        return self.top


def scored_label(gold: str, predicted: str) -> str:
    """Label used for accuracy/F1: the fallback on an out-of-scope message is a right answer.

    On an in-scope message the fallback is wrong; it is scored as `out_of_scope` (the bot did
    not answer), which also lowers out_of_scope's precision.
    """
    return OUT_OF_SCOPE if predicted == FALLBACK else predicted


@dataclass
class Scores:
    """Headline figures for one pipeline on one data set."""

    n: int
    accuracy: float
    macro_f1: float
    oos_n: int
    oos_false_accept: float
    in_scope_fallback: float
    per_intent: dict[str, tuple[float, float, float, int]]
    confusions: list[tuple[str, str, int]]


def f1_table(pairs: Sequence[tuple[str, str]]) -> dict[str, tuple[float, float, float, int]]:
    """Per gold intent: precision, recall, F1, support."""
    labels = sorted({gold for gold, _ in pairs})
    table: dict[str, tuple[float, float, float, int]] = {}
    for label in labels:
        tp = sum(1 for g, p in pairs if g == label and p == label)
        fp = sum(1 for g, p in pairs if g != label and p == label)
        fn = sum(1 for g, p in pairs if g == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        table[label] = (precision, recall, f1, tp + fn)
    return table


def score(predictions: Sequence[Prediction], threshold: float, ambiguity: float) -> Scores:
    """Scores of `predictions` under the given fallback thresholds."""
    pairs = [(p.gold, scored_label(p.gold, p.label(threshold, ambiguity))) for p in predictions]
    raw = [(p.gold, p.label(threshold, ambiguity)) for p in predictions]
    n = len(pairs)
    accuracy = sum(1 for g, p in pairs if g == p) / n if n else 0.0
    table = f1_table(pairs)
    macro_f1 = sum(f1 for _, _, f1, _ in table.values()) / len(table) if table else 0.0
    oos = [p for g, p in raw if g == OUT_OF_SCOPE]
    in_scope = [p for g, p in raw if g != OUT_OF_SCOPE]
    false_accept = sum(1 for p in oos if p not in NOT_ANSWERED) / len(oos) if oos else 0.0
    fallback = sum(1 for p in in_scope if p == FALLBACK) / len(in_scope) if in_scope else 0.0
    confusion = Counter(
        (g, p) for g, p in raw if g != p and not (g == OUT_OF_SCOPE and p == FALLBACK)
    )
    return Scores(
        n=n,
        accuracy=accuracy,
        macro_f1=macro_f1,
        oos_n=len(oos),
        oos_false_accept=false_accept,
        in_scope_fallback=fallback,
        per_intent=table,
        confusions=[(g, p, c) for (g, p), c in confusion.most_common()],
    )


_WORD_CHAR = re.compile(r"[^\W\d_]")


def add_typos(text: str, seed: str, rate: float = 0.04) -> str:
    """Drop or swap random letters (seeded by `seed`): about `rate` edits per letter, at least 1.

    Edits only touch letters inside words of three or more letters, so short words such as
    `gk` are not erased outright.
    """
    rng = random.Random(seed)
    chars = list(text)
    edits = max(1, round(rate * sum(1 for c in chars if _WORD_CHAR.match(c))))
    for _ in range(edits):
        candidates = _editable_positions(chars)
        if not candidates:
            break
        position = rng.choice(candidates)
        at_word_end = position + 1 >= len(chars) or not _WORD_CHAR.match(chars[position + 1])
        if rng.random() < 0.5 or at_word_end:
            del chars[position]
        else:
            chars[position], chars[position + 1] = chars[position + 1], chars[position]
    return "".join(chars)


def _editable_positions(chars: list[str]) -> list[int]:
    """Indices of letters in words of at least three letters."""
    positions: list[int] = []
    word: list[int] = []
    for index, char in enumerate(chars + [" "]):
        if _WORD_CHAR.match(char):
            word.append(index)
            continue
        if len(word) >= 3:
            positions.extend(word)
        word = []
    return positions


def stratified_folds(examples: Sequence[tuple[str, str]], folds: int, seed: int) -> list[list[int]]:
    """Indices of `examples` ((text, intent)) split into `folds` folds, stratified by intent."""
    by_intent: dict[str, list[int]] = defaultdict(list)
    for index, (_, intent) in enumerate(examples):
        by_intent[intent].append(index)
    rng = random.Random(seed)
    result: list[list[int]] = [[] for _ in range(folds)]
    offset = 0
    for intent in sorted(by_intent):
        indices = by_intent[intent][:]
        rng.shuffle(indices)
        for position, index in enumerate(indices):
            result[(position + offset) % folds].append(index)
        offset += len(indices)
    return result


def threshold_grid(
    predictions: Sequence[Prediction],
    thresholds: Iterable[float],
    ambiguities: Iterable[float],
) -> list[tuple[float, float, Scores]]:
    """Scores for every (threshold, ambiguity) pair."""
    ambiguities = list(ambiguities)
    return [(t, a, score(predictions, t, a)) for t in thresholds for a in ambiguities]


def neighbourhood_f1(
    grid: Sequence[tuple[float, float, Scores]],
) -> dict[tuple[float, float], float]:
    """Mean macro-F1 of each grid cell and the 3 x 3 block of cells around it.

    A flat, noisy surface has an argmax that jumps between runs (0.35 one run, 0.6 the
    next): smoothing first picks the middle of a good region instead of a lucky cell.
    """
    thresholds = sorted({row[0] for row in grid})
    ambiguities = sorted({row[1] for row in grid})
    f1 = {(row[0], row[1]): row[2].macro_f1 for row in grid}
    smoothed = {}
    for t, a in f1:
        ti, ai = thresholds.index(t), ambiguities.index(a)
        # At the grid's edge the missing neighbour counts as the cell itself (like scipy's
        # "nearest" mode), so an edge cell next to one good cell does not win on that alone.
        cells = [
            f1[key]
            for i in range(ti - 1, ti + 2)
            for j in range(ai - 1, ai + 2)
            if (
                key := (
                    thresholds[min(max(i, 0), len(thresholds) - 1)],
                    ambiguities[min(max(j, 0), len(ambiguities) - 1)],
                )
            )
            in f1
        ]
        smoothed[(t, a)] = sum(cells) / len(cells)
    return smoothed


def choose_thresholds(
    grid: Sequence[tuple[float, float, Scores]], max_false_accept: float | None = None
) -> tuple[float, float, Scores]:
    """Best neighbourhood macro-F1, then macro-F1, accuracy, fewer OOS false accepts.

    On a full tie the higher ambiguity threshold wins (the more cautious setting).
    """
    smoothed = neighbourhood_f1(grid)
    allowed = [
        row
        for row in grid
        if max_false_accept is None or row[2].oos_false_accept <= max_false_accept
    ] or list(grid)
    return max(
        allowed,
        key=lambda row: (
            round(smoothed[(row[0], row[1])], 4),
            round(row[2].macro_f1, 4),
            round(row[2].accuracy, 4),
            -round(row[2].oos_false_accept, 4),
            -round(row[2].in_scope_fallback, 4),
            row[1],
        ),
    )
