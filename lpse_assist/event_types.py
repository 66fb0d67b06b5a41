"""Rasa's event deserialisation without its linear class search (Rasa 3.6).

Every tracker load turns each stored event (a JSON dict) back into an ``Event`` object, and
``Event.resolve_by_type`` finds the class for the event's ``event`` name by walking all
subclasses of ``Event`` again, recursively, with an ``inspect.isabstract`` check for each:
for every single event. The profile of one message (docs/benchmarks.md) shows that walk as
the largest single cost of a tracker load: about 30 ms of a 200-event load, 2 ms with the
lookup remembered.

``install()`` puts a memo in front of Rasa's own function: the first lookup of a name asks
Rasa's (so the answer is the one Rasa gives), later lookups of that name reuse it. Names Rasa
does not know are never remembered, so they behave exactly as before (the default, ``None``
for the old ``topic`` event, or ``ValueError``). The channels call it when they are created;
it changes nothing else and installing it twice is harmless.
"""

from __future__ import annotations

from typing import Any

from rasa.shared.core.events import Event

_known: dict[str, type[Event]] = {}
_rasa_resolve: Any = None


def _resolve(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
    """``Event.resolve_by_type`` with the classes of names already seen remembered."""
    known = _known.get(type_name)
    if known is not None:
        return known
    found: type[Event] | None = _rasa_resolve(type_name, default)
    if found is not None and found is not default and found.type_name == type_name:
        _known[type_name] = found
    return found


def install() -> None:
    """Remember event classes by name in ``Event.resolve_by_type`` (once per process)."""
    global _rasa_resolve
    if _rasa_resolve is not None:
        return
    _rasa_resolve = Event.resolve_by_type
    Event.resolve_by_type = staticmethod(_resolve)  # type: ignore[assignment,method-assign]


def installed() -> bool:
    """True once ``install`` ran in this process."""
    return _rasa_resolve is not None
