"""End to end over the REST channel: whole conversations through the real Rasa server and
action server, the way a web front end (or the evaluation) talks to the assistant."""

from __future__ import annotations

import re
import urllib.error
import uuid
from typing import Any

import pytest

from tests.conftest import TwilioBot, _http

pytestmark = pytest.mark.e2e


class Conversation:
    """One user talking to the bot over `POST /webhooks/rest/webhook`."""

    def __init__(self, bot: TwilioBot) -> None:
        self.url = f"{bot.rasa_url}/webhooks/rest/webhook"
        self.sender = f"rest-{uuid.uuid4().hex[:10]}"

    def say(self, text: str) -> list[dict[str, Any]]:
        replies: list[dict[str, Any]] = _http(
            "POST", self.url, {"sender": self.sender, "message": text}
        )
        assert replies, f"no reply to {text!r}"
        return replies

    def say_text(self, text: str) -> str:
        return "\n".join(r.get("text", "") for r in self.say(text))


def button_payloads(replies: list[dict[str, Any]]) -> list[str]:
    return [b["payload"] for r in replies for b in r.get("buttons") or []]


def test_vague_login_then_numbered_choice_then_escalation(twilio_bot: TwilioBot) -> None:
    chat = Conversation(twilio_bot)
    greeting = chat.say("halo")
    assert "/login_problem" in button_payloads(greeting)

    question = chat.say("gak bisa login")
    assert button_payloads(question)[:3] == [
        "/login_wrong_credentials",
        "/login_javascript_error",
        "/login_data_not_synced",
    ]
    answer = chat.say_text("2")  # the Java Script error option, typed as a number
    assert "LPSE lain" in answer and "(021) 2993 5577" in answer
    assert "teratasi" in answer

    escalation = chat.say_text("belum")
    assert "LPSE Support" in escalation
    assert "(021) 5020 5577" in escalation


def test_number_without_options_shows_the_menu(twilio_bot: TwilioBot) -> None:
    chat = Conversation(twilio_bot)
    chat.say("terima kasih")
    assert "/sikap_integration_failed" in button_payloads(chat.say("7"))


def test_unclear_ppk_change_branches_and_closes_politely(twilio_bot: TwilioBot) -> None:
    chat = Conversation(twilio_bot)
    assert button_payloads(chat.say("ppk kami diganti")) == [
        "/ppk_change_unit",
        "/ppk_replace_package",
    ]
    answer = chat.say_text("1")
    assert "tidak perlu mendaftar ulang" in answer and "SK PPK" in answer
    assert "Syukurlah" in chat.say_text("sudah, terima kasih")


def test_topic_switch_in_the_middle_of_a_clarification(twilio_bot: TwilioBot) -> None:
    chat = Conversation(twilio_bot)
    chat.say("gagal masuk lpse")
    answer = chat.say_text("integrasi data sikap gagal terus")
    assert "sikap.lkpp.go.id" in answer


def test_out_of_scope_and_bot_challenge_give_the_contacts(twilio_bot: TwilioBot) -> None:
    chat = Conversation(twilio_bot)
    assert "Call Center LKPP" in chat.say_text("ini bot atau manusia?")
    assert "belum dapat saya jawab" in chat.say_text("cara daftar akun dapodik sekolah")


def test_a_solved_problem_is_not_escalated_later(twilio_bot: TwilioBot) -> None:
    """After "sudah bisa" the topic is closed: asking for the helpdesk later gets the general
    escalation, not the solved problem's office and documents."""
    chat = Conversation(twilio_bot)
    assert "Lupa Password" in chat.say_text("lupa password spse")
    assert "Syukurlah" in chat.say_text("sudah bisa")
    escalation = chat.say_text("minta nomor cs")
    assert "Untuk bantuan petugas" in escalation
    assert "berkop perusahaan" not in escalation  # the forgotten-password documents
    assert "LPSE Support" in escalation


def test_two_unclear_messages_escalate_with_a_ticket(twilio_bot: TwilioBot) -> None:
    chat = Conversation(twilio_bot)
    assert "tulis ulang" in chat.say_text("/nlu_fallback")
    escalation = chat.say_text("/nlu_fallback")
    assert "masih belum memahami" in escalation
    assert re.search(r"nomor tiket \*?LPSE-\d{8}-\d{4}", escalation), escalation


@pytest.mark.parametrize(
    "sender", ["whatsapp:+6281234567890", "+6281234567890", " WhatsApp:+62812"]
)
def test_rest_cannot_speak_as_a_whatsapp_or_sms_user(twilio_bot: TwilioBot, sender: str) -> None:
    # Development server (credentials.yml): the REST channel is there, Twilio ids are not.
    with pytest.raises(urllib.error.HTTPError) as refused:
        _http(
            "POST",
            f"{twilio_bot.rasa_url}/webhooks/rest/webhook",
            {"sender": sender, "message": "belum"},
        )
    assert refused.value.code == 403
    assert "reserved for WhatsApp and SMS" in refused.value.read().decode()
