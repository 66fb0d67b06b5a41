"""Questions about another system's account, registration or outage get the out-of-scope answer.

"Cara daftar akun OSS", "status pendaftaran SSCASN saya" or "SPAN lagi down?" use the same
words as SPSE's registration, ticket-status and outage questions, and the classifier alone
sends some of them to those intents: the user would then be told how to register at the LPSE.
This component runs after the classifier (before FallbackClassifier). When the predicted
intent is one of the guarded intents and the message names another system (the lookup table
`sistem_lain` of data/nlu/lookups.yml, which trainers extend) but none of SPSE's own names
(SPSE, LPSE, SIKaP, the central account at akun.inaproc.id, ...), the prediction becomes
`out_of_scope`: the two intents swap their confidences, so the ranking stays a distribution and
FallbackClassifier still asks to rephrase when the classifier was unsure.

A message that names SPSE as well ("akun e-katalog sudah ada, mau ikut tender di LPSE") is left
alone: the classifier decides. Names that are also ordinary words of SPSE questions (`inaproc`,
`gmail`, `wifi`) are left out of the check in config.yml.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from lpse_assist.nlu.model_files import load_json, save_json

logger = logging.getLogger(__name__)

NAMES_FILE = "other_systems.json"
CONFIDENCE = "confidence"


# Indonesian enclitics that users glue to a name: `SATUSEHATnya`, `erapornya`, `akunku`.
ENCLITICS = r"(?:nya|ku|mu)?"


def names_pattern(names: Iterable[str], whole_words: bool = True) -> re.Pattern[str] | None:
    """One case-insensitive pattern for `names` (None when there are none). Whole words: `oss`
    must not match `boss`, but may carry an enclitic (`dapodiknya`); with `whole_words=False` a
    name may go on (`lpsenya`, `spse4`)."""
    cleaned = sorted({n.strip().lower() for n in names if n.strip()}, key=len, reverse=True)
    if not cleaned:
        return None
    tail = ENCLITICS + r"(?![^\W_])" if whole_words else ""
    body = "|".join(re.escape(n).replace(r"\ ", r"[\s._-]*") for n in cleaned)
    return re.compile(rf"(?<![^\W_])(?:{body}){tail}", re.IGNORECASE)


class OtherSystemRule:
    """The rule itself, without Rasa: which messages go to out_of_scope."""

    def __init__(
        self,
        other_names: Iterable[str],
        own_names: Iterable[str],
        intents: Iterable[str],
        target: str = "out_of_scope",
    ) -> None:
        self.other = names_pattern(other_names)
        self.own = names_pattern(own_names, whole_words=False)
        self.intents = frozenset(intents)
        self.target = target

    def names_other_system(self, text: str) -> bool:
        """The text names another system and none of SPSE's own names."""
        if self.other is None or not self.other.search(text):
            return False
        return self.own is None or not self.own.search(text)

    def applies(self, intent: str | None, text: str) -> bool:
        """A guarded intent predicted for a message about another system."""
        return intent in self.intents and self.names_other_system(text)

    def redirect(
        self, prediction: dict[str, Any], ranking: Sequence[dict[str, Any]]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The prediction and ranking with the target in first place: it takes the predicted
        intent's confidence, and the predicted intent the target's (0 if it was not ranked)."""
        top = float(prediction.get(CONFIDENCE) or 0.0)
        previous = next((r for r in ranking if r.get(INTENT_NAME_KEY) == self.target), None)
        was = float(previous.get(CONFIDENCE) or 0.0) if previous else 0.0
        moved = {INTENT_NAME_KEY: prediction[INTENT_NAME_KEY], CONFIDENCE: was}
        new_top = {INTENT_NAME_KEY: self.target, CONFIDENCE: top}
        rest = [
            r
            for r in ranking
            if r.get(INTENT_NAME_KEY) not in (self.target, prediction[INTENT_NAME_KEY])
        ]
        ordered = sorted(
            [moved, *rest], key=lambda r: float(r.get(CONFIDENCE) or 0.0), reverse=True
        )
        return new_top, [new_top, *ordered]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class OtherSystemGuard(GraphComponent):
    """Sends a guarded intent to out_of_scope when the message is about another system."""

    @classmethod
    def required_components(cls) -> list[type]:
        """None that Rasa can check: it reads the intent classifier's prediction, so it comes
        after DIETClassifier in config.yml (a test checks it), but Rasa's graph validation
        looks for the required components among the training node's inputs, where no
        classifier is."""
        return []

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """The guarded intents, the lookup table with other systems' names, names of that table
        that are not checked, SPSE's own names, and the intent the message goes to."""
        return {
            "intents": [],
            "lookup": "sistem_lain",
            "ignore": [],
            "own_names": ["spse", "lpse", "sikap"],
            "target": "out_of_scope",
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        lookup_names: Sequence[str] = (),
    ) -> None:
        """Guard with the lookup table's names (empty before training)."""
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.lookup_names = list(lookup_names)
        ignored = {n.strip().lower() for n in self.config["ignore"]}
        self.rule = OtherSystemRule(
            [n for n in self.lookup_names if n.strip().lower() not in ignored],
            self.config["own_names"],
            self.config["intents"],
            self.config["target"],
        )

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> OtherSystemGuard:
        """A guard that knows no names until trained."""
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> OtherSystemGuard:
        """The guard with the names saved by `train`."""
        names = load_json(
            model_storage,
            resource,
            NAMES_FILE,
            [],
            "No other-system names in the model: the guard is off.",
        )
        return cls(config, model_storage, resource, names)

    def train(self, training_data: TrainingData) -> Resource:
        """Keep the names of the configured lookup table (a trainer's new name counts after
        the next `make train`)."""
        names = [
            str(name)
            for table in training_data.lookup_tables
            if table.get("name") == self.config["lookup"]
            for name in table.get("elements") or []
        ]
        if not names:
            logger.warning("Lookup table %r not found: the guard is off.", self.config["lookup"])
        save_json(self._model_storage, self._resource, NAMES_FILE, names)
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Nothing to learn from the examples."""
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Redirect each guarded prediction about another system."""
        for message in messages:
            prediction = message.get(INTENT)
            if not prediction:
                continue
            name = prediction.get(INTENT_NAME_KEY)
            if not self.rule.applies(name, message.get(TEXT) or ""):
                continue
            top, ranking = self.rule.redirect(prediction, message.get(INTENT_RANKING_KEY) or [])
            message.set(INTENT, top, add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
            logger.debug("Other system named: %s -> %s", name, self.rule.target)
        return messages
