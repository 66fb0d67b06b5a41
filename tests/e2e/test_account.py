"""End to end over the signed Twilio webhook: the provider-account conversations, for each
account system an operator can set in the contacts file (issue 15).

The bot, the action server and the Twilio stand-in are the real processes of ``twilio_bot``
(tests/conftest.py). The action server reads the contacts file on every call, so each test
rewrites it and the next message already follows the new setting, without a restart.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lpse_assist.render import is_gsm7
from tests.conftest import ROOT, TwilioBot
from tests.e2e.test_twilio import bot_responses_of_turn, new_user

pytestmark = pytest.mark.e2e

# Operator values for the tests only: nothing here is stated as a fact to real users.
SITE = "https://spse.contoh.invalid"
DOCUMENTS = ["Surat permohonan bermeterai (contoh operator)", "KTP direktur (contoh operator)"]


class Chat:
    """One phone talking to the bot through the Twilio stand-in."""

    def __init__(self, bot: TwilioBot, medium: str) -> None:
        self.bot = bot
        self.user = new_user(medium)
        self.medium = medium

    def say(self, text: str) -> tuple[str, list[str]]:
        """The reply bodies joined, and the names of the responses the bot sent."""
        result = self.bot.inbound(**{"from": self.user, "body": text})
        assert result["http_status"] == 200 and result["messages"], (text, result)
        body = "\n\n".join(m["body"] for m in result["messages"])
        if self.medium == "sms":
            assert is_gsm7(body) and "*" not in body, body
        names = bot_responses_of_turn(self.bot.tracker(self.user), result["message_sid"])
        return body, names


@pytest.fixture()
def configure(twilio_bot: TwilioBot) -> Iterator[Any]:
    """Rewrite the action server's contacts file; the shipped settings come back after."""
    path = twilio_bot.contacts_file
    assert path is not None
    shipped = yaml.safe_load((ROOT / "contacts.yml").read_text(encoding="utf-8"))

    def write(system: str, site: str = "", documents: list[str] | None = None) -> None:
        contacts = {
            **shipped,
            "provider_accounts": {
                "account_system": system,
                "site": site,
                "verification_documents": documents or [],
            },
        }
        Path(path).write_text(yaml.safe_dump(contacts, allow_unicode=True), encoding="utf-8")

    yield write
    Path(path).write_text((ROOT / "contacts.yml").read_text(encoding="utf-8"), encoding="utf-8")


def option_number(body: str, title: str) -> str:
    """The number the user types for the option with this title."""
    line = next(line for line in body.splitlines() if line.split(". ", 1)[-1] == title)
    return line.split(".", 1)[0]


def ask_to_register(chat: Chat) -> str:
    """The issue's question: it gets the question about another LPSE, never a reset."""
    body, names = chat.say("Bagaimana cara memiliki account di SPSE?")
    assert names == ["utter_ask_other_lpse_account"], names
    assert "Lupa Password" not in body and "LPSE lain" in body
    return body


@pytest.mark.parametrize("medium", ["sms", "whatsapp"])
def test_per_lpse_registration_then_the_documents(
    twilio_bot: TwilioBot, configure: Any, medium: str
) -> None:
    configure("per_lpse", site=SITE)
    chat = Chat(twilio_bot, medium)
    question = ask_to_register(chat)

    steps, names = chat.say(option_number(question, "Belum punya akun"))
    assert names == [
        "utter_answer_register_account_per_lpse",
        "utter_lpse_site",
        "utter_offer_verification_documents",
    ]
    assert "Pendaftaran Penyedia" in steps and "LPSE yang sama" in steps
    assert SITE in steps and "inaproc" not in steps

    documents, names = chat.say(option_number(steps, "Ya, tampilkan"))
    assert names == ["utter_answer_verification_documents_per_lpse", "utter_ask_solved"]
    assert "NPWP" in documents and "LPSE tempat Anda mendaftar" in documents


def test_an_account_at_another_lpse_gets_adp_not_a_second_registration(
    twilio_bot: TwilioBot, configure: Any
) -> None:
    configure("per_lpse")
    chat = Chat(twilio_bot, "whatsapp")
    question = ask_to_register(chat)
    answer, names = chat.say(option_number(question, "Sudah, di LPSE lain"))
    assert names == ["utter_answer_agregasi_data", "utter_ask_solved"]
    assert "tidak perlu mendaftar lagi" in answer and "Agregasi Data Penyedia" in answer
    assert "Pendaftaran Penyedia" not in answer


def test_central_registration_goes_to_the_central_account(
    twilio_bot: TwilioBot, configure: Any
) -> None:
    configure("central", site=SITE)
    chat = Chat(twilio_bot, "sms")
    question = ask_to_register(chat)
    steps, names = chat.say(option_number(question, "Belum punya akun"))
    assert names == [
        "utter_answer_register_account_central",
        "utter_offer_verification_documents",
    ]
    assert "akun.inaproc.id" in steps and "NIB" in steps
    assert SITE not in steps and "Pendaftaran Penyedia" not in steps

    declined, names = chat.say(option_number(steps, "Tidak perlu"))
    assert names == ["utter_offer_declined"]


def test_unknown_system_names_both_and_gives_the_helpdesk(
    twilio_bot: TwilioBot, configure: Any
) -> None:
    configure("unknown")
    chat = Chat(twilio_bot, "whatsapp")
    question = ask_to_register(chat)
    steps, names = chat.say(option_number(question, "Belum punya akun"))
    assert names[0] == "utter_answer_register_account_unknown"
    assert "utter_contact_lpse_support" in names and "utter_contact_call_center" in names
    assert names[-1] == "utter_offer_verification_documents"
    assert "akun.inaproc.id" in steps and "Pendaftaran Penyedia" in steps
    assert "(021) 2993 5577" in steps


def test_the_operators_document_list_is_given_and_follows_an_edit(
    twilio_bot: TwilioBot, configure: Any
) -> None:
    configure("per_lpse", documents=DOCUMENTS)
    chat = Chat(twilio_bot, "sms")
    answer, names = chat.say("dokumen apa saja yang harus dibawa waktu verifikasi penyedia")
    assert names == ["utter_answer_verification_documents_configured", "utter_ask_solved"]
    assert all(document in answer for document in DOCUMENTS)
    assert "SPPKP" not in answer

    # The operator empties the list: the next question gets the usual list, no restart.
    configure("per_lpse")
    answer, names = chat.say("berkas verifikasi akun penyedia apa aja")
    assert names == ["utter_answer_verification_documents_per_lpse", "utter_ask_solved"]
    assert "SPPKP" in answer and DOCUMENTS[0] not in answer


@pytest.mark.parametrize("system", ["per_lpse", "central", "unknown"])
def test_data_change_answer_follows_the_account_system(
    twilio_bot: TwilioBot, configure: Any, system: str
) -> None:
    configure(system)
    chat = Chat(twilio_bot, "sms")
    answer, names = chat.say("email perusahaan di akun spse mau diganti, gimana caranya")
    assert names[0] == f"utter_answer_change_provider_data_{system}"
    assert names[-1] == "utter_ask_solved"
    assert "Ganti Password" in answer and "sikap.lkpp.go.id" in answer
    assert ("user default" in answer) == (system != "central")
