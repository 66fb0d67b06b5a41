"""Twilio settings come from the environment once; credentials.yml values win when given."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lpse_assist.channels.twilio import TwilioInput
from lpse_assist.settings import reset_settings_cache, twilio_settings

ENV = {
    "TWILIO_ACCOUNT_SID": "ACenv",
    "TWILIO_AUTH_TOKEN": "env-token",
    "TWILIO_SMS_NUMBER": "+15005550006",
    "TWILIO_WHATSAPP_NUMBER": "whatsapp:+14155238886",
    "TWILIO_WEBHOOK_URL": "https://bot.example.go.id/webhooks/twilio/webhook",
    "TWILIO_API_BASE_URL": "http://127.0.0.1:4010/",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    reset_settings_cache()
    yield monkeypatch
    reset_settings_cache()


def test_settings_read_from_environment(env: pytest.MonkeyPatch) -> None:
    settings = twilio_settings()
    assert settings.account_sid == "ACenv"
    assert settings.auth_token == "env-token"
    assert settings.webhook_url == ENV["TWILIO_WEBHOOK_URL"]
    assert settings.api_base_url == "http://127.0.0.1:4010"  # trailing slash dropped
    assert (settings.send_timeout, settings.send_attempts) == (10.0, 3)


def test_settings_are_read_once(env: pytest.MonkeyPatch) -> None:
    first = twilio_settings()
    env.setenv("TWILIO_AUTH_TOKEN", "changed")
    assert twilio_settings() is first
    reset_settings_cache()
    assert twilio_settings().auth_token == "changed"


@pytest.mark.parametrize(
    ("timeout", "attempts", "expected"),
    [("2.5", "4", (2.5, 4)), ("abc", "x", (10.0, 3)), ("0", "99", (0.5, 5)), ("", "0", (10.0, 1))],
)
def test_send_tuning_is_bounded(
    env: pytest.MonkeyPatch, timeout: str, attempts: str, expected: tuple[float, int]
) -> None:
    env.setenv("TWILIO_SEND_TIMEOUT", timeout)
    env.setenv("TWILIO_SEND_ATTEMPTS", attempts)
    reset_settings_cache()
    settings = twilio_settings()
    assert (settings.send_timeout, settings.send_attempts) == expected


def test_channel_from_credentials(env: pytest.MonkeyPatch) -> None:
    # As credentials.yml renders it: an unset optional value arrives as "".
    channel = TwilioInput.from_credentials(
        {
            "account_sid": "ACfile",
            "auth_token": "file-token",
            "sms_number": "",
            "whatsapp_number": "whatsapp:+62811",
            "webhook_url": "",
        }
    )
    assert isinstance(channel, TwilioInput)
    assert channel.account_sid == "ACfile"
    assert channel.sms_number == "+15005550006"  # empty in the file: from the environment
    assert channel.whatsapp_number == "whatsapp:+62811"
    assert channel.webhook_url == ENV["TWILIO_WEBHOOK_URL"]
    assert channel.sender.auth_token == "file-token"
    assert channel.sender.api_base_url == "http://127.0.0.1:4010"
    assert TwilioInput.name() == "twilio"
