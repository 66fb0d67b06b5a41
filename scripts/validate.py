"""`rasa data validate` where every warning fails, except two kinds that are expected here.

Rasa 3.6 exits 0 on several warnings even with --fail-on-warnings, so this script reads the
warnings itself. Accepted, because they are true by design:
- "utterance 'X' is not used in any story or rule" for responses that a custom action sends
  (found by reading `response=` names and `utter_<prefix>_{...}` f-strings in actions/) and
  `utter_default` (sent by Rasa's own fallback action), and responses that
  lpse_assist/resilience.py sends when the action server is down;
- "intent 'X' ... not found in the NLU training data" for the channel's payload-only intents.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from lpse_assist.intents import CHANNEL_INTENTS

ROOT = Path(__file__).resolve().parent.parent

RASA_DEFAULT_RESPONSES = {"utter_default"}
WARNING = re.compile(r"UserWarning: (.*)")
UNUSED_UTTERANCE = re.compile(r"The utterance '([^']+)' is not used in any story or rule")
INTENT_WITHOUT_DATA = re.compile(
    r"The intent '([^']+)' is listed in the domain file, but is not found in the NLU"
)


def action_responses(sources: Iterable[Path]) -> tuple[set[str], set[str]]:
    """Response names and name prefixes that custom actions send."""
    names: set[str] = set()
    prefixes: set[str] = set()
    for path in sources:
        text = path.read_text(encoding="utf-8")
        names.update(re.findall(r"""response\s*=\s*["'](utter_\w+)["']""", text))
        names.update(re.findall(r"""^\s*\w+\s*=\s*["'](utter_\w+)["']""", text, re.M))
        prefixes.update(re.findall(r"""f["'](utter_\w*?_)\{""", text))
    return names, prefixes


def unexpected_warnings(output: str) -> list[str]:
    """Warnings in the validator's output that are not accepted by design."""
    # Custom actions, and the answer Rasa sends itself when the action server is down.
    sources = [*(ROOT / "actions").glob("*.py"), ROOT / "lpse_assist" / "resilience.py"]
    names, prefixes = action_responses(sources)
    names |= RASA_DEFAULT_RESPONSES
    problems = []
    for line in output.splitlines():
        match = WARNING.search(line)
        if not match:
            continue
        message = match.group(1)
        unused = UNUSED_UTTERANCE.search(message)
        if unused and (unused.group(1) in names or unused.group(1).startswith(tuple(prefixes))):
            continue
        no_data = INTENT_WITHOUT_DATA.search(message)
        if no_data and no_data.group(1) in CHANNEL_INTENTS:
            continue
        problems.append(message)
    return problems


def main() -> int:
    """Run the validator; print and fail on any unexpected warning."""
    rasa = str(ROOT / ".venv" / "bin" / "rasa")
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false")
    result = subprocess.run(
        [rasa, "data", "validate", "--fail-on-warnings"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    output = result.stdout + result.stderr
    problems = unexpected_warnings(output)
    for problem in problems:
        print(f"validate: {problem}")
    if result.returncode != 0:
        print(output[-3000:])
        print("validate: rasa data validate failed")
        return 1
    if problems:
        print(f"validate: {len(problems)} warning(s); fix them (warnings fail)")
        return 1
    print("validate: domain, data and stories are valid (no warnings)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
