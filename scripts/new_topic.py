"""Trainers: create the files of a new topic (``make topic NAME=dapodik_login``).

Creates, from ``scripts/templates/topic/``:

* ``data/nlu/<name>.yml``: the intent with placeholder examples (TODO);
* ``data/rules/<name>.yml``: answer, then "is it solved?" (escalation comes for free);
* ``tests/stories/test_<name>.yml``: a solved and an escalated conversation;

and adds to ``domain.yml`` (comments and layout kept, ruamel.yaml round trip): the intent, the
``topic`` slot mapping (so the escalation knows the topic), and the responses
``utter_answer_<name>`` (with an SMS variation) and ``utter_escalate_<name>``. The project is
valid right after (``make validate``); the trainer then replaces every TODO text.

``--qa`` (``make topic NAME=... KIND=qa``) makes a simple question-and-answer topic instead,
from ``scripts/templates/qa/``: the question gets ``utter_answer_<name>`` and nothing else (no
"is it solved?", no escalation text, no slot mapping), for questions that are not a problem
to solve ("what is ADP?").
"""

from __future__ import annotations

import argparse
import io
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from string import Template
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import CommentMark
from ruamel.yaml.tokens import CommentToken

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = Path(__file__).resolve().parent / "templates" / "topic"
QA_TEMPLATES = Path(__file__).resolve().parent / "templates" / "qa"
NAME = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
# Names Rasa or the project use for something else.
RESERVED = {
    "nlu_fallback",
    "out_of_scope",
    "general",
    "unclear",
    "session_start",
    "restart",
    "back",
    "default",
    "menu",
    "answer",
    "escalate",
}
# New topics go before this intent (the start of the small-talk group).
INTENT_ANCHOR = "greet"


class TopicError(Exception):
    """The topic cannot be created (bad name, already there)."""


def _yaml(sequence: int = 4, offset: int = 2) -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True  # type: ignore[assignment]
    yaml.width = 4096  # type: ignore[assignment]  # never fold the long response texts
    yaml.indent(mapping=2, sequence=sequence, offset=offset)
    return yaml


def render(template: str, name: str, qa: bool = False) -> str:
    """A template with ``$name`` and ``$words`` (the name with spaces) filled in; ``qa``: the
    question-and-answer version where there is one (the examples file is the same)."""
    folder = QA_TEMPLATES if qa and (QA_TEMPLATES / template).exists() else TEMPLATES
    text = (folder / template).read_text(encoding="utf-8")
    return Template(text).substitute(name=name, words=name.replace("_", " "))


def check_name(name: str, domain: Any, root: Path) -> None:
    """Refuse names that are malformed, reserved or already in use."""
    if not NAME.match(name) or not 3 <= len(name) <= 50:
        raise TopicError(
            f"NAME={name!r}: use 3-50 lower-case letters, digits and single underscores, "
            "starting with a letter (e.g. dapodik_login)"
        )
    if name in RESERVED:
        raise TopicError(f"NAME={name!r} is reserved; choose another name")
    if name in (domain.get("intents") or []):
        raise TopicError(f"intent {name!r} already exists in domain.yml")
    for response in (f"utter_answer_{name}", f"utter_escalate_{name}"):
        if response in (domain.get("responses") or {}):
            raise TopicError(f"response {response!r} already exists in domain.yml")
    for path in target_files(name, root):
        if path.exists():
            raise TopicError(f"{path.relative_to(root)} already exists")


def target_files(name: str, root: Path) -> list[Path]:
    """The three files a topic gets."""
    return [
        root / "data" / "nlu" / f"{name}.yml",
        root / "data" / "rules" / f"{name}.yml",
        root / "tests" / "stories" / f"test_{name}.yml",
    ]


def _comment(text: str, column: int) -> list[Any]:
    return [CommentToken(text, CommentMark(column), None), None, None, None]


def add_intent(domain: Any, name: str) -> None:
    """Insert the intent, under a ``# <name>`` comment, before the small-talk group."""
    intents = domain["intents"]
    items = list(intents)
    if INTENT_ANCHOR not in items or items.index(INTENT_ANCHOR) == 0:
        intents.append(name)
        return
    position = items.index(INTENT_ANCHOR)
    # ruamel keeps a comment line with the item *before* it: the "# smalltalk" header belongs
    # to the previous item. Move it to the new item and give the previous one our header.
    moved = intents.ca.items.pop(position - 1, None)
    intents.insert(position, name)
    if moved is not None:
        intents.ca.items[position] = moved
    intents.ca.items[position - 1] = _comment(f"\n  # {name}\n", 2)


def add_slot_mapping(domain: Any, name: str) -> None:
    """``topic`` slot: set to the intent name when the user asks about this topic."""
    mapping = CommentedMap()
    mapping["type"] = "from_intent"
    mapping["intent"] = name
    mapping["value"] = name
    domain["slots"]["topic"]["mappings"].append(mapping)


def add_responses(domain: Any, name: str, qa: bool = False) -> None:
    """Append the topic's responses (from the template) at the end of ``responses``."""
    new = _yaml().load(render("responses.yml", name, qa))
    responses = domain["responses"]
    for key, value in new.items():
        responses[key] = value
    first = f"utter_answer_{name}"
    responses.yaml_set_comment_before_after_key(
        first,
        before=f"\n---------------------------------------------------------------- topic: {name}\n"
        f"Added by `make topic NAME={name}{' KIND=qa' if qa else ''}`. "
        "TODO(trainer): replace every TODO text.",
        indent=2,
    )


def updated_domain(text: str, name: str, qa: bool = False) -> str:
    """``domain.yml`` text with the topic added (everything else unchanged)."""
    yaml = _yaml()
    domain = yaml.load(text)
    add_intent(domain, name)
    if not qa:  # a question-and-answer topic is never escalated as "the user's problem"
        add_slot_mapping(domain, name)
    add_responses(domain, name, qa)
    out = io.StringIO()
    yaml.dump(domain, out)
    return out.getvalue()


def create_topic(name: str, root: Path = ROOT, qa: bool = False) -> list[Path]:
    """Create the topic's files and update ``domain.yml``; returns the files written.
    ``qa``: a question-and-answer topic (answer only)."""
    domain_path = root / "domain.yml"
    domain_text = domain_path.read_text(encoding="utf-8")
    check_name(name, _yaml().load(domain_text), root)
    new_domain = updated_domain(domain_text, name, qa)
    # Every new YAML text must load before anything is written.
    contents = {
        target_files(name, root)[0]: render("nlu.yml", name, qa),
        target_files(name, root)[1]: render("rules.yml", name, qa),
        target_files(name, root)[2]: render("test_story.yml", name, qa),
    }
    for text in [*contents.values(), new_domain]:
        _yaml().load(text)
    written: list[Path] = []
    try:
        for path, text in contents.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("x", encoding="utf-8") as handle:
                handle.write(text)
            written.append(path)
        temporary = domain_path.with_suffix(".yml.tmp")
        temporary.write_text(new_domain, encoding="utf-8")
        os.replace(temporary, domain_path)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return [*written, domain_path]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``make topic NAME=...``."""
    parser = argparse.ArgumentParser(prog="make topic NAME=", description=__doc__.split("\n")[0])
    parser.add_argument("name", help="intent name of the topic, e.g. dapodik_login")
    parser.add_argument(
        "--qa",
        action="store_true",
        help="a question-and-answer topic: the answer only, no 'is it solved?' or escalation",
    )
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    name = args.name.strip()
    try:
        files = create_topic(name, args.root, args.qa)
    except TopicError as error:
        print(f"topic: {error}", file=sys.stderr)
        return 1
    root = args.root
    print(f"topic: created {name}:")
    for path in files:
        print(f"  {path.relative_to(root)}")
    responses = (
        f"utter_answer_{name}" if args.qa else f"utter_answer_{name} and utter_escalate_{name}"
    )
    print(
        "\nNext (docs/training.md):\n"
        f"  1. data/nlu/{name}.yml: replace the TODO examples with 25+ real messages.\n"
        f"  2. domain.yml: write {responses} (WhatsApp text and the SMS variation).\n"
        f"  3. tests/stories/test_{name}.yml: replace the TODO messages with real ones.\n"
        "  4. make validate && make test, then try it in the simulator (make run)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
