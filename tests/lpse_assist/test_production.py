"""The production profile refuses development secrets; the embedded default does not."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from lpse_assist.channels.twilio import TwilioInput
from lpse_assist.production import (
    DEVELOPMENT_AUTH_TOKEN,
    development_secrets,
    is_loopback_host,
)
from lpse_assist.settings import reset_settings_cache

ROOT = Path(__file__).resolve().parents[2]
REAL_TOKEN = "0f3c9a1e5b7d2468ace13579bdf02468"
PUBLIC_URL = "https://bot.lpse.example.go.id/webhooks/twilio/webhook"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in ("POSTGRES_PASSWORD", "REDIS_PASSWORD"):
        monkeypatch.setenv(name, "a-long-random-secret")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", REAL_TOKEN)
    monkeypatch.setenv("TWILIO_WEBHOOK_URL", PUBLIC_URL)
    reset_settings_cache()
    yield monkeypatch
    reset_settings_cache()


def channel_credentials(filename: str) -> dict[str, object]:
    """The Twilio channel's entry of a credentials file, as Rasa passes it."""
    parsed = yaml.safe_load((ROOT / filename).read_text(encoding="utf-8"))
    channel = dict(parsed["lpse_assist.channels.twilio.TwilioInput"])
    # Placeholders stay empty here: the channel then reads the environment.
    return {k: ("" if isinstance(v, str) and v.startswith("${") else v) for k, v in channel.items()}


def test_the_development_token_is_the_makefiles() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(rf"^TWILIO_AUTH_TOKEN\s+\?=\s*{DEVELOPMENT_AUTH_TOKEN}$", makefile, re.M)
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert f"TWILIO_AUTH_TOKEN={DEVELOPMENT_AUTH_TOKEN}" in example


def test_production_credentials_have_only_twilio_and_ask_for_the_check() -> None:
    parsed = yaml.safe_load((ROOT / "credentials.production.yml").read_text(encoding="utf-8"))
    assert list(parsed) == ["lpse_assist.channels.twilio.TwilioInput"]
    assert parsed["lpse_assist.channels.twilio.TwilioInput"]["production"] is True
    development = yaml.safe_load((ROOT / "credentials.yml").read_text(encoding="utf-8"))
    assert "production" not in development["lpse_assist.channels.twilio.TwilioInput"]


@pytest.mark.parametrize(
    ("token", "url", "problem"),
    [
        ("", PUBLIC_URL, "TWILIO_AUTH_TOKEN is empty"),
        ("  ", PUBLIC_URL, "TWILIO_AUTH_TOKEN is empty"),
        (DEVELOPMENT_AUTH_TOKEN, PUBLIC_URL, "development value"),
        (REAL_TOKEN, "http://bot.lpse.example.go.id/webhooks/twilio/webhook", "public host"),
        (REAL_TOKEN, "HTTP://203.0.113.7:8080/webhooks/twilio/webhook", "public host"),
    ],
)
def test_development_settings_are_named(
    env: pytest.MonkeyPatch, token: str, url: str, problem: str
) -> None:
    problems = development_secrets(token, url)
    assert len(problems) == 1 and problem in problems[0], problems


def test_placeholder_passwords_are_refused(env: pytest.MonkeyPatch) -> None:
    env.setenv("REDIS_PASSWORD", "change-me-redis-password")
    assert development_secrets(REAL_TOKEN, PUBLIC_URL) == [
        "REDIS_PASSWORD is the placeholder from .env.example"
    ]


@pytest.mark.parametrize(
    "url",
    [
        PUBLIC_URL,
        "",  # rebuilt from the request (X-Forwarded-Proto)
        "http://127.0.0.1:8080/webhooks/twilio/webhook",
        "http://localhost/webhooks/twilio/webhook",
        "http://[::1]:5005/webhooks/twilio/webhook",
    ],
)
def test_fit_settings_pass(env: pytest.MonkeyPatch, url: str) -> None:
    assert development_secrets(REAL_TOKEN, url) == []


def test_loopback_hosts() -> None:
    assert is_loopback_host("127.0.0.2") and is_loopback_host("::1")
    assert not is_loopback_host("10.0.0.1") and not is_loopback_host("bot.example.go.id")


def test_production_channel_exits_with_a_clear_message(env: pytest.MonkeyPatch) -> None:
    env.setenv("TWILIO_AUTH_TOKEN", DEVELOPMENT_AUTH_TOKEN)
    reset_settings_cache()
    with pytest.raises(SystemExit) as exited:
        TwilioInput.from_credentials(channel_credentials("credentials.production.yml"))
    message = str(exited.value.code)
    assert "refuses to start in production" in message
    assert "TWILIO_AUTH_TOKEN is the development value" in message


def test_production_channel_starts_with_real_settings(env: pytest.MonkeyPatch) -> None:
    channel = TwilioInput.from_credentials(channel_credentials("credentials.production.yml"))
    assert isinstance(channel, TwilioInput)
    assert channel.webhook_url == PUBLIC_URL


def test_embedded_default_keeps_its_development_values(env: pytest.MonkeyPatch) -> None:
    env.setenv("TWILIO_AUTH_TOKEN", DEVELOPMENT_AUTH_TOKEN)
    env.setenv("TWILIO_WEBHOOK_URL", "")
    reset_settings_cache()
    given = channel_credentials("credentials.yml")
    assert isinstance(TwilioInput.from_credentials(given), TwilioInput)
