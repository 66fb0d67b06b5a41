"""Normalise informal Indonesian (WhatsApp/SMS spelling) to standard words, word by word.

Order of the rules, applied to each word (case-insensitive):
1. letters repeated three or more times collapse to one (`tolongggg` -> `tolong`);
2. reduplication written with a 2 is expanded (`masuk2` -> `masuk masuk`);
3. multi-word variants from our domain terms (`java script` -> `javascript`);
4. single words from our domain terms (`terms.yml`, wins over the lexicon);
5. the general slang lexicon (indoNLP's Kamus Alay, 4,331 entries), unless the word is protected
   (our acronyms and English words that the lexicon would turn into Indonesian slang);
6. a word none of the above knows, stretched by one letter at its end, is read without it
   (`tengkyuu` -> `tengkyu` -> `terima kasih`, `gakk` -> `tidak`), when that shorter word is known.

Two rules over the whole message follow:
- laughter (`wkwk`, `hehe`, `awokwok`) is noise next to other words and is dropped, so "bisa
  kok wkwk" reads like "bisa kok"; a message of laughter only keeps it;
- an item the user says they still remember is dropped (`password masih ingat tapi user id
  lupa` -> `masih ingat tapi user id lupa`): a bag of words cannot otherwise tell which of the
  two was forgotten. A negation before the verb (`tidak ingat password`) keeps the item, and
  so does a question or wish (`cara tahu user id`, `mau tahu password`).

The normaliser only ever replaces whole words with fixed strings: no fuzzy matching, because
fuzzy spell-correctors rewrite domain words (login, spse, reset).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

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
# Laughter as typed in chat: wkwk, kwkw, awkwk, haha, hehe, hihi, xixi, awokwok, lol.
_LAUGHTER = re.compile(
    # Any run of w and k with both letters (`wkwwk`, `wkkwk`: chat laughter is typed fast).
    r"^(?:a?(?=[wk]*w)(?=[wk]*k)[wk]{4,}|(?:ha|he|hi|hu|xi|wa)(?:h?(?:ha|he|hi|hu|xi|wa))+h?"
    r"|a?wok(?:wok)+|lol|lmao|lmfao|rofl)$"
)
# "Remembered item" rule (standard words, after normalisation).
_ITEMS: tuple[tuple[str, ...], ...] = (("user", "id"), ("password",))
_KNOW = frozenset({"ingat", "inget", "tahu", "tau", "hafal", "hapal", "apal"})
# After the item only: "user id nya sih ada" (the user still has it).
_HAVE = frozenset({"ada", "punya"})
_NEGATION = frozenset({"tidak", "belum", "lupa", "bukan", "kurang", "enggak", "nggak"})
# Before the verb, these make it a question or a wish, not a statement: "cara tahu user id",
# "mau tahu password" ask for the item, so it stays.
_SEEKING = frozenset(
    {
        "cara",
        "bagaimana",
        "mau",
        "ingin",
        "perlu",
        "harus",
        "biar",
        "agar",
        "supaya",
        "untuk",
        "cari",
        "mencari",
        "bisa",
        "gimana",
    }
)
# Words that may stand between the item and the verb ("password nya saya masih ingat").
_FILLER = frozenset(
    {
        "nya",
        "masih",
        "sudah",
        "saya",
        "aku",
        "gue",
        "gua",
        "kami",
        "kita",
        "sih",
        "kok",
        "mah",
        "ya",
        "juga",
        "yang",
        "pun",
        "tuh",
        "itu",
        "ini",
        "sendiri",
        "kalau",
        "kan",
    }
)
_MAX_FILLER = 3


@dataclass(frozen=True)
class Lexicon:
    """Word -> replacement maps used by the normaliser."""

    words: Mapping[str, str]
    phrases: Mapping[tuple[str, ...], str]
    slang: Mapping[str, str]
    protected: frozenset[str]


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML loader that refuses a key written twice in one mapping.

    Plain YAML keeps only the last of two equal keys, so a trainer who adds a second
    `sudah:` line would silently drop every variant under the first one.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"'{key}' is listed twice (lines {seen[key]} and "
                    f"{key_node.start_mark.line + 1}): put all its variants in one list",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def load_terms(path: Path) -> tuple[dict[str, str], dict[tuple[str, ...], str], frozenset[str]]:
    """Read `terms.yml`: single-word variants, multi-word variants and protected words."""
    raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader) or {}
    words: dict[str, str] = {}
    phrases: dict[tuple[str, ...], str] = {}
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


def load_slang_lexicon() -> dict[str, str]:
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
        len(words),
        len(phrases),
        len(slang),
    )
    return Lexicon(words=words, phrases=phrases, slang=slang, protected=protected)


def collapse_elongation(word: str) -> str:
    """`tolongggg` -> `tolong`; keeps double letters (`maaf`)."""
    return _ELONGATION.sub(r"\1", word)


def is_laughter(word: str) -> bool:
    """`wkwkwk`, `hehe`, `awokwok` (lower case, elongation already collapsed)."""
    return bool(_LAUGHTER.match(word))


def drop_remembered_items(words: Sequence[str]) -> list[bool]:
    """Which of `words` (standard, lower case) name an item the user says they still know.

    `password masih ingat`, `user id saya tahu`, `masih ingat password`: True for the item's
    words. Not when a negation stands before the verb (`tidak ingat password`).
    """
    drop = [False] * len(words)
    for start in range(len(words)):
        for item in _ITEMS:
            end = start + len(item)
            if tuple(words[start:end]) != item:
                continue
            after = _word_after(words, end)
            if after in _NEGATION:
                # "user id saya tau, pw lupa": the verb before belongs to the other item.
                continue
            if after in _KNOW or after in _HAVE or _known_before(words, start):
                drop[start:end] = [True] * len(item)
    return drop


def _word_after(words: Sequence[str], position: int) -> str | None:
    """The first word from `position` on that is not a filler, if it comes within
    `_MAX_FILLER` fillers (`password nya saya masih ingat` -> `ingat`)."""
    for word in words[position : position + _MAX_FILLER + 1]:
        if word not in _FILLER:
            return word
    return None


def _known_before(words: Sequence[str], position: int) -> bool:
    """A knowing verb, not negated, stands just before `position` (fillers allowed)."""
    index = position - 1
    while index >= 0 and position - index <= _MAX_FILLER and words[index] in _FILLER:
        index -= 1
    if index < 0 or words[index] not in _KNOW:
        return False
    before = words[max(0, index - 2) : index]
    return not any(word in _NEGATION or word in _SEEKING for word in before)


class Normalizer:
    """Maps a sequence of words to standard spellings; keeps track of where each came from."""

    def __init__(self, lexicon: Lexicon, chat_rules: bool = True) -> None:
        """`chat_rules`: rule 6 and the two message rules (laughter, remembered item)."""
        self.lexicon = lexicon
        self.chat_rules = chat_rules
        # Every spelling the lexicon knows, typed or standard: the stretched-ending rule only
        # shortens a word into one of these.
        self._known = (
            frozenset(lexicon.words)
            | frozenset(lexicon.slang)
            | lexicon.protected
            | {
                part
                for standard in (*lexicon.words.values(), *lexicon.slang.values())
                for part in standard.split()
            }
        )

    @classmethod
    def from_files(
        cls, terms_file: str | None = None, use_slang: bool = True, chat_rules: bool = True
    ) -> Normalizer:
        """A normaliser over `terms_file` (default: the package's terms.yml) and the lexicon."""
        return cls(load_lexicon(terms_file or str(DEFAULT_TERMS_FILE), use_slang), chat_rules)

    def standard_form(self, word: str) -> str:
        """Standard form of one typed word (`gabisa` -> `tidak bisa`; the word when unknown)."""
        return self._word(collapse_elongation(word.lower()))

    def _word(self, word: str) -> str:
        """Standard form of one lower-case word (may be several words, or the word itself)."""
        lex = self.lexicon
        if word in lex.words:
            return lex.words[word]
        if word in lex.protected:
            return word
        standard = lex.slang.get(word)
        if standard is None:
            shorter = word[:-1]
            if (
                self.chat_rules
                and len(shorter) >= 3
                and word[-1] == word[-2]
                and word[-1].isalpha()
                and word not in self._known
                and shorter in self._known
            ):
                # `tengkyuu`, `gakk`, `minn`: one letter stretched at the end.
                return self._word(shorter)
            return word
        # Second hop through our terms: the lexicon writes `enggak`, `kalo`; we want `tidak`,
        # `kalau`.
        return " ".join(lex.words.get(part, part) for part in standard.split())

    def normalize_words(self, words: Sequence[str]) -> list[tuple[str, int, int]]:
        """Normalise `words`; returns (word, first, last) with the input indices it came from.

        One input word can become several (`gabisa` -> `tidak`, `bisa`) and several input words
        one (`java script` -> `javascript`); the indices let the tokenizer keep offsets into the
        original text.
        """
        prepared: list[tuple[str, int]] = []
        lowered_words = [collapse_elongation(word.lower()) for word in words]
        # Laughter next to other words is noise; a message of laughter only keeps it.
        only_laughter = all(is_laughter(word) for word in lowered_words)
        for index, lowered in enumerate(lowered_words):
            if self.chat_rules and is_laughter(lowered) and not only_laughter:
                continue
            match = _REDUPLICATION.match(lowered)
            if match:
                prepared.extend([(match.group(1), index), (match.group(1), index)])
            else:
                prepared.append((lowered, index))

        result: list[tuple[str, int, int]] = []
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
        if not self.chat_rules:
            return result
        drop = drop_remembered_items([word.lower() for word, _, _ in result])
        return [entry for entry, dropped in zip(result, drop, strict=True) if not dropped]

    def _phrase_at(
        self, prepared: Sequence[tuple[str, int]], position: int
    ) -> tuple[int, str] | None:
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


def normalize_all(normalizer: Normalizer, texts: Iterable[str]) -> list[str]:
    """`normalize` over many texts."""
    return [normalizer.normalize(text) for text in texts]
