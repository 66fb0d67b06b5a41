"""The pipelines the harness compares: Rasa's default, ours (config.yml) and its ablations."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent

OUR_TOKENIZER = "lpse_assist.nlu.tokenizer.NormalizingTokenizer"
DENSE_FEATURIZER = "lpse_assist.nlu.sentence_encoder.SentenceEncoderFeaturizer"
SPELLING = "lpse_assist.nlu.spelling.VocabularySpellingCorrector"
# Seed given to Rasa's default DIETClassifier (it has none): the comparison is repeatable.
DEFAULT_SEED = 1

Pipeline = list[dict[str, Any]]
# (name, description, pipeline) of one compared pipeline.
Named = tuple[str, str, Pipeline]


def rasa_default_pipeline() -> Pipeline:
    """The pipeline Rasa 3.6 fills in when config.yml has none (as after `rasa init`).

    Only a random seed is added to its DIETClassifier, so that its figures do not move between
    runs (unseeded, they moved by 0.01-0.04 on the held-out sets).
    """
    import rasa.engine.recipes.default_recipe as recipe_module

    path = Path(recipe_module.__file__).parent / "config_files" / "default_config.yml"
    return with_seed(yaml.safe_load(path.read_text(encoding="utf-8"))["pipeline"], DEFAULT_SEED)


def without_normaliser(pipeline: Pipeline) -> Pipeline:
    """`pipeline` with Rasa's WhitespaceTokenizer in place of ours and no spelling corrector."""
    return [
        {"name": "WhitespaceTokenizer"} if step["name"] == OUR_TOKENIZER else dict(step)
        for step in without_spelling(pipeline)
    ]


def without_spelling(pipeline: Pipeline) -> Pipeline:
    """`pipeline` without the spelling corrector."""
    return [dict(step) for step in pipeline if step["name"] != SPELLING]


def with_option(pipeline: Pipeline, component: str, option: str, value: Any) -> Pipeline:
    """`pipeline` with one option of `component` set to `value`, every other step as it is."""
    return [
        {**step, option: value} if step["name"] == component else dict(step) for step in pipeline
    ]


def with_seed(pipeline: Pipeline, seed: int) -> Pipeline:
    """`pipeline` with `seed` as DIETClassifier's random seed (the other steps unchanged)."""
    return with_option(pipeline, "DIETClassifier", "random_seed", seed)


def with_splitting(pipeline: Pipeline) -> Pipeline:
    """`pipeline` whose spelling corrector splits run-together words (off in config.yml)."""
    return with_option(pipeline, SPELLING, "split_words", True)


def without_variant_correction(pipeline: Pipeline) -> Pipeline:
    """`pipeline` whose spelling corrector does not correct misspelt informal spellings."""
    return with_option(pipeline, SPELLING, "correct_variants", False)


def without_chat_rules(pipeline: Pipeline) -> Pipeline:
    """`pipeline` whose normaliser has no chat rules (laughter, stretched last letter,
    remembered item)."""
    # The corrector normalises split parts and misspelt variants with the same settings.
    return with_option(
        with_option(pipeline, OUR_TOKENIZER, "chat_rules", False), SPELLING, "chat_rules", False
    )


def with_spacy_tokens(pipeline: Pipeline) -> Pipeline:
    """`pipeline` whose tokenizer splits words with spacy.blank("id") before normalising."""
    return with_option(pipeline, OUR_TOKENIZER, "base_tokenizer", "spacy")


def with_dense(pipeline: Pipeline) -> Pipeline:
    """`pipeline` with the sentence-encoder featurizer added just before the classifier."""
    result: Pipeline = []
    for step in pipeline:
        if step["name"] == "DIETClassifier":
            result.append({"name": DENSE_FEATURIZER})
        if step["name"] != DENSE_FEATURIZER:
            result.append(dict(step))
    return result


def fallback_thresholds(pipeline: Sequence[dict[str, Any]]) -> tuple[float, float]:
    """The FallbackClassifier's threshold and ambiguity threshold (Rasa's defaults if absent)."""
    for step in pipeline:
        if step["name"] == "FallbackClassifier":
            return float(step.get("threshold", 0.3)), float(step.get("ambiguity_threshold", 0.1))
    return 0.0, 0.0


def pipelines(ablations: bool, config: Path = ROOT / "config.yml") -> list[Named]:
    """(name, description, pipeline) of every pipeline to compare; ours comes from `config`."""
    ours = yaml.safe_load(config.read_text(encoding="utf-8"))["pipeline"]
    result = [
        ("rasa-default", "Rasa 3.6 default pipeline (`rasa init`)", rasa_default_pipeline()),
        (
            "ours-no-normaliser",
            "config.yml with WhitespaceTokenizer, no spelling corrector",
            without_normaliser(ours),
        ),
        ("ours", "config.yml", ours),
    ]
    if ablations:
        result += [
            (
                "ours-spacy-tokens",
                "config.yml, spaCy `id` tokenizer under the normaliser",
                with_spacy_tokens(ours),
            ),
            (
                "ours-with-dense",
                "config.yml plus the sentence-encoder features (512-d USE)",
                with_dense(ours),
            ),
            (
                "ours-no-spelling",
                "config.yml without the spelling corrector",
                without_spelling(ours),
            ),
            (
                "ours-with-split",
                "config.yml, run-together words split into training words",
                with_splitting(ours),
            ),
            (
                "ours-no-chat-rules",
                "config.yml, normaliser without laughter, stretched-letter "
                "and remembered-item rules",
                without_chat_rules(ours),
            ),
            (
                "ours-no-variants",
                "config.yml, misspelt informal spellings (`amkasih`) not corrected",
                without_variant_correction(ours),
            ),
        ]
    return result


def chosen_pipelines(
    ablations: bool, config: Path = ROOT / "config.yml", only: Sequence[str] | None = None
) -> list[Named]:
    """The pipelines of a run: with ablations or not, ours from `config`, kept by `only`."""
    return [named for named in pipelines(ablations, config) if not only or named[0] in only]
