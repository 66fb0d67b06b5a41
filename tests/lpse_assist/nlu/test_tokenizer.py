"""NormalizingTokenizer on real Rasa Message / TrainingData objects."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from lpse_assist.nlu.tokenizer import ORIGINAL_FLAG, NormalizingTokenizer


def make_tokenizer(**config: object) -> NormalizingTokenizer:
    return NormalizingTokenizer({**NormalizingTokenizer.get_default_config(), **config})


def token_texts(message: Message) -> list[str]:
    return [t.text for t in message.get(TOKENS_NAMES[TEXT])]


def test_tokens_hold_standard_words_and_original_offsets() -> None:
    text = "sy gk bs login, pw slh trs!"
    message = Message.build(text=text)
    make_tokenizer().process([message])
    tokens = message.get(TOKENS_NAMES[TEXT])
    assert [t.text for t in tokens] == [
        "saya",
        "tidak",
        "bisa",
        "login",
        "password",
        "salah",
        "terus",
    ]
    # Offsets point into the text as typed; the text itself is untouched.
    assert [text[t.start : t.end] for t in tokens] == [
        "sy",
        "gk",
        "bs",
        "login",
        "pw",
        "slh",
        "trs",
    ]
    assert message.get(TEXT) == text


def test_one_word_to_many_and_many_to_one() -> None:
    text = "gabisa java script"
    message = Message.build(text=text)
    make_tokenizer().process([message])
    tokens = message.get(TOKENS_NAMES[TEXT])
    assert [(t.text, text[t.start : t.end]) for t in tokens] == [
        ("tidak", "gabisa"),
        ("bisa", "gabisa"),
        ("javascript", "java script"),
    ]


def test_slash_between_words_splits() -> None:
    message = Message.build(text="user id/pw salah")
    make_tokenizer().process([message])
    assert token_texts(message) == ["user", "id", "password", "salah"]


def test_training_data_is_normalised_but_intents_are_not() -> None:
    data = TrainingData([Message.build(text="lupa pswd", intent="forgot_password")])
    make_tokenizer().process_training_data(data)
    example = data.training_examples[0]
    assert token_texts(example) == ["lupa", "password"]
    assert [t.text for t in example.get(TOKENS_NAMES[INTENT])] == ["forgot_password"]


def test_training_and_inference_give_the_same_features(tmp_path: Path) -> None:
    """The char n-gram featurizer sees the normalised words at training and at parse time."""
    tokenizer = make_tokenizer()
    data = TrainingData(
        [
            Message.build(text="lupa password", intent="forgot_password"),
            Message.build(text="javascript error", intent="login_javascript_error"),
        ]
    )
    tokenizer.process_training_data(data)
    featurizer = CountVectorsFeaturizer.create(
        {
            **CountVectorsFeaturizer.get_default_config(),
            "analyzer": "char_wb",
            "min_ngram": 1,
            "max_ngram": 4,
        },
        LocalModelStorage(tmp_path),
        Resource("char_ngrams"),
        ExecutionContext(GraphSchema({}), node_name="char_ngrams"),
    )
    featurizer.train(data)
    trained = data.training_examples[0]
    featurizer.process_training_data(data)
    incoming = Message.build(text="lupa pswd")
    tokenizer.process([incoming])
    featurizer.process([incoming])
    _, trained_sentence = trained.get_sparse_features(TEXT)
    _, incoming_sentence = incoming.get_sparse_features(TEXT)
    assert trained_sentence is not None and incoming_sentence is not None
    assert (trained_sentence.features != incoming_sentence.features).nnz == 0


def test_spacy_base_tokenizer_drops_punctuation() -> None:
    message = Message.build(text="pw-nya slh, gmn?")
    make_tokenizer(base_tokenizer="spacy").process([message])
    assert "bagaimana" in token_texts(message)
    assert "," not in token_texts(message)


def test_without_slang_lexicon_only_domain_terms_apply() -> None:
    message = Message.build(text="sy lupa pw")
    make_tokenizer(use_slang_lexicon=False).process([message])
    assert token_texts(message) == ["sy", "lupa", "password"]


def test_unknown_base_tokenizer_is_rejected() -> None:
    with pytest.raises(ValueError):
        make_tokenizer(base_tokenizer="nltk")


def test_fingerprint_changes_with_the_terms_file(tmp_path: Path) -> None:
    terms = tmp_path / "terms.yml"
    terms.write_text("replace:\n  bisa: [bs]\n", encoding="utf-8")
    before = NormalizingTokenizer.fingerprint_addon({"terms_file": str(terms)})
    terms.write_text("replace:\n  bisa: [bs, bsa]\n", encoding="utf-8")
    assert NormalizingTokenizer.fingerprint_addon({"terms_file": str(terms)}) != before


def test_keep_original_adds_the_typed_word_before_its_standard_form() -> None:
    message = Message.build(text="gabisa login java script")
    make_tokenizer(keep_original=True).process([message])
    tokens = message.get(TOKENS_NAMES[TEXT])
    assert [t.text for t in tokens] == [
        "gabisa",
        "tidak",
        "bisa",
        "login",
        "java",
        "script",
        "javascript",
    ]
    assert [bool(t.get(ORIGINAL_FLAG)) for t in tokens] == [
        True,
        False,
        False,
        False,
        True,
        True,
        False,
    ]
