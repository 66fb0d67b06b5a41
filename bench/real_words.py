"""How well the spelling corrector's real-word guard tells real words from typos.

    .venv/bin/python bench/real_words.py [--spacy-lookups WHEEL]

Takes the words of the dev sets (tests/nlu/heldout.yml, public_questions.yml) that the training
data lacks: as typed (real words) and after the harness's seeded random typos (typo'd words), and
prints how many of each the guard counts as real (lpse_assist/nlu/spelling.py). With the path of
a downloaded spacy-lookups-data wheel it also measures spaCy's Indonesian lemma table as the guard.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from eval.metrics import add_typos
from eval.sets import load_examples

ROOT = Path(__file__).resolve().parent.parent


def standard_words(texts: Iterable[str]) -> list[str]:
    """Lower-case normalised words of `texts`, as the corrector sees them."""
    from rasa.shared.nlu.training_data.message import Message

    from lpse_assist.nlu.tokenizer import ORIGINAL_FLAG, NormalizingTokenizer

    tokenizer = NormalizingTokenizer(
        {**NormalizingTokenizer.get_default_config(), "keep_original": True}
    )
    return [
        token.text.lower()
        for text in texts
        for token in tokenizer.tokenize(Message.build(text=text), "text")
        if not token.get(ORIGINAL_FLAG)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Print the counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spacy-lookups", help="path of a spacy-lookups-data wheel")
    args = parser.parse_args(argv)
    from lpse_assist.nlu.spelling import count_words, english_words, indonesian_word_check

    vocabulary = count_words(standard_words(t for t, _ in load_examples(ROOT / "data" / "nlu")))
    dev = [
        text
        for name in ("heldout.yml", "public_questions.yml")
        for text, _ in load_examples(ROOT / "tests" / "nlu" / name)
    ]

    def unknown(words: Iterable[str]) -> set[str]:
        return {w for w in words if w.isalpha() and len(w) >= 4 and w not in vocabulary}

    real = unknown(standard_words(dev))
    typos = unknown(standard_words(add_typos(t, f"42:{t}") for t in dev)) - real
    is_indonesian, english = indonesian_word_check(), english_words(30_000)
    guards: list[tuple[str, Callable[[str], bool]]] = [
        ("Sastrawi stem in root words", is_indonesian),
        ("English top 30k", lambda w: w in english),
        ("both (the corrector's guard)", lambda w: is_indonesian(w) or w in english),
    ]
    if args.spacy_lookups:
        with zipfile.ZipFile(args.spacy_lookups) as wheel:
            table = json.loads(
                gzip.decompress(wheel.read("spacy_lookups_data/data/id_lemma_lookup.json.gz"))
            )
        lemmas = set(table) | set(table.values())
        guards.append(("spaCy id_lemma_lookup", lambda w: w in lemmas))
    print(f"dev-set words outside the training vocabulary: {len(real)} real, {len(typos)} typo'd")
    for name, known in guards:
        print(
            f"{name}: real words recognised {sum(map(known, real))}/{len(real)}; "
            f"typo'd words taken as real {sum(map(known, typos))}/{len(typos)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
