"""Normalise informal Indonesian (WhatsApp/SMS spelling) to standard words, word by word.

Order of the rules, applied to each word (case-insensitive):
1. letters repeated three or more times collapse to one (`tolongggg` -> `tolong`);
2. reduplication written with a 2 is expanded (`masuk2` -> `masuk masuk`);
3. multi-word variants from our domain terms (`java script` -> `javascript`);
4. single words from our domain terms (`terms.yml`, wins over the lexicon);
5. the general slang lexicon (indoNLP's Kamus Alay, 4,331 entries), unless the word is protected
   (our acronyms and English words that the lexicon would turn into Indonesian slang).

The normaliser only ever replaces whole words with fixed strings: no fuzzy matching, because
fuzzy spell-correctors rewrite domain words (login, spse, reset).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Tuple

import yaml

logger = logging.getLogger(__name__)

DEFAULT_TERMS_FILE = Path(__file__).with_name("terms.yml")

# Three or more of the same letter; two are legitimate in Indonesian (maaf, saat, tunggu).
_ELONGATION = re.compile(r"([^\W\d_])\1{2,}")
# `masuk2`, `berkali2`: a word of letters followed by the digit 2.
_REDUPLICATION = re.compile(r"^([^\W\d_]{2,})2$")
_PUNCTUATION = "!\"'()*,.:;<=>?[]`{|}~"
# Longest multi-word variant the domain terms may hold.
_MAX_PHRASE_WORDS = 3


@dataclass(frozen=True)
class Lexicon:
    """Word -> replacement maps used by the normaliser."""

    words: Mapping[str, str]
    phrases: Mapping[Tuple[str, ...], str]
    slang: Mapping[str, str]
    protected: FrozenSet[str]


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML loader that refuses a key written twice in one mapping.

    Plain YAML keeps only the last of two equal keys, so a trainer who adds a second
    `sudah:` line would silently drop every variant under the first one.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Dict[Any, Any]:
        seen: Dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None,
                    f"'{key}' is listed twice (lines {seen[key]} and "
                    f"{key_node.start_mark.line + 1}): put all its variants in one list",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def load_terms(path: Path) -> Tuple[Dict[str, str], Dict[Tuple[str, ...], str], FrozenSet[str]]:
    """Read `terms.yml`: single-word variants, multi-word variants and protected words."""
    raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader) or {}
    words: Dict[str, str] = {}
    phrases: Dict[Tuple[str, ...], str] = {}
    for standard, variants in (raw.get("replace") or {}).items():
        for variant in variants or []:
            key = tuple(str(variant).lower().split())
            if not key:
                continue
            if len(key) == 1:
                words[key[0]] = str(standard).lower()
            elif len(key) <= _MAX_PHRASE_WORDS:
                phrases[key] = str(standard).lower()
            else:
                raise ValueError(
                    f"{path}: variant longer than {_MAX_PHRASE_WORDS} words: {variant}"
                )
    protected = frozenset(str(word).lower() for word in raw.get("protect") or [])
    return words, phrases, protected


def load_slang_lexicon() -> Dict[str, str]:
    """indoNLP's slang map (shipped in its wheel; nothing is downloaded)."""
    # The submodule import also runs indoNLP/__init__, which only defines the dataset
    # downloader; nothing is fetched unless its functions are called.
    from indoNLP.preprocessing import SLANG_DATA

    return {str(k).lower(): str(v).lower() for k, v in SLANG_DATA.items()}


@lru_cache(maxsize=8)
def load_lexicon(terms_file: str = str(DEFAULT_TERMS_FILE), use_slang: bool = True) -> Lexicon:
    """Build (once per process and file) the lexicon the normaliser uses."""
    words, phrases, protected = load_terms(Path(terms_file))
    slang = load_slang_lexicon() if use_slang else {}
    logger.debug(
        "NLU lexicon: %d domain words, %d phrases, %d slang entries",
        len(words), len(phrases), len(slang),
    )
    return Lexicon(words=words, phrases=phrases, slang=slang, protected=protected)


def collapse_elongation(word: str) -> str:
    """`tolongggg` -> `tolong`; keeps double letters (`maaf`)."""
    return _ELONGATION.sub(r"\1", word)


class Normalizer:
    """Maps a sequence of words to standard spellings; keeps track of where each came from."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon

    @classmethod
    def from_files(
        cls, terms_file: Optional[str] = None, use_slang: bool = True
    ) -> Normalizer:
        """A normaliser over `terms_file` (default: the package's terms.yml) and the lexicon."""
        return cls(load_lexicon(terms_file or str(DEFAULT_TERMS_FILE), use_slang))

    def _word(self, word: str) -> str:
        """Standard form of one lower-case word (may be several words, or the word itself)."""
        lex = self.lexicon
        if word in lex.words:
            return lex.words[word]
        if word in lex.protected:
            return word
        standard = lex.slang.get(word)
        if standard is None:
            return word
        # Second hop through our terms: the lexicon writes `enggak`, `kalo`; we want `tidak`,
        # `kalau`.
        return " ".join(lex.words.get(part, part) for part in standard.split())

    def normalize_words(self, words: Sequence[str]) -> List[Tuple[str, int, int]]:
        """Normalise `words`; returns (word, first, last) with the input indices it came from.

        One input word can become several (`gabisa` -> `tidak`, `bisa`) and several input words
        one (`java script` -> `javascript`); the indices let the tokenizer keep offsets into the
        original text.
        """
        prepared: List[Tuple[str, int]] = []
        for index, word in enumerate(words):
            lowered = collapse_elongation(word.lower())
            match = _REDUPLICATION.match(lowered)
            if match:
                prepared.extend([(match.group(1), index), (match.group(1), index)])
            else:
                prepared.append((lowered, index))

        result: List[Tuple[str, int, int]] = []
        position = 0
        while position < len(prepared):
            span = self._phrase_at(prepared, position)
            if span:
                length, standard = span
                first, last = prepared[position][1], prepared[position + length - 1][1]
                result.extend((part, first, last) for part in standard.split())
                position += length
                continue
            word, index = prepared[position]
            original = words[index]
            standard = self._word(word)
            if standard == word and word == original.lower():
                # Unchanged: keep the user's casing for the case features.
                result.append((original, index, index))
            else:
                result.extend((part, index, index) for part in standard.split())
            position += 1
        return result

    def _phrase_at(
        self, prepared: Sequence[Tuple[str, int]], position: int
    ) -> Optional[Tuple[int, str]]:
        """Longest multi-word variant starting at `position`, as (length, standard form)."""
        if not self.lexicon.phrases:
            return None
        for length in range(min(_MAX_PHRASE_WORDS, len(prepared) - position), 1, -1):
            key = tuple(word for word, _ in prepared[position : position + length])
            if key in self.lexicon.phrases:
                return length, self.lexicon.phrases[key]
        return None

    def normalize(self, text: str) -> str:
        """Normalise a whole text: words split on whitespace, punctuation around them dropped.

        For tests, tools and featurizers that read text; the tokenizer uses `normalize_words`.
        """
        words = [w.strip(_PUNCTUATION) for w in text.split()]
        return " ".join(word for word, _, _ in self.normalize_words([w for w in words if w]))


def normalize_all(normalizer: Normalizer, texts: Iterable[str]) -> List[str]:
    """`normalize` over many texts."""
    return [normalizer.normalize(text) for text in texts]
