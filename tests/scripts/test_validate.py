"""The validate wrapper fails on every warning except the two accepted kinds."""

from __future__ import annotations

from scripts.validate import unexpected_warnings


def warning(message: str) -> str:
    return f"/x/rasa/shared/utils/io.py:100: UserWarning: {message}"


def test_unused_response_sent_by_an_action_is_accepted() -> None:
    output = "\n".join(
        [
            warning(
                "The utterance 'utter_escalate_sikap_integration_failed' "
                "is not used in any story or rule."
            ),
            warning("The utterance 'utter_ask_rephrase' is not used in any story or rule."),
            warning("The utterance 'utter_default' is not used in any story or rule."),
            warning(
                "The intent 'send_media' is listed in the domain file, "
                "but is not found in the NLU training data."
            ),
        ]
    )
    assert unexpected_warnings(output) == []


def test_other_warnings_fail() -> None:
    output = "\n".join(
        [
            warning("The utterance 'utter_forgotten' is not used in any story or rule."),
            warning(
                "The intent 'greet' is listed in the domain file, "
                "but is not found in the NLU training data."
            ),
            warning("The example 'halo' was found labeled with multiple different intents."),
        ]
    )
    assert len(unexpected_warnings(output)) == 3
