"""One JSON file per trained component in the model archive (the spelling vocabulary, the
other systems' names): written by `train`, read back by `load`."""

from __future__ import annotations

import json
import logging
from typing import Any

from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage

logger = logging.getLogger(__name__)


def save_json(model_storage: ModelStorage, resource: Resource, name: str, data: Any) -> None:
    """Store `data` as the component's file `name`."""
    with model_storage.write_to(resource) as directory:
        (directory / name).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def load_json(
    model_storage: ModelStorage, resource: Resource, name: str, default: Any, missing: str
) -> Any:
    """The component's file `name`, or `default` (logging `missing` as a warning) when the
    model has none or it is unreadable: the component then runs without it."""
    try:
        with model_storage.read_from(resource) as directory:
            return json.loads((directory / name).read_text(encoding="utf-8"))
    except (ValueError, FileNotFoundError):
        logger.warning(missing)
        return default
