"""SentenceEncoderFeaturizer adds one 512-d sentence vector of the normalised words."""

from __future__ import annotations

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from lpse_assist.nlu.sentence_encoder import SentenceEncoderFeaturizer
from lpse_assist.nlu.tokenizer import NormalizingTokenizer


def featurizer(tmp_path) -> SentenceEncoderFeaturizer:  # type: ignore[no-untyped-def]
    return SentenceEncoderFeaturizer.create(
        SentenceEncoderFeaturizer.get_default_config(),
        LocalModelStorage(tmp_path),
        Resource("use"),
        ExecutionContext(GraphSchema({}), node_name="use"),
    )


def sentence_vector(message: Message) -> np.ndarray:
    sequence, sentence = message.get_dense_features(TEXT)
    assert sequence is None  # sentence features only
    assert sentence is not None
    return sentence.features


def test_adds_a_normalised_sentence_embedding(tmp_path) -> None:  # type: ignore[no-untyped-def]
    tokenizer = NormalizingTokenizer(NormalizingTokenizer.get_default_config())
    informal = Message.build(text="sy gk bs login")
    standard = Message.build(text="saya tidak bisa login")
    tokenizer.process([informal, standard])
    featurizer(tmp_path).process([informal, standard])
    a, b = sentence_vector(informal), sentence_vector(standard)
    assert a.shape == (1, 512)
    # Same normalised words, so the same vector.
    assert np.allclose(a, b)


def test_different_meanings_get_different_vectors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = TrainingData(
        [
            Message.build(text="lupa password", intent="forgot_password"),
            Message.build(text="cuaca hari ini", intent="out_of_scope"),
        ]
    )
    NormalizingTokenizer(NormalizingTokenizer.get_default_config()).process_training_data(data)
    featurizer(tmp_path).process_training_data(data)
    a, b = (sentence_vector(m)[0] for m in data.training_examples)
    cosine = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    assert cosine < 0.9


def test_typed_words_kept_by_the_tokenizer_are_not_embedded(tmp_path) -> None:  # type: ignore[no-untyped-def]
    plain = NormalizingTokenizer(NormalizingTokenizer.get_default_config())
    keeping = NormalizingTokenizer(
        {**NormalizingTokenizer.get_default_config(), "keep_original": True}
    )
    a, b = Message.build(text="sy gk bs login"), Message.build(text="sy gk bs login")
    plain.process([a])
    keeping.process([b])
    featurizer(tmp_path).process([a, b])
    assert np.allclose(sentence_vector(a), sentence_vector(b))
