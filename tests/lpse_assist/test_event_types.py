"""The remembered event-class lookup answers exactly as Rasa's own search."""

from __future__ import annotations

import pytest
from rasa.shared.core.events import Event, UserUttered
from rasa.shared.utils.common import all_subclasses

from lpse_assist import event_types


def rasa_answer(name: str, default: type[Event] | None = None) -> object:
    """What Rasa 3.6's search returns (or the error it raises)."""
    for cls in all_subclasses(Event):
        if cls.type_name == name:
            return cls
    if name == "topic":
        return None
    if default is not None:
        return default
    return ValueError


def ours(name: str, default: type[Event] | None = None) -> object:
    try:
        return Event.resolve_by_type(name, default)
    except ValueError:
        return ValueError


def test_every_event_name_resolves_as_rasa_resolves_it() -> None:
    event_types.install()
    event_types.install()  # twice: no change
    assert event_types.installed()
    names = sorted({cls.type_name for cls in all_subclasses(Event)})
    assert "user" in names and "session_started" in names
    for _ in range(2):  # the first round asks Rasa, the second is remembered
        for name in names:
            assert ours(name) is rasa_answer(name), name
    for name in ("topic", "no_such_event", ""):
        assert ours(name) is rasa_answer(name)
        assert ours(name, UserUttered) is rasa_answer(name, UserUttered)


def test_events_round_trip_through_the_remembered_lookup() -> None:
    event_types.install()
    data = UserUttered("halo", {"name": "greet", "confidence": 1.0}, message_id="SM1").as_dict()
    event = Event.from_parameters(data)
    assert isinstance(event, UserUttered) and event.message_id == "SM1"
    with pytest.raises(ValueError):
        Event.resolve_by_type("no_such_event")
