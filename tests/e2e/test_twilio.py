"""End to end: Twilio stand-in -> signed webhook -> real Rasa + actions -> TwiML -> SMS fallback.

Everything runs as separate processes over real HTTP (fixture ``twilio_bot`` in
``tests/conftest.py``); the twilio library signs the requests and the bot's twilio REST
client sends the SMS fallback to the stand-in.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from lpse_assist.channels.twilio.records import replies_table
from lpse_assist.render import is_gsm7, load_responses, render_turn, sms_variations
from tests.conftest import ROOT, TwilioBot

pytestmark = pytest.mark.e2e


def new_user(medium: str) -> str:
    number = "+62877" + "".join(random.choices("0123456789", k=7))
    return f"whatsapp:{number}" if medium == "whatsapp" else number


def wait_for(predicate: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    return predicate()


def bot_responses_of_turn(tracker: dict[str, Any], inbound_sid: str) -> list[str]:
    """Response names the bot uttered in reply to the user message ``inbound_sid``."""
    names: list[str] = []
    in_turn = False
    for event in tracker["events"]:
        if event["event"] == "user":
            in_turn = event.get("message_id") == inbound_sid
        elif in_turn and event["event"] == "bot":
            names.append(event["metadata"]["utter_action"])
    return names


def test_probe_passes_every_check(twilio_bot: TwilioBot) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "twilio_probe.py"),
            "--url",
            twilio_bot.webhook_url,
            "--rasa-api",
            twilio_bot.rasa_url,
        ],
        env=twilio_bot.env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{twilio_bot.logs()}"
    assert "FAIL" not in result.stdout
    assert result.stdout.count("PASS") >= 10


def test_sms_and_whatsapp_are_rendered_for_their_medium(twilio_bot: TwilioBot) -> None:
    sms = twilio_bot.inbound(**{"from": new_user("sms"), "body": "halo"})
    whatsapp = twilio_bot.inbound(**{"from": new_user("whatsapp"), "body": "halo"})
    assert sms["http_status"] == whatsapp["http_status"] == 200
    sms_body = "\n\n".join(m["body"] for m in sms["messages"])
    wa_body = "\n\n".join(m["body"] for m in whatsapp["messages"])
    assert is_gsm7(sms_body) and "*" not in sms_body
    assert sms_body != wa_body
    # The menu's options are numbered on both media.
    assert "\n1. " in sms_body and "\n1. " in wa_body


def test_undelivered_whatsapp_reply_falls_back_to_sms_once(twilio_bot: TwilioBot) -> None:
    user = new_user("whatsapp")
    plain = user.removeprefix("whatsapp:")
    result = twilio_bot.inbound(**{"from": user, "body": "halo", "delivery": "undelivered"})
    assert result["http_status"] == 200 and result["messages"]
    assert all(m["status_callback"] for m in result["messages"])

    sms = wait_for(lambda: [m for m in twilio_bot.sent(plain) if m["via"] == "rest"])
    assert len(sms) == 1, twilio_bot.logs()
    assert sms[0]["from"] == twilio_bot.env["TWILIO_SMS_NUMBER"]
    assert is_gsm7(sms[0]["body"])

    # It is the SMS rendering of the same reply: the SMS variations of the responses uttered.
    names = bot_responses_of_turn(twilio_bot.tracker(user), result["message_sid"])
    assert names, twilio_bot.tracker(user)["events"]
    responses = load_responses(Path(ROOT / "domain.yml"))
    expected = render_turn([sms_variations(responses[name])[0] for name in names], "sms")
    assert [m["body"] for m in sms] == expected

    # Twilio reports "failed" for the same reply again: still one SMS.
    for message in result["messages"]:
        assert twilio_bot.status(message["sid"], "failed")["http_status"] == 200
    time.sleep(2)
    assert len([m for m in twilio_bot.sent(plain) if m["via"] == "rest"]) == 1


def test_delivered_whatsapp_reply_sends_no_sms(twilio_bot: TwilioBot) -> None:
    user = new_user("whatsapp")
    result = twilio_bot.inbound(**{"from": user, "body": "halo", "delivery": "delivered"})
    assert result["messages"]
    time.sleep(2)
    assert [m for m in twilio_bot.sent(user.removeprefix("whatsapp:")) if m["via"] == "rest"] == []


def test_special_inputs_reach_their_intents(twilio_bot: TwilioBot) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {
                "body": "",
                "media": [{"url": "https://x.invalid/1.jpg", "content_type": "image/jpeg"}],
            },
            "send_media",
        ),
        (
            {"body": "", "extra": {"Latitude": "-6.2", "Longitude": "106.8"}},
            "send_unsupported_media",
        ),
        ({"body": ""}, "send_empty"),
    ]
    for payload, intent in cases:
        user = new_user("whatsapp")
        result = twilio_bot.inbound(**{"from": user, **payload})
        assert result["http_status"] == 200 and result["messages"], (intent, result)
        latest = twilio_bot.tracker(user)["latest_message"]
        assert latest["intent"]["name"] == intent


def test_custom_actions_run_in_a_conversation_with_reply_records(twilio_bot: TwilioBot) -> None:
    # WhatsApp turns leave reply records (for retries and the SMS fallback) in their own table
    # of the tracker database, not in the tracker Rasa loads and sends to the action server.
    user = new_user("whatsapp")
    menu = twilio_bot.inbound(**{"from": user, "body": "halo"})
    lines = menu["messages"][0]["body"].splitlines()
    support = next(line for line in lines if "helpdesk" in line.lower())
    number = support.split(".", 1)[0]
    reply = twilio_bot.inbound(**{"from": user, "body": number})
    assert reply["http_status"] == 200 and reply["messages"]
    tracker = twilio_bot.tracker(user)
    assert tracker["latest_message"]["intent"]["name"] == "contact_support"
    executed = [e["name"] for e in tracker["events"] if e["event"] == "action"]
    assert "action_escalate_support" in executed
    assert not [e for e in tracker["events"] if e["event"] == "agent"]
    engine = create_engine(f"sqlite:///{twilio_bot.env['TRACKER_DB']}")

    def records() -> list[Any]:
        with engine.connect() as conn:
            query = select(replies_table.c.medium, replies_table.c.sms_bodies)
            return list(conn.execute(query.where(replies_table.c.conversation_id == user)))

    # One reply record per WhatsApp turn, with its SMS version (written after the answer).
    rows = wait_for(lambda: records() if len(records()) == 2 else [])
    assert all(medium == "whatsapp" and bodies for medium, bodies in rows)
    assert "Encountered an exception" not in twilio_bot.logs()


def test_standin_command_line(twilio_bot: TwilioBot) -> None:
    user = new_user("sms")
    command = [sys.executable, "-m", "lpse_assist.twilio_local"]
    sent = subprocess.run(
        [*command, "send", "--standin", twilio_bot.standin_url, "--from", user, "halo"],
        env=twilio_bot.env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.startswith("HTTP 200")
    assert f"--- to {user} (" in sent.stdout and "\n1. " in sent.stdout
    listed = subprocess.run(
        [*command, "messages", "--standin", twilio_bot.standin_url],
        env=twilio_bot.env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert listed.returncode == 0 and user in listed.stdout


def test_rasa_log_never_shows_a_whole_phone_number(twilio_bot: TwilioBot) -> None:
    user = new_user("whatsapp")
    twilio_bot.inbound(**{"from": user, "body": "halo", "delivery": "undelivered"})
    wait_for(
        lambda: [m for m in twilio_bot.sent(user.removeprefix("whatsapp:")) if m["via"] == "rest"]
    )
    rasa_log = next(p.log for p in twilio_bot.processes if p.name == "rasa").read_text()
    assert "****" in rasa_log  # the channel did log, masked
    # Not inside a longer token: message SIDs are hex strings that can hold a run like 62...
    assert re.findall(r"(?<![0-9A-Za-z])\+?62\d{9,}(?![0-9A-Za-z])", rasa_log) == []
