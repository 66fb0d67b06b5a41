"""Typos fixed against the model's own vocabulary: `pakte` -> `paket`, `rseet` -> `reset`.

A user who types `pakte belum muncul` or `lpse tdiak bisa` should get the same answer as one who
spells the words right. After `NormalizingTokenizer` has turned slang into standard words, this
component looks at every word the model never saw in training and, when exactly one kind of
mistake separates it from a training word (a letter dropped, added, changed or two letters
swapped; two mistakes for long words), puts the training word in its place.

It is not a general spelling corrector: the dictionary is the training data's own words, learnt
when the model is trained, so domain words (`login`, `spse`, `sikap`, `reset`) are never
rewritten, and a trainer's new examples extend it with the next `make train`. A word is left
alone when it is in that vocabulary, when it is a real word the training data merely lacks
(`baik`, `tetapi`, `pengaduan` must not become `bank`, `tetap`, `pengadaan`), when it is short,
or when it has digits. Real words are Indonesian words whose stem is in PySastrawi's dictionary
of 29,931 root words (`pengaduan` -> `adu`) and the commonest English words of symspellpy's
frequency list. The look-up is symspellpy's (symmetric delete algorithm, MIT).
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from functools import lru_cache
from importlib import resources
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Mapping, Optional

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from lpse_assist.nlu.tokenizer import ORIGINAL_FLAG, standard_tokens

logger = logging.getLogger(__name__)

VOCABULARY_FILE = "vocabulary.json"
# Letters only: a word with digits or symbols is a code, a number or a URL, never a typo.
_WORD = re.compile(r"^[^\W\d_]+$")


def count_words(words: Iterable[str]) -> Dict[str, int]:
    """How often each letter-only word occurs (lower case): the speller's vocabulary."""
    return dict(sorted(Counter(w.lower() for w in words if _WORD.match(w)).items()))


@lru_cache(maxsize=4)
def english_words(count: int) -> FrozenSet[str]:
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
    ) -> None:
        """`counts`: how often each (lower-case) word occurs in the training data."""
        from symspellpy import SymSpell

        self.counts = dict(counts)
        self.min_length = min_length
        self.long_word_length = long_word_length
        self._english = english_words(english_word_count)
        self._is_indonesian = indonesian_word_check()
        self._symspell = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
        for word, count in self.counts.items():
            self._symspell.create_dictionary_entry(word, count)

    def correct(self, word: str) -> Optional[str]:
        """The training word meant by `word`, or None when `word` is known or no word is close.

        One edit for words of `min_length` letters and more, two from `long_word_length`; among
        equally close words the one most frequent in training wins.
        """
        from symspellpy import Verbosity

        lowered = word.lower()
        if len(lowered) < self.min_length or lowered in self.counts or not _WORD.match(lowered):
            return None
        if lowered in self._english or self._is_indonesian(lowered):
            return None
        distance = 2 if len(lowered) >= self.long_word_length else 1
        suggestions = self._symspell.lookup(
            lowered, Verbosity.CLOSEST, max_edit_distance=distance, include_unknown=False
        )
        if not suggestions:
            return None
        return str(suggestions[0].term)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True
)
class VocabularySpellingCorrector(GraphComponent):
    """Replaces misspelt tokens by the training word they most likely are."""

    @classmethod
    def required_components(cls) -> List[type]:
        """Reads and rewrites the tokenizer's tokens."""
        return [Tokenizer]

    @staticmethod
    def required_packages() -> List[str]:
        """The look-up algorithm.

        Not Sastrawi: Rasa looks these names up as distributions too, and Sastrawi's import
        name differs from its distribution's (PySastrawi); `fingerprint_addon` covers it.
        """
        return ["symspellpy"]

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """Retrain when a word list changes (the libraries ship them)."""
        from importlib.metadata import version

        return f"symspellpy-{version('symspellpy')}/PySastrawi-{version('PySastrawi')}"

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """Shortest word it corrects, the length from which two edits are allowed, and how many
        of the commonest English words count as real words (0: none)."""
        return {"min_length": 4, "long_word_length": 8, "english_word_count": 30_000}

    def __init__(
        self,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        counts: Optional[Mapping[str, int]] = None,
    ) -> None:
        """Component with the vocabulary `counts` (empty before training)."""
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.speller = VocabularySpeller(
            counts or {},
            min_length=int(self.config["min_length"]),
            long_word_length=int(self.config["long_word_length"]),
            english_word_count=int(self.config["english_word_count"]),
        )

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> VocabularySpellingCorrector:
        """An untrained corrector (it knows no words yet)."""
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> VocabularySpellingCorrector:
        """The corrector with the vocabulary saved by `train`."""
        try:
            with model_storage.read_from(resource) as directory:
                counts = json.loads((directory / VOCABULARY_FILE).read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError):
            logger.warning("No vocabulary in the model: spelling correction is off.")
            counts = {}
        return cls(config, model_storage, resource, counts)

    def train(self, training_data: TrainingData) -> Resource:
        """Learn the vocabulary: every standard word of the training examples, with counts."""
        words = [
            token.text
            for message in training_data.training_examples
            for token in standard_tokens(message)
        ]
        counts = count_words(words)
        with self._model_storage.write_to(self._resource) as directory:
            (directory / VOCABULARY_FILE).write_text(
                json.dumps(counts, ensure_ascii=False), encoding="utf-8"
            )
        logger.debug("Spelling vocabulary: %d words", len(counts))
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Nothing to do: every training word is in the vocabulary by definition."""
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        """Replace each misspelt token's text; its offsets still point at what was typed."""
        for message in messages:
            tokens = message.get(TOKENS_NAMES[TEXT])
            if not tokens:
                continue
            message.set(TOKENS_NAMES[TEXT], [self._corrected(token) for token in tokens])
        return messages

    def _corrected(self, token: Token) -> Token:
        """`token` with the training word in place of a misspelt one (a new token: featurizers
        read `lemma`, which Token fills from the text it was built with)."""
        if token.get(ORIGINAL_FLAG):
            return token
        corrected = self.speller.correct(token.text)
        if corrected is None:
            return token
        return Token(corrected, token.start, token.end, dict(token.data), lemma=corrected)
