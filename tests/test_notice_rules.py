"""The "notice first" rules stay copies of the plain rules plus the notice.

While an outage notice is published, the rules in data/rules/service_outage.yml answer
greetings, outage reports and login problems. Take the notice steps out of such a rule and
what remains must be the plain rule for the same intent, so a change to a plain rule (a new
menu after the greeting, another answer) that is not made to its notice rule fails here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SLOT = "outage_notice"
SHOW = {"action": "action_show_outage_notice"}


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def all_rules() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for path in sorted((ROOT / "data" / "rules").glob("*.yml")):
        rules.extend(load(path).get("rules") or [])
    return rules


def sets_notice(step: dict[str, Any]) -> bool:
    return any(SLOT in entry for entry in step.get("slot_was_set") or [])


def notice_rules() -> dict[str, dict[str, Any]]:
    """Rules that show the notice, by their intent."""
    found = {}
    for rule in all_rules():
        steps = rule.get("steps") or []
        if SHOW in steps:
            found[steps[0]["intent"]] = rule
    return found


def plain_rule(intent: str) -> dict[str, Any]:
    """The rule for ``intent`` that knows nothing of the notice."""
    [rule] = [
        rule
        for rule in all_rules()
        if (rule.get("steps") or [{}])[0] == {"intent": intent}
        and not rule.get("condition")
        and not any(sets_notice(s) or s == SHOW for s in rule["steps"])
    ]
    return rule


def checked_intents() -> list[str]:
    domain = load(ROOT / "domain.yml")
    [mapping] = domain["slots"][SLOT]["mappings"]
    assert mapping["action"] == "action_check_outage_notice"
    return list(mapping["intent"])


def test_every_checked_intent_has_a_notice_rule_and_no_other() -> None:
    assert sorted(notice_rules()) == sorted(checked_intents())


@pytest.mark.parametrize("intent", checked_intents())
def test_notice_rule_is_the_plain_rule_plus_the_notice(intent: str) -> None:
    steps = notice_rules()[intent]["steps"]
    # The slot is set right after the message, and emptied by the action that shows it.
    assert sets_notice(steps[1]), steps
    shown = steps.index(SHOW)
    assert steps[shown + 1] == {"slot_was_set": [{SLOT: None}]}, steps
    rest = [s for i, s in enumerate(steps) if i not in (1, shown, shown + 1)]
    assert rest == plain_rule(intent)["steps"]
