"""``make topic NAME=...`` on a copy of the project leaves it valid and consistent."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# Generated, local or large: not part of what a trainer edits.
SKIP = {
    ".venv",
    "models",
    ".data",
    "results",
    ".git",
    "review",
    ".rasa",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    "__pycache__",
    "node_modules",
}


def copy_project(destination: Path) -> Path:
    """The project's files in ``destination/main`` (with the venv and ../shared linked)."""
    project = destination / "main"
    archive = destination / "project.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(
            ROOT,
            arcname="main",
            filter=lambda info: None if set(Path(info.name).parts) & SKIP else info,
        )
    with tarfile.open(archive) as tar:
        tar.extractall(destination)
    archive.unlink()
    (project / ".venv").symlink_to(ROOT / ".venv")
    if (ROOT.parent / "shared").is_dir():
        (destination / "shared").symlink_to(ROOT.parent / "shared")
    return project


def run(project: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", PYTHONPATH=str(project))
    return subprocess.run(
        [sys.executable, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copied = copy_project(tmp_path_factory.mktemp("topic"))
    done = run(copied, "scripts/new_topic.py", "dapodik_login")
    assert done.returncode == 0, done.stdout + done.stderr
    return copied


def test_scaffold_writes_the_topic_files(project: Path) -> None:
    nlu = yaml.safe_load((project / "data/nlu/dapodik_login.yml").read_text())
    assert nlu["nlu"][0]["intent"] == "dapodik_login"
    assert "TODO" in nlu["nlu"][0]["examples"]
    rules = yaml.safe_load((project / "data/rules/dapodik_login.yml").read_text())
    assert rules["rules"][0]["steps"] == [
        {"intent": "dapodik_login"},
        {"action": "utter_answer_dapodik_login"},
        {"action": "utter_ask_solved"},
    ]
    stories = yaml.safe_load((project / "tests/stories/test_dapodik_login.yml").read_text())
    assert stories["stories"][1]["steps"][-1] == {"action": "action_escalate_support"}


def test_domain_gets_intent_slot_mapping_and_responses_and_keeps_the_rest(project: Path) -> None:
    old = (ROOT / "domain.yml").read_text(encoding="utf-8").splitlines()
    new_text = (project / "domain.yml").read_text(encoding="utf-8")
    remaining = iter(new_text.splitlines())
    assert all(line in remaining for line in old), "a line of domain.yml was changed or moved"
    domain = yaml.safe_load(new_text)
    assert "dapodik_login" in domain["intents"]
    assert domain["intents"].index("dapodik_login") < domain["intents"].index("greet")
    assert {"type": "from_intent", "intent": "dapodik_login", "value": "dapodik_login"} in (
        domain["slots"]["topic"]["mappings"]
    )
    answer = domain["responses"]["utter_answer_dapodik_login"]
    assert [v.get("channel") for v in answer] == [None, "sms"]
    assert all("TODO" in v["text"] for v in answer)
    assert "utter_escalate_dapodik_login" in domain["responses"]
    assert "  # dapodik_login\n  - dapodik_login\n" in new_text


def test_project_is_valid_right_after(project: Path) -> None:
    done = run(project, "scripts/validate.py")
    assert done.returncode == 0, done.stdout + done.stderr


def test_consistency_tests_still_pass(project: Path) -> None:
    done = run(
        project,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/test_consistency.py",
        "tests/actions/test_support.py",
    )
    assert done.returncode == 0, done.stdout[-3000:]


def test_existing_or_bad_names_are_refused_without_changes(project: Path) -> None:
    before = (project / "domain.yml").read_text(encoding="utf-8")
    for name in ("dapodik_login", "login_problem", "Dapodik", "a", "nlu_fallback", "x__y"):
        done = run(project, "scripts/new_topic.py", name)
        assert done.returncode == 1, name
        assert done.stderr.startswith("topic: "), done.stderr
    assert (project / "domain.yml").read_text(encoding="utf-8") == before


def test_two_topics_in_a_row(project: Path, tmp_path: Path) -> None:
    second = copy_project(tmp_path)
    for name in ("oss_nib", "tender_upload"):
        done = run(second, "scripts/new_topic.py", name)
        assert done.returncode == 0, done.stderr
    domain = yaml.safe_load((second / "domain.yml").read_text(encoding="utf-8"))
    intents = domain["intents"]
    assert intents.index("oss_nib") < intents.index("tender_upload") < intents.index("greet")


@pytest.fixture(scope="module")
def qa_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copied = copy_project(tmp_path_factory.mktemp("qa"))
    done = run(copied, "scripts/new_topic.py", "apa_itu_adp", "--qa")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "utter_escalate_" not in done.stdout
    return copied


def test_qa_topic_answers_without_asking_whether_it_is_solved(qa_project: Path) -> None:
    rules = yaml.safe_load((qa_project / "data/rules/apa_itu_adp.yml").read_text())
    assert rules["rules"][0]["steps"] == [
        {"intent": "apa_itu_adp"},
        {"action": "utter_answer_apa_itu_adp"},
    ]
    nlu = yaml.safe_load((qa_project / "data/nlu/apa_itu_adp.yml").read_text())
    assert nlu["nlu"][0]["intent"] == "apa_itu_adp" and "TODO" in nlu["nlu"][0]["examples"]
    stories = yaml.safe_load((qa_project / "tests/stories/test_apa_itu_adp.yml").read_text())
    assert [s["steps"][1] for s in stories["stories"]] == [
        {"action": "utter_answer_apa_itu_adp"}
    ] * 2
    domain = yaml.safe_load((qa_project / "domain.yml").read_text(encoding="utf-8"))
    assert "apa_itu_adp" in domain["intents"]
    answer = domain["responses"]["utter_answer_apa_itu_adp"]
    assert [v.get("channel") for v in answer] == [None, "sms"]
    assert "utter_escalate_apa_itu_adp" not in domain["responses"]
    assert "apa_itu_adp" not in {m["intent"] for m in domain["slots"]["topic"]["mappings"]}


def test_qa_project_is_valid_and_consistent_right_after(qa_project: Path) -> None:
    done = run(qa_project, "scripts/validate.py")
    assert done.returncode == 0, done.stdout + done.stderr
    done = run(
        qa_project, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_consistency.py"
    )
    assert done.returncode == 0, done.stdout[-3000:]
