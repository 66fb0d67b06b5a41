"""Where Rasa 3.6 spends a message's time for nothing, each fixed in its own module.

* ``event_types``: tracker loads without Rasa's class search for every stored event;
* ``action_results``: action server answers checked without re-checking Rasa's schema;
* ``tracker_io``: the SQL tracker store's loads and saves off the event loop.

Each keeps Rasa's behaviour (its tests compare with Rasa's own code). Our channels install
them when Rasa creates them, so every process that serves users has them; installing twice
is harmless.
"""

from __future__ import annotations

from lpse_assist import action_results, event_types, tracker_io


def install() -> None:
    """All of them, once per process."""
    event_types.install()
    action_results.install()
    tracker_io.install()


def installed() -> bool:
    """True when all of them are installed in this process."""
    return event_types.installed() and action_results.installed() and tracker_io.installed()
