"""The project's parts agree: every name used somewhere exists, every topic is tested,
and every fact the bot states can be traced to ../shared/."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lpse_assist.contacts import ACCOUNT_SYSTEMS
from lpse_assist.intents import CHANNEL_INTENTS
from lpse_assist.render import is_gsm7, render_message, render_turn, sms_segments, sms_variations
from scripts.validate import action_responses

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FAQ_INTENTS = [
    "login_wrong_credentials",
    "forgot_password",
    "forgot_user_id",
    "login_javascript_error",
    "login_data_not_synced",
    "ppk_change_unit",
    "ppk_replace_package",
    "sikap_integration_failed",
]
CLARIFYING_INTENTS = {
    "login_problem": "utter_ask_login_message",
    "forgot_account": "utter_ask_forgot_which",
    "ppk_changed": "utter_ask_ppk_which",
    "register_account": "utter_ask_other_lpse_account",
}
RASA_DEFAULT_ACTIONS = {"action_listen", "action_default_fallback", "action_restart"}


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


@pytest.fixture(scope="module")
def domain() -> dict[str, Any]:
    return load(ROOT / "domain.yml")


def story_files() -> list[Path]:
    return sorted((ROOT / "data" / "stories").glob("*.yml")) + sorted(
        (ROOT / "data" / "rules").glob("*.yml")
    )


def story_test_files() -> list[Path]:
    return sorted((ROOT / "tests" / "stories").glob("test_*.yml"))


def steps(path: Path) -> Iterator[dict[str, Any]]:
    content = load(path)
    for block in (content.get("stories") or []) + (content.get("rules") or []):
        yield from block.get("steps") or []


def actions_in(paths: list[Path]) -> set[str]:
    return {step["action"] for path in paths for step in steps(path) if "action" in step}


def custom_action_names() -> set[str]:
    """Names returned by `name()` of every Action class in actions/."""
    names = set()
    for path in (ROOT / "actions").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name == "name":
                for returned in ast.walk(node):
                    if (
                        isinstance(returned, ast.Return)
                        and isinstance(returned.value, ast.Constant)
                        and isinstance(returned.value.value, str)
                    ):
                        names.add(returned.value.value)
    return names


def test_every_action_in_stories_rules_and_tests_exists(domain: dict[str, Any]) -> None:
    known = set(domain["responses"]) | set(domain["actions"]) | RASA_DEFAULT_ACTIONS
    used = actions_in(story_files() + story_test_files())
    assert used - known == set()


def test_every_custom_action_in_the_domain_is_implemented(domain: dict[str, Any]) -> None:
    assert set(domain["actions"]) == custom_action_names()


def test_every_response_sent_by_code_exists(domain: dict[str, Any]) -> None:
    names, prefixes = action_responses((ROOT / "actions").glob("*.py"))
    assert names, "the scan found no response names in actions/: the scanner is broken"
    assert names - set(domain["responses"]) == set()
    for prefix in prefixes:
        assert any(name.startswith(prefix) for name in domain["responses"]), prefix


def test_every_button_payload_is_a_domain_intent(domain: dict[str, Any]) -> None:
    for name, variations in domain["responses"].items():
        for variation in variations:
            for button in variation.get("buttons") or []:
                payload = button["payload"]
                assert payload.startswith("/"), (name, payload)
                assert payload[1:] in domain["intents"], (name, payload)


def test_every_intent_has_a_rule_or_story_and_training_data(domain: dict[str, Any]) -> None:
    used = {step["intent"] for path in story_files() for step in steps(path) if "intent" in step}
    trained = set()
    for path in (ROOT / "data" / "nlu").glob("*.yml"):
        trained |= {block["intent"] for block in load(path).get("nlu") or [] if "intent" in block}
    for intent in domain["intents"]:
        assert intent in used, f"{intent} has no rule or story"
        assert intent in trained or intent in CHANNEL_INTENTS, f"{intent} has no examples"


@pytest.mark.parametrize("intent", FAQ_INTENTS)
def test_every_faq_intent_is_answered_asked_about_and_escalated(
    intent: str, domain: dict[str, Any]
) -> None:
    assert f"utter_answer_{intent}" in domain["responses"]
    assert f"utter_escalate_{intent}" in domain["responses"]
    mapped = {m["value"] for m in domain["slots"]["topic"]["mappings"]}
    assert intent in mapped
    rule_steps = [s for path in story_files() for s in steps(path)]
    index = rule_steps.index({"intent": intent})
    assert rule_steps[index + 1] == {"action": f"utter_answer_{intent}"}
    assert rule_steps[index + 2] == {"action": "utter_ask_solved"}


@pytest.mark.parametrize("intent,question", sorted(CLARIFYING_INTENTS.items()))
def test_unclear_problems_get_a_question_with_choices(
    intent: str, question: str, domain: dict[str, Any]
) -> None:
    buttons = domain["responses"][question][0]["buttons"]
    assert len(buttons) >= 2
    assert f"utter_escalate_{intent}" in domain["responses"]


# ---------------------------------------------------------------- provider accounts (issue 15)
# Topics whose answer depends on the LPSE's account system (contacts.yml provider_accounts).
ACCOUNT_SYSTEM_TOPICS = ["register_account", "verification_documents", "change_provider_data"]
ACCOUNT_TOPICS = [*ACCOUNT_SYSTEM_TOPICS, "agregasi_data"]
SMS_MAX_SEGMENTS = 3
# A menu stays readable on a phone: this many options at most, titles this short.
MENU_MAX_OPTIONS = 12
MENU_TITLE_MAX_CHARS = 34


@pytest.mark.parametrize("system", ACCOUNT_SYSTEMS)
@pytest.mark.parametrize("topic", ACCOUNT_SYSTEM_TOPICS)
def test_every_account_system_has_its_answer_with_an_sms_text(
    topic: str, system: str, domain: dict[str, Any]
) -> None:
    variations = domain["responses"][f"utter_answer_{topic}_{system}"]
    assert any(v.get("channel") == "sms" for v in variations)
    for variation in variations:
        text = variation["text"].lower()
        if system == "central":
            assert "inaproc" in text, (topic, system)
        if system == "per_lpse":
            assert "inaproc" not in text, (topic, system)
        if system == "unknown":
            # Never a guess: both systems, and the user is sent to the helpdesk to ask.
            assert "per lpse" in text and "inaproc" in text and "helpdesk" in text, topic


@pytest.mark.parametrize("topic", ACCOUNT_TOPICS)
def test_every_account_topic_escalates_and_is_in_the_menus(
    topic: str, domain: dict[str, Any]
) -> None:
    assert f"utter_escalate_{topic}" in domain["responses"]
    assert topic in {m["value"] for m in domain["slots"]["topic"]["mappings"]}
    for menu in ("utter_menu", "utter_default"):
        payloads = {b["payload"] for b in domain["responses"][menu][0]["buttons"]}
        assert f"/{topic}" in payloads, menu


@pytest.mark.parametrize("intent", ["service_outage", "ticket_status"])
def test_the_outage_and_ticket_status_topics_are_in_the_menus(
    intent: str, domain: dict[str, Any]
) -> None:
    # Issue 15: the greeting's menu, `ask_menu` and the fallback's menu list every new topic.
    for menu in ("utter_menu", "utter_default"):
        payloads = {b["payload"] for b in domain["responses"][menu][0]["buttons"]}
        assert f"/{intent}" in payloads, menu


def test_the_registration_question_is_answered_yes_or_no(domain: dict[str, Any]) -> None:
    for variation in domain["responses"]["utter_ask_other_lpse_account"]:
        assert [b["payload"] for b in variation["buttons"]] == ["/affirm", "/deny"]


@pytest.mark.parametrize("menu", ["utter_menu", "utter_default"])
def test_menus_stay_readable_and_the_sms_greeting_fits_three_segments(
    menu: str, domain: dict[str, Any]
) -> None:
    responses = domain["responses"]
    buttons = responses[menu][0]["buttons"]
    assert len(buttons) <= MENU_MAX_OPTIONS
    payloads = [b["payload"] for b in buttons]
    assert len(set(payloads)) == len(payloads), f"{menu} offers a topic twice"
    assert all(len(b["title"]) <= MENU_TITLE_MAX_CHARS for b in buttons), menu
    # What an SMS user gets on "halo" (greeting and menu in one turn), or on a menu request.
    turn = [sms_variations(responses["utter_greet"])[0], sms_variations(responses[menu])[0]]
    bodies = render_turn(turn, "sms")
    assert len(bodies) == 1
    assert is_gsm7(bodies[0]) and sms_segments(bodies[0]) <= SMS_MAX_SEGMENTS, bodies[0]


def test_every_sms_text_is_gsm7_and_fits_three_segments(domain: dict[str, Any]) -> None:
    checked = 0
    for name, variations in domain["responses"].items():
        for variation in sms_variations(variations):
            raw = render_message(variation, "whatsapp")  # as written, before sanitising
            assert is_gsm7(raw), name
            assert sms_segments(render_message(variation, "sms")) <= SMS_MAX_SEGMENTS, name
            checked += 1
    assert checked >= len(domain["responses"])


def test_every_rule_and_story_file_has_a_test_story_file() -> None:
    tested = {path.name.removeprefix("test_") for path in story_test_files()}
    for path in story_files():
        assert path.name in tested, f"{path.relative_to(ROOT)} has no test story file"


def test_every_action_is_exercised_by_a_test_story(domain: dict[str, Any]) -> None:
    in_rules = actions_in(story_files())
    in_tests = actions_in(story_test_files())
    assert in_rules - in_tests == set()


# ---------------------------------------------------------------- traceability
PHONE = re.compile(r"\(0\d{2,3}\)\s?\d{3,4}\s?\d{3,4}|\b\d{3,4}[- ]\d{3,4}[- ]\d{3,4}\b")
HOST = re.compile(r"\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:go\.id|id|com|org|net)\b", re.I)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def shared_text() -> str:
    if not SHARED.is_dir():
        pytest.skip("../shared/ is not beside the project")
    return "\n".join(p.read_text(errors="replace") for p in SHARED.rglob("*") if p.is_file())


def bot_texts() -> str:
    texts = [(ROOT / "domain.yml").read_text(encoding="utf-8")]
    texts.append((ROOT / "contacts.yml").read_text(encoding="utf-8"))
    return "\n".join(texts)


def test_every_phone_number_the_bot_states_is_in_shared() -> None:
    source = re.sub(r"\s", "", shared_text())
    found = PHONE.findall(bot_texts())
    assert found, "no phone number found: the pattern is broken"
    for phone in found:
        assert re.sub(r"\s", "", phone) in source, phone


def test_every_site_and_email_the_bot_states_is_in_shared() -> None:
    source = shared_text().lower()
    text = "\n".join(line for line in bot_texts().splitlines() if not line.lstrip().startswith("#"))
    hosts = set(HOST.findall(text)) | set(EMAIL.findall(text))
    assert "sikap.lkpp.go.id" in hosts, "the site pattern is broken"
    for host in hosts:
        assert host.lower() in source, host
