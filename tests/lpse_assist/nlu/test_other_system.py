"""OtherSystemGuard: another system's registration, status or outage question is out of scope."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from lpse_assist.nlu.other_system import OtherSystemGuard, OtherSystemRule

ROOT = Path(__file__).resolve().parents[3]
NAMES = ["oss", "oss rba", "e-katalog", "span", "bpjs", "inaproc", "gmail"]
CONFIG = {
    "intents": ["register_account", "ticket_status", "service_outage", "forgot_password"],
    "ignore": ["inaproc", "gmail"],
    "own_names": ["spse", "lpse", "sikap", "akun inaproc"],
}


def rule() -> OtherSystemRule:
    return OtherSystemRule(
        [n for n in NAMES if n not in CONFIG["ignore"]], CONFIG["own_names"], CONFIG["intents"]
    )


@pytest.mark.parametrize(
    "text",
    [
        "cara daftar akun OSS",
        "registrasi oss-rba utk pt baru",
        "Oss RBA lagi down ya",
        "status pendaftaran e-katalog kami gmn",
        "SPAN gak bisa dibuka",
        "ubah alamat perusahaan di akun bpjs",
        # A name with an enclitic glued on is still the name.
        "ini error dari BPJSnya atau dari sini",
        "spannya lagi gangguan ya",
    ],
)
def test_another_systems_name_alone_is_another_system(text: str) -> None:
    assert rule().names_other_system(text)


@pytest.mark.parametrize(
    "text",
    [
        # SPSE named too: the classifier decides.
        "akun e-katalog sudah ada, mau ikut tender di LPSE",
        "lpsenya down atau bpjs yg down?",
        "daftar di akun.inaproc.id pakai NIB dari OSS",
        "data di SIKaP beda dengan OSS",
        # Not a name: part of another word, or a name the config ignores.
        "boss saya mau daftar jadi penyedia",
        "bossnya mau daftar jadi penyedia",
        "spanduk tender sudah dipasang",
        "link reset password gak masuk ke gmail",
        "daftar akun inaproc gimana",
        "status tiket saya",
    ],
)
def test_spse_questions_are_not_another_system(text: str) -> None:
    assert not rule().names_other_system(text)


def test_redirect_swaps_the_confidences_and_keeps_the_ranking_ordered() -> None:
    prediction = {"name": "register_account", "confidence": 0.7}
    ranking = [
        prediction,
        {"name": "forgot_account", "confidence": 0.2},
        {"name": "out_of_scope", "confidence": 0.06},
        {"name": "greet", "confidence": 0.04},
    ]
    top, new_ranking = rule().redirect(prediction, ranking)
    assert top == {"name": "out_of_scope", "confidence": 0.7}
    assert new_ranking == [
        {"name": "out_of_scope", "confidence": 0.7},
        {"name": "forgot_account", "confidence": 0.2},
        {"name": "register_account", "confidence": 0.06},
        {"name": "greet", "confidence": 0.04},
    ]
    assert sum(r["confidence"] for r in new_ranking) == pytest.approx(1.0)


def trained(tmp_path: Path, lookups: list[dict[str, Any]]) -> OtherSystemGuard:
    """A guard trained on a lookup table and loaded back from the model storage, as Rasa does."""
    storage = LocalModelStorage(tmp_path)
    resource = Resource("guard")
    context = ExecutionContext(GraphSchema({}), node_name="guard")
    config = {**OtherSystemGuard.get_default_config(), **CONFIG}
    data = TrainingData([Message.build(text="cara daftar", intent="register_account")])
    data.lookup_tables = lookups
    OtherSystemGuard.create(config, storage, resource, context).train(data)
    return OtherSystemGuard.load(config, storage, resource, context)


def parsed(guard: OtherSystemGuard, text: str, intent: str, confidence: float) -> Message:
    """A message as the classifier leaves it, then through the guard."""
    message = Message.build(text=text)
    rest = 1.0 - confidence
    ranking = [
        {"name": intent, "confidence": confidence},
        {"name": "out_of_scope", "confidence": rest},
    ]
    message.set(INTENT, ranking[0], add_to_output=True)
    message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
    guard.process([message])
    return message


def test_the_trained_guard_sends_other_systems_to_out_of_scope(tmp_path: Path) -> None:
    guard = trained(tmp_path, [{"name": "sistem_lain", "elements": NAMES}])
    moved = parsed(guard, "cara registrasi akun oss rba", "register_account", 0.75)
    assert moved.get(INTENT) == {"name": "out_of_scope", "confidence": 0.75}
    assert moved.get(INTENT_RANKING_KEY)[1] == {"name": "register_account", "confidence": 0.25}
    assert "intent" in moved.as_dict_nlu()
    # An unguarded intent, an SPSE question and an ignored name are left as they are.
    for text, intent in [
        ("makasih, bpjs sudah beres", "thank"),
        ("span dan spse sama2 down?", "service_outage"),
        ("email reset pw ga masuk gmail", "forgot_password"),
    ]:
        assert parsed(guard, text, intent, 0.9).get(INTENT)["name"] == intent


def test_without_the_lookup_table_the_guard_changes_nothing(tmp_path: Path) -> None:
    guard = trained(tmp_path, [{"name": "other_table", "elements": NAMES}])
    message = parsed(guard, "cara daftar akun oss", "register_account", 0.8)
    assert message.get(INTENT)["name"] == "register_account"


def test_config_guards_real_intents_with_the_projects_lookup_table() -> None:
    """config.yml names intents of domain.yml and a lookup table of data/nlu, and no training
    example of a guarded intent would be overruled by its own guard."""
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    step = next(s for s in config["pipeline"] if s["name"].endswith("OtherSystemGuard"))
    names = [s["name"] for s in config["pipeline"]]
    assert names.index(step["name"]) == names.index("FallbackClassifier") - 1
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    assert set(step["intents"]) <= set(domain["intents"])
    data = load_data(str(ROOT / "data" / "nlu"))
    table = next(t for t in data.lookup_tables if t["name"] == step["lookup"])
    assert set(step["ignore"]) <= set(table["elements"])
    guard = OtherSystemRule(
        [n for n in table["elements"] if n not in step["ignore"]],
        step["own_names"],
        step["intents"],
    )
    overruled = [
        m.get(TEXT)
        for m in data.training_examples
        if guard.applies(m.get(INTENT), m.get(TEXT) or "")
    ]
    assert overruled == []
