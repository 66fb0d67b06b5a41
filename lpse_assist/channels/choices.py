"""Numbered choices: a typed "2" picks option 2 of the bot's last question, on every channel.

People type the number of an option instead of tapping a button (on WhatsApp and SMS there are
no buttons at all); without this a bare "2" would go to the NLU model and land on a random
intent. The options are read from the tracker, so a reply works on any replica.

One rule for every channel (REST and Twilio):

* the number of an option of the last bot message with options since the user last spoke:
  that option's payload goes to Rasa, as if the user had tapped the button;
* a number that is no option of that message ("7" under three options): the same options are
  shown again and nothing goes to Rasa. The question still stands, so the user can simply
  pick again; a jump to the main menu would throw away the question they were answering;
* a number when the bot asked nothing (no options since the user last spoke): the menu
  (``/ask_menu``, a trained intent), the list the user most likely wants to pick from.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rasa.shared.core.events import BotUttered, Event, UserUttered

from lpse_assist.render import message_buttons

# A bare number when the last bot message had no options: show the menu (a trained intent).
INTENT_MENU = "/ask_menu"

# "2", "2.", "2)", "#2", "no 2", "no. 2", "nomor 2", "pilih 2", "pilih no 2", "opsi 2".
_CHOICE_RE = re.compile(
    r"^(?:(?:pilih|pilihan|opsi|nomor|nomer|nmr|no|angka|option)\s*\.?\s*){0,2}"
    r"#?\s*(\d{1,3})\s*[.)]?$",
    re.IGNORECASE,
)


def parse_choice(text: str) -> int | None:
    """The option number in a bare numbered reply ("2", "no 2", "pilih 2"), else ``None``."""
    match = _CHOICE_RE.match(text.strip())
    return int(match.group(1)) if match else None


def last_bot_message_with_options(events: Sequence[Event]) -> dict[str, Any] | None:
    """The last bot message with options since the user last spoke, as a Rasa message dict."""
    for event in reversed(events):
        if isinstance(event, UserUttered):
            return None
        if isinstance(event, BotUttered):
            message = event.message()
            if message_buttons(message):
                return message
    return None


@dataclass(frozen=True)
class Choice:
    """What a numbered reply stands for: a payload for Rasa, or options to show again."""

    number: int
    # What goes to Rasa instead of the typed text (None when the options are shown again).
    payload: str | None = None
    # The bot message whose options are shown again (out-of-range number), else None.
    repeat: dict[str, Any] | None = None


def resolve_choice(text: str, events: Sequence[Event]) -> Choice | None:
    """The choice a typed number makes in this conversation, or ``None`` if it is no number."""
    number = parse_choice(text)
    if number is None:
        return None
    options = last_bot_message_with_options(events)
    if options is None:
        return Choice(number, payload=INTENT_MENU)
    buttons = message_buttons(options)
    if not 1 <= number <= len(buttons):
        return Choice(number, repeat=options)
    button = buttons[number - 1]
    # A button without payload or title is malformed: the menu rather than an empty message.
    return Choice(number, payload=str(button.get("payload") or button.get("title") or INTENT_MENU))
