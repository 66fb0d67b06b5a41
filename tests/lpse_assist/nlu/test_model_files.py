"""A component's JSON file in the model: what train writes, load reads; none -> the default."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource

from lpse_assist.nlu.model_files import load_json, save_json


def test_saved_data_is_read_back(tmp_path: Path) -> None:
    storage, resource = LocalModelStorage(tmp_path), Resource("component")
    save_json(storage, resource, "data.json", {"kata": 3, "sistem": ["OSS", "é"]})
    assert load_json(storage, resource, "data.json", {}, "none") == {
        "kata": 3,
        "sistem": ["OSS", "é"],
    }


def test_missing_or_broken_file_gives_the_default_and_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    storage, resource = LocalModelStorage(tmp_path), Resource("component")
    with caplog.at_level(logging.WARNING):
        assert load_json(storage, resource, "data.json", [], "no names: off") == []
    assert "no names: off" in caplog.text
    with storage.write_to(resource) as directory:
        (directory / "data.json").write_text("{not json", encoding="utf-8")
    assert load_json(storage, resource, "data.json", {}, "broken") == {}
