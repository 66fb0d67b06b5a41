"""Rasa's check of an action server's answer, without checking its own schema every time.

After every call to the action server (escalations, ``action_close_topic``, the outage-notice
check after greetings and login problems) Rasa 3.6 validates the answer with
``jsonschema.validate(answer, schema)``. That function first validates the *schema* against
JSON Schema's meta-schema (``check_schema``), which for Rasa's events schema costs about 30 ms
of the event loop, and only then the answer (well under a millisecond). The profile of the
load benchmark (docs/benchmarks.md) shows it as the largest single cost of Rasa's event loop:
a quarter of it, during which no other conversation moves.

``install()`` replaces ``RemoteAction._validate_action_result`` with the same validation on a
validator built (and its schema checked) once per schema: the same answers pass, the same
ones fail with the same error (``jsonschema``'s best match, with Rasa's hint appended).
The channels call it when they are created; installing it twice is harmless.
"""

from __future__ import annotations

from typing import Any

from jsonschema import exceptions
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

# The hint Rasa 3.6 appends to the error message.
HINT = (
    ". Failed to validate Action server response from API, "
    "make sure your response from the Action endpoint is valid. "
    "For more information about the format visit "
    f"{DOCS_BASE_URL}/custom-actions"
)

_validators: dict[Any, Any] = {}
_rasa_validate: Any = None


def validator(spec: Any) -> Any:
    """The validator of the schema that ``spec()`` returns, built and checked on first use."""
    found = _validators.get(spec)
    if found is None:
        schema = spec()
        cls = validator_for(schema)
        cls.check_schema(schema)  # a broken schema fails as with jsonschema.validate
        found = _validators[spec] = cls(schema)
    return found


def _validate(self: RemoteAction, result: dict[str, Any]) -> bool:
    """``RemoteAction._validate_action_result`` (Rasa 3.6) on a remembered validator."""
    error = exceptions.best_match(validator(self.action_response_format_spec).iter_errors(result))
    if error is not None:
        error.message += HINT
        raise error
    return True


def install() -> None:
    """Validate action server answers on a remembered validator (once per process)."""
    global _rasa_validate
    if _rasa_validate is not None:
        return
    _rasa_validate = RemoteAction._validate_action_result
    RemoteAction._validate_action_result = _validate  # type: ignore[method-assign]


def installed() -> bool:
    """True once ``install`` ran in this process."""
    return _rasa_validate is not None
