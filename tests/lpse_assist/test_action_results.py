"""Action server answers are checked as Rasa checks them, with the schema checked once."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

from lpse_assist import action_results

VALID: list[dict[str, Any]] = [
    {},
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "topic", "value": None}], "responses": []},
    {
        "events": [
            {"event": "slot", "name": "outage_notice", "value": "SPSE sedang pemeliharaan"},
            {"event": "followup", "name": "action_listen"},
        ],
        "responses": [{"response": "utter_solved"}, {"text": "ok", "buttons": []}],
    },
]
INVALID: list[dict[str, Any]] = [
    {"events": {"event": "slot"}},  # not a list
    {"events": [{"event": "no_such_event"}]},
    {"events": [{"event": "slot"}]},  # no name
    {"responses": ["text instead of an object"]},
    {"events": [{"event": "user", "text": 5}]},
]


def rasa_outcome(result: dict[str, Any]) -> str:
    """What Rasa 3.6's own check says: 'ok' or the error's message and path."""
    try:
        jsonschema.validate(result, RemoteAction.action_response_format_spec())
    except ValidationError as error:
        return f"{error.message} @ {list(error.absolute_path)}"
    return "ok"


def our_outcome(result: dict[str, Any]) -> str:
    try:
        assert RemoteAction("action_x", None)._validate_action_result(result) is True
    except ValidationError as error:
        assert error.message.endswith(action_results.HINT)
        return f"{error.message.removesuffix(action_results.HINT)} @ {list(error.absolute_path)}"
    return "ok"


def test_the_same_answers_pass_and_fail_with_the_same_error() -> None:
    action_results.install()
    action_results.install()  # twice: no change
    assert action_results.installed()
    for result in VALID:
        assert rasa_outcome(result) == "ok"
        assert our_outcome(result) == "ok", result
    for result in INVALID:
        expected = rasa_outcome(result)
        assert expected != "ok", result
        assert our_outcome(result) == expected, result


def test_the_schema_is_checked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    action_results.install()
    checks: list[object] = []
    schema = RemoteAction.action_response_format_spec()
    validator_class = jsonschema.validators.validator_for(schema)
    original = validator_class.check_schema

    def counting(schema: Any) -> None:
        checks.append(schema)
        original(schema)

    monkeypatch.setattr(validator_class, "check_schema", staticmethod(counting))
    monkeypatch.setattr(action_results, "_validators", {})
    action = RemoteAction("action_x", None)
    for _ in range(5):
        for result in VALID:
            action._validate_action_result(result)
    assert len(checks) == 1


def test_a_broken_schema_still_fails_as_with_jsonschema(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> dict[str, Any]:
        return {"type": "no-such-type"}

    monkeypatch.setattr(action_results, "_validators", {})
    with pytest.raises(jsonschema.SchemaError):
        action_results.validator(broken)
