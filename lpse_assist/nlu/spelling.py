"""Typos fixed against the model's own vocabulary: `pakte` -> `paket`, `rseet` -> `reset`.

A user who types `pakte belum muncul` or `lpse tdiak bisa` should get the same answer as one who
spells the words right. After `NormalizingTokenizer` has turned slang into standard words, this
component looks at every word the model never saw in training and, when exactly one kind of
mistake separates it from a training word (a letter dropped, added, changed or two letters
swapped; two mistakes for long words), puts the training word in its place.

It is not a general spelling corrector: the dictionary is the training data's own words, learnt
when the model is trained, so domain words (`login`, `spse`, `sikap`, `reset`) are never
rewritten, and a trainer's new examples extend it with the next `make train`. A word typed together
with its neighbours (`gabisalogin`, `lupauseridnya`) and not correctable that way is split into at
most three parts that are training words, or spellings the normaliser knows whose standard
words are training words (`gabisa login` -> `tidak bisa login`). An informal spelling from
terms.yml typed with a mistake (`amkasih`, `etngkyu`) becomes its standard words (`terima
kasih`) when no training word is close, since the normaliser cannot recognise it. A word is left
alone when it is in that vocabulary, when it is a real word the training data merely lacks
(`baik`, `tetapi`, `pengaduan` must not become `bank`, `tetap`, `pengadaan`), when it is short,
or when it has digits. Real words are Indonesian words whose stem is in PySastrawi's dictionary
of 29,931 root words (`pengaduan` -> `adu`) and the commonest English words of symspellpy's
frequency list. The look-up is symspellpy's (symmetric delete algorithm, MIT).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from lpse_assist.nlu.model_files import load_json, save_json
from lpse_assist.nlu.normalizer import Normalizer
from lpse_assist.nlu.tokenizer import ORIGINAL_FLAG, standard_tokens

logger = logging.getLogger(__name__)

VOCABULARY_FILE = "vocabulary.json"
# Letters only: a word with digits or symbols is a code, a number or a URL, never a typo.
_WORD = re.compile(r"^[^\W\d_]+$")
# Run-together words: at most this many parts, each at least 3 letters (2 for a slang
# spelling the normaliser rewrites, such as `gk`, `bs`, `pw`).
_MAX_PARTS = 3
_MIN_PART = 3
# Longer letter strings are not words typed together (and the splits grow with the square).
_MAX_SPLIT_LENGTH = 24


def count_words(words: Iterable[str]) -> dict[str, int]:
    """How often each letter-only word occurs (lower case): the speller's vocabulary."""
    return dict(sorted(Counter(w.lower() for w in words if _WORD.match(w)).items()))


@lru_cache(maxsize=4)
def english_words(count: int) -> frozenset[str]:
    """The `count` commonest English words (symspellpy's list, inside its wheel)."""
    if count <= 0:
        return frozenset()
    text = (resources.files("symspellpy") / "frequency_dictionary_en_82_765.txt").read_text(
        encoding="utf-8"
    )
    return frozenset(line.split(" ", 1)[0] for line in text.splitlines()[:count])


@lru_cache(maxsize=1)
def indonesian_word_check() -> Callable[[str], bool]:
    """True for a real Indonesian word: its Sastrawi stem is in Sastrawi's root-word dictionary.

    Sastrawi returns the word itself when no affix rule leads to a root, so a typo (`pakte`)
    stays unknown while inflected words (`dimasukkan` -> `masuk`) are recognised.
    """
    from Sastrawi.Stemmer.StemmerFactory import StemmerFactory

    stemmer = StemmerFactory().create_stemmer()
    dictionary = stemmer.delegatedStemmer.dictionary

    @lru_cache(maxsize=20_000)
    def is_indonesian(word: str) -> bool:
        return bool(dictionary.contains(stemmer.stem(word)))

    return is_indonesian


class VocabularySpeller:
    """Nearest training word within a small edit distance, for words outside the vocabulary."""

    def __init__(
        self,
        counts: Mapping[str, int],
        min_length: int = 4,
        long_word_length: int = 8,
        english_word_count: int = 30_000,
        variants: Mapping[str, str] | None = None,
    ) -> None:
        """`counts`: how often each (lower-case) word occurs in the training data.

        `variants`: informal spellings the normaliser knows, with their standard form
        (`makasih` -> `terima kasih`); a misspelt variant (`amkasih`) is corrected to the
        standard form when every word of it is a training word.
        """
        from symspellpy import SymSpell

        self.counts = dict(counts)
        self.min_length = min_length
        self.long_word_length = long_word_length
        self._english = english_words(english_word_count)
        self._is_indonesian = indonesian_word_check()
        self._symspell = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
        for word, count in self.counts.items():
            self._symspell.create_dictionary_entry(word, count)
        # A second dictionary, looked up only when no training word is close: a typo of a
        # training word stays what it was before variants were added.
        self._variants = {
            typed: standard
            for typed, standard in (variants or {}).items()
            if len(typed) >= min_length
            and _WORD.match(typed)
            and typed not in self.counts
            and all(word in self.counts for word in standard.split())
        }
        self._variant_symspell = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
        for typed, standard in self._variants.items():
            self._variant_symspell.create_dictionary_entry(
                typed, min(self.counts[word] for word in standard.split())
            )

    def correct(self, word: str) -> str | None:
        """The training word meant by `word` (or the standard words of the informal spelling
        meant, space-separated), or None when `word` is known or no word is close.

        One edit for words of `min_length` letters and more, two from `long_word_length`; among
        equally close words the one most frequent in training wins.
        """
        from symspellpy import Verbosity

        if not self.is_unknown(word):
            return None
        lowered = word.lower()
        distance = 2 if len(lowered) >= self.long_word_length else 1
        for symspell in (self._symspell, self._variant_symspell):
            suggestions = symspell.lookup(
                lowered, Verbosity.CLOSEST, max_edit_distance=distance, include_unknown=False
            )
            if suggestions:
                term = str(suggestions[0].term)
                return self._variants.get(term, term)
        return None

    def is_unknown(self, word: str) -> bool:
        """True for a letters-only word of `min_length` or more that is neither a training word
        nor a real Indonesian or English word."""
        lowered = word.lower()
        return (
            len(lowered) >= self.min_length
            and lowered not in self.counts
            and bool(_WORD.match(lowered))
            and lowered not in self._english
            and not self._is_indonesian(lowered)
        )

    def segment(self, word: str, standard: Callable[[str], str]) -> list[str] | None:
        """`gabisalogin` -> [`tidak`, `bisa`, `login`]: the standard words of the fewest parts
        (ties: the split whose rarest word is commonest), or None when no split fits.

        `standard` maps a typed part to its standard words (the normaliser's word rule).
        """
        if not self.is_unknown(word) or len(word) > _MAX_SPLIT_LENGTH:
            return None
        lowered = word.lower()
        best: tuple[int, int, list[str]] | None = None
        for parts in _splits(lowered, _MAX_PARTS):
            words: list[str] = []
            for part in parts:
                part_words = standard(part).split()
                if len(part) < _MIN_PART and part_words == [part]:
                    break
                if not all(w in self.counts for w in part_words):
                    break
                words.extend(part_words)
            else:
                score = (len(parts), -min(self.counts[w] for w in words), words)
                if best is None or score[:2] < best[:2]:
                    best = score
        return best[2] if best else None


def _splits(word: str, max_parts: int) -> Iterable[list[str]]:
    """Every way to cut `word` into 2..`max_parts` parts of at least 2 letters."""
    for cut in range(2, len(word) - 1):
        head, rest = word[:cut], word[cut:]
        yield [head, rest]
        if max_parts > 2:
            for tail in _splits(rest, max_parts - 1):
                yield [head, *tail]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class VocabularySpellingCorrector(GraphComponent):
    """Replaces misspelt tokens by the training word they most likely are."""

    @classmethod
    def required_components(cls) -> list[type]:
        """Reads and rewrites the tokenizer's tokens."""
        return [Tokenizer]

    @staticmethod
    def required_packages() -> list[str]:
        """The look-up algorithm.

        Not Sastrawi: Rasa looks these names up as distributions too, and Sastrawi's import
        name differs from its distribution's (PySastrawi); `fingerprint_addon` covers it.
        """
        return ["symspellpy"]

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """Retrain when a word list changes (the libraries ship them)."""
        from importlib.metadata import version

        return f"symspellpy-{version('symspellpy')}/PySastrawi-{version('PySastrawi')}"

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Shortest word it corrects, the length from which two edits are allowed, and how many
        of the commonest English words count as real words (0: none)."""
        return {
            "min_length": 4,
            "long_word_length": 8,
            "english_word_count": 30_000,
            # Split run-together words (`gabisalogin`).
            "split_words": True,
            # Misspelt informal spellings (`amkasih`) -> their standard words.
            "correct_variants": True,
            # The normaliser's settings for split parts and variants: keep them the same as
            # NormalizingTokenizer's (None: lpse_assist/nlu/terms.yml).
            "terms_file": None,
            "chat_rules": True,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        counts: Mapping[str, int] | None = None,
    ) -> None:
        """Component with the vocabulary `counts` (empty before training)."""
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._normalizer = Normalizer.from_files(
            self.config["terms_file"], chat_rules=bool(self.config["chat_rules"])
        )
        self.speller = VocabularySpeller(
            counts or {},
            min_length=int(self.config["min_length"]),
            long_word_length=int(self.config["long_word_length"]),
            english_word_count=int(self.config["english_word_count"]),
            variants=(self._normalizer.lexicon.words if self.config["correct_variants"] else None),
        )

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> VocabularySpellingCorrector:
        """An untrained corrector (it knows no words yet)."""
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> VocabularySpellingCorrector:
        """The corrector with the vocabulary saved by `train`."""
        counts = load_json(
            model_storage,
            resource,
            VOCABULARY_FILE,
            {},
            "No vocabulary in the model: spelling correction is off.",
        )
        return cls(config, model_storage, resource, counts)

    def train(self, training_data: TrainingData) -> Resource:
        """Learn the vocabulary: every standard word of the training examples, with counts."""
        words = [
            token.text
            for message in training_data.training_examples
            for token in standard_tokens(message)
        ]
        counts = count_words(words)
        save_json(self._model_storage, self._resource, VOCABULARY_FILE, counts)
        logger.debug("Spelling vocabulary: %d words", len(counts))
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Nothing to do: every training word is in the vocabulary by definition."""
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Replace each misspelt token's text; its offsets still point at what was typed."""
        for message in messages:
            tokens = message.get(TOKENS_NAMES[TEXT])
            if not tokens:
                continue
            message.set(
                TOKENS_NAMES[TEXT], [new for token in tokens for new in self._corrected(token)]
            )
        return messages

    def _corrected(self, token: Token) -> list[Token]:
        """`token` with the training word(s) in place of a misspelt or run-together one (new
        tokens over the same typed text: featurizers read `lemma`, which Token fills from the
        text it was built with)."""
        if token.get(ORIGINAL_FLAG):
            return [token]
        corrected = self.speller.correct(token.text)
        if corrected is not None:
            words = corrected.split()
        elif self.config["split_words"]:
            words = self.speller.segment(token.text, self._normalizer.standard_form) or []
        else:
            words = []
        if not words:
            return [token]
        return [Token(w, token.start, token.end, dict(token.data), lemma=w) for w in words]
