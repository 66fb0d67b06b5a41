"""The one numbered-choice rule both channels follow, on tracker events."""

from __future__ import annotations

from rasa.shared.core.events import BotUttered, Event, UserUttered

from lpse_assist.channels.choices import INTENT_MENU, Choice, resolve_choice

BUTTONS = [
    {"title": "Tidak bisa login", "payload": "/login_problem"},
    {"title": "Lupa password", "payload": "/forgot_password"},
]
QUESTION = BotUttered("Pilih topik:", {"buttons": BUTTONS})


def test_a_number_of_an_option_is_its_payload() -> None:
    assert resolve_choice("no 2", [UserUttered("halo"), QUESTION]) == Choice(
        2, payload="/forgot_password"
    )


def test_a_number_that_is_no_option_repeats_the_question() -> None:
    choice = resolve_choice("3", [UserUttered("halo"), QUESTION, BotUttered("Atau tulis.")])
    assert choice is not None and choice.payload is None
    assert choice.repeat is not None and choice.repeat["buttons"] == BUTTONS
    assert choice.repeat["text"] == "Pilih topik:"


def test_a_number_when_nothing_was_asked_asks_for_the_menu() -> None:
    assert resolve_choice("1", []) == Choice(1, payload=INTENT_MENU)
    # Options the user already answered do not count any more.
    answered: list[Event] = [QUESTION, UserUttered("lupa"), BotUttered("Klik Lupa Password.")]
    assert resolve_choice("1", answered) == Choice(1, payload=INTENT_MENU)


def test_text_is_no_choice() -> None:
    assert resolve_choice("lupa password 2", [QUESTION]) is None
