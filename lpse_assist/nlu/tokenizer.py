"""Rasa tokenizer that normalises informal Indonesian before any featurizer sees the words.

It is Rasa's WhitespaceTokenizer plus `Normalizer`: tokens carry the standard spelling as their
text, and the offsets of the words they came from in the user's message. Every featurizer after
it (word and char n-gram CountVectors, LexicalSyntactic, DIET) reads token texts, and tokenizers
run on the training data and on every incoming message, so training and inference see the same
normalised words. The message text itself is left as typed: it is what the tracker stores and
what RegexFeaturizer matches.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from lpse_assist.nlu.normalizer import DEFAULT_TERMS_FILE, Normalizer

logger = logging.getLogger(__name__)

# Token.data key of a typed word kept next to its standard form (see `keep_original`).
ORIGINAL_FLAG = "typed_form"
# `id/password`, `user/pass`: a slash between letters separates two words (URLs keep theirs).
_SLASH_BETWEEN_LETTERS = re.compile(r"(?<=[^\W\d_])/(?=[^\W\d_])")


def standard_tokens(message: Message) -> list[Token]:
    """The message's tokens without the typed forms kept beside their standard form."""
    return [
        token for token in message.get(TOKENS_NAMES[TEXT]) or [] if not token.get(ORIGINAL_FLAG)
    ]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class NormalizingTokenizer(WhitespaceTokenizer):
    """Whitespace tokenizer whose tokens hold normalised (standard) Indonesian words."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Rasa's whitespace tokenizer options plus the normaliser's."""
        return {
            **WhitespaceTokenizer.get_default_config(),
            # Our domain terms; None: lpse_assist/nlu/terms.yml.
            "terms_file": None,
            # Also use indoNLP's general slang lexicon after our terms.
            "use_slang_lexicon": True,
            # "whitespace" (Rasa's rules) or "spacy" (spacy.blank("id")): measured, see
            # docs/nlu-report.md.
            "base_tokenizer": "whitespace",
            # Also keep the word as typed, before its standard form, when they differ: the
            # char n-grams then see both `gk` and `tidak`, which helps with typos in slang.
            "keep_original": False,
            # Laughter as noise, a stretched last letter, an item the user still remembers
            # (lpse_assist/nlu/normalizer.py); measured as the ablation `ours-no-chat-rules`.
            "chat_rules": True,
        }

    def __init__(self, config: dict[str, Any]) -> None:
        """Load the lexicon once per process (cached in the normaliser module)."""
        super().__init__(config)
        self.normalizer = Normalizer.from_files(
            config.get("terms_file"),
            bool(config.get("use_slang_lexicon", True)),
            bool(config.get("chat_rules", True)),
        )
        self.base_tokenizer = str(config.get("base_tokenizer") or "whitespace")
        if self.base_tokenizer not in ("whitespace", "spacy"):
            raise ValueError(
                f"base_tokenizer must be whitespace or spacy, not {self.base_tokenizer}"
            )
        self._spacy_tokenizer: Any = None
        self.keep_original = bool(config.get("keep_original", False))

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> NormalizingTokenizer:
        """Creates the component (see parent class)."""
        return cls(config)

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """Retrain when terms.yml or the slang lexicon changes (Rasa's cache sees config only)."""
        from importlib.metadata import version

        path = Path(config.get("terms_file") or DEFAULT_TERMS_FILE)
        return hashlib.sha256(path.read_bytes()).hexdigest() + "/indoNLP-" + version("indoNLP")

    def _base_tokens(self, message: Message, attribute: str) -> list[Token]:
        """Words of the message with their offsets, before normalisation."""
        if self.base_tokenizer == "spacy":
            return self._spacy_tokens(message.get(attribute) or "")
        tokens: list[Token] = []
        for token in super().tokenize(message, attribute):
            # Split `id/password` into two words but keep offsets into the original text.
            offset = token.start
            for part in _SLASH_BETWEEN_LETTERS.split(token.text):
                if part:
                    tokens.append(Token(part, offset))
                offset += len(part) + 1
        return tokens

    def _spacy_tokens(self, text: str) -> list[Token]:
        """spaCy's rule-based Indonesian tokenizer (no model, nothing downloaded)."""
        if self._spacy_tokenizer is None:
            import spacy

            self._spacy_tokenizer = spacy.blank("id").tokenizer
        tokens = [
            Token(t.text, t.idx)
            for t in self._spacy_tokenizer(text)
            if not (t.is_punct or t.is_space)
        ]
        return tokens or [Token(text, 0)]

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        """Tokens whose text is the normalised word; offsets point into the original text."""
        base = self._base_tokens(message, attribute)
        if not base:
            return base
        normalised = self.normalizer.normalize_words([token.text for token in base])
        tokens: list[Token] = []
        kept = -1
        for word, first, last in normalised:
            typed = " ".join(t.text for t in base[first : last + 1])
            if self.keep_original and first > kept and typed.lower() != word.lower():
                # The typed word(s), flagged so that featurizers of meaning can skip them.
                for t in base[first : last + 1]:
                    tokens.append(Token(t.text, t.start, t.end, data={ORIGINAL_FLAG: True}))
                kept = last
            tokens.append(Token(word, base[first].start, base[last].end))
        return self._apply_token_pattern(tokens)
