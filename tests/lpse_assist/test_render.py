"""Rendering for WhatsApp and SMS: GSM-7, segment counts, numbered options, 1600-char bodies."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from lpse_assist.render import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    MAX_BODY_CHARS,
    format_report,
    is_gsm7,
    join_messages,
    load_responses,
    main,
    numbered_options,
    render_message,
    render_turn,
    sms_encoding,
    sms_report,
    sms_segments,
    sms_variations,
    strip_markdown,
    to_gsm7,
)

DOMAIN_FILE = Path(__file__).resolve().parents[2] / "domain.yml"
FAQ_MAX_SEGMENTS = 3


# ------------------------------------------------------------------------- GSM-7 and segments


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", 0),
        ("a", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("a" * 459, 3),
        ("a" * 460, 4),
        ("\u20ac" * 80, 1),  # extension characters take two septets
        ("\u20ac" * 81, 2),
        ("a" * 152 + "[" + "a" * 8, 2),  # 162 septets
        ("a" * 152 + "{" + "b" * 153, 3),  # "{" does not fit at 152 and moves on
        ("\u00e9" * 160, 1),  # é is in the GSM-7 basic table
        ("\u00e7" * 70, 1),  # ç is not: UCS-2
        ("\u00e7" * 71, 2),
        ("\u00e7" * 134, 2),
        ("\u00e7" * 135, 3),
        ("\U0001f600" * 35, 1),  # an emoji is two UCS-2 units
        ("\U0001f600" * 36, 2),
        ("a" * 66 + "\U0001f600" + "a" * 67, 3),  # a surrogate pair is never split
    ],
)
def test_sms_segments(text: str, segments: int) -> None:
    assert sms_segments(text) == segments


def test_sms_encoding() -> None:
    assert sms_encoding("Halo, apa kabar? 100% @rumah") == "GSM-7"
    assert sms_encoding("Klik \u201cLupa\u201d") == "UCS-2"
    assert sms_encoding("\u20ac{}[]~|^\\") == "GSM-7"
    assert not is_gsm7("\x1b")  # the escape code itself is not a character


def test_to_gsm7_replaces_typography_and_drops_emoji() -> None:
    text = (
        "Halo \U0001f44b *Penting*: klik \u201cLupa Password\u201d \u2014 lalu _tunggu_ email\u2026"
    )
    assert to_gsm7(text) == 'Halo Penting: klik "Lupa Password" - lalu tunggu email...'


def test_to_gsm7_keeps_what_gsm7_has() -> None:
    text = "User ID: abc_def@lpse.go.id, kode *123# (Rp 10.000) \u00e9 \u20ac [x]"
    assert to_gsm7(text) == text


def test_to_gsm7_transliterates_accents_and_keycaps() -> None:
    assert to_gsm7("Fran\u00e7ais na\u00efve \u00ea") == "Francais naive e"
    assert to_gsm7("1\ufe0f\u20e3 Login") == "1 Login"
    assert to_gsm7("\u2022 satu\n\u2022 dua") == "- satu\n- dua"


def test_strip_markdown_only_removes_enclosing_markers() -> None:
    assert strip_markdown("*tebal* dan _miring_ dan ~coret~ dan `kode`") == (
        "tebal dan miring dan coret dan kode"
    )
    assert strip_markdown("dial *123# lalu user_id_baru") == "dial *123# lalu user_id_baru"
    assert strip_markdown("**dua bintang**") == "dua bintang"


def test_to_gsm7_output_is_always_gsm7() -> None:
    rng = random.Random(1234)
    pool = [chr(c) for c in range(32, 0x3000)] + ["\U0001f600", "\U0001f1ee", "\n", "\t"]
    for _ in range(300):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(0, 80)))
        assert is_gsm7(to_gsm7(text)), text


def test_gsm7_tables_have_the_standard_sizes() -> None:
    # 128 code points minus ESC; 9 extension characters without form feed.
    assert len(GSM7_BASIC) == 127
    assert len(GSM7_EXTENSION) == 9


# ------------------------------------------------------------------------- options and messages


def test_numbered_options() -> None:
    buttons = [
        {"title": "Tidak bisa login", "payload": "/login_problem"},
        {"title": "", "payload": "/contact_support"},
    ]
    assert numbered_options(buttons) == "1. Tidak bisa login\n2. contact support"


def test_render_message_on_both_media() -> None:
    message = {
        "text": "Pilih *satu*:",
        "buttons": [{"title": "Sudah \u2705", "payload": "/affirm"}],
    }
    assert render_message(message, "whatsapp") == "Pilih *satu*:\n\n1. Sudah \u2705"
    assert render_message(message, "sms") == "Pilih satu:\n\n1. Sudah"


def test_render_message_uses_quick_replies_and_images() -> None:
    message = {
        "text": "Lihat",
        "image": "https://x/y.png",
        "quick_replies": [{"title": "A", "payload": "/a"}],
    }
    assert render_message(message, "whatsapp") == "Lihat\n\nhttps://x/y.png\n\n1. A"


def test_join_messages_uses_as_few_bodies_as_possible() -> None:
    texts = ["a" * 500, "b" * 500, "c" * 500]
    assert join_messages(texts) == ["\n\n".join(texts)]
    texts.append("d" * 500)
    bodies = join_messages(texts)
    assert len(bodies) == 2
    assert all(len(b) <= MAX_BODY_CHARS for b in bodies)


def test_join_messages_splits_at_paragraphs_then_lines_then_words() -> None:
    paragraphs = [f"Paragraf {i}: " + "kata " * 60 for i in range(12)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    bodies = join_messages([text])
    assert len(bodies) > 1
    assert all(len(b) <= MAX_BODY_CHARS for b in bodies)
    assert "\n\n".join(bodies) == text  # cut only between paragraphs, nothing lost

    one_giant_word = "x" * 4000
    bodies = join_messages([one_giant_word])
    assert [len(b) for b in bodies] == [1600, 1600, 800]

    lines = "\n".join("baris " * 40 for _ in range(20))
    bodies = join_messages([lines], limit=500)
    assert all(len(b) <= 500 for b in bodies)
    assert "\n".join(bodies).split() == lines.split()


def test_join_messages_counts_emoji_as_two() -> None:
    bodies = join_messages(["\U0001f600" * 1000])
    assert all(len(b.encode("utf-16-le")) // 2 <= MAX_BODY_CHARS for b in bodies)
    assert "".join(bodies) == "\U0001f600" * 1000


def test_render_turn_skips_empty_messages() -> None:
    assert render_turn([{"text": ""}, {"text": "Halo"}, {"custom": {"x": 1}}], "sms") == ["Halo"]


# ------------------------------------------------------------------------- report


def _write_domain(tmp_path: Path) -> Path:
    path = tmp_path / "domain.yml"
    path.write_text(
        """
version: "3.1"
responses:
  utter_a:
    - text: "Jawaban *panjang* untuk WhatsApp \U0001f642"
    - text: "Jawaban pendek SMS"
      channel: sms
  utter_b:
    - text: "Tanpa variasi SMS \u201ckutip\u201d"
  utter_c:
    - text: "Pilih:"
      buttons:
        - title: "Ya"
          payload: "/affirm"
    - text: "Khusus web"
      channel: web
""",
        encoding="utf-8",
    )
    return path


def test_sms_report_lists_what_sms_users_receive(tmp_path: Path) -> None:
    responses = load_responses(_write_domain(tmp_path))
    assert [v.get("text") for v in sms_variations(responses["utter_a"])] == ["Jawaban pendek SMS"]
    rows = {(r.response, r.variation): r for r in sms_report(responses)}
    assert set(rows) == {("utter_a", "sms"), ("utter_b", "default"), ("utter_c", "default")}
    assert rows[("utter_a", "sms")].raw_is_gsm7
    assert not rows[("utter_b", "default")].raw_is_gsm7  # curly quotes: flagged for trainers
    assert rows[("utter_c", "default")].chars == len("Pilih:\n\n1. Ya")
    table = format_report(list(rows.values()))
    assert "utter_b" in table and " !" in table


def test_report_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--report", str(_write_domain(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "utter_a" in out and "segments" in out
    assert main(["--report", str(tmp_path / "missing.yml")]) == 2


# ------------------------------------------------------------------------- the real domain


@pytest.mark.skipif(not DOMAIN_FILE.exists(), reason="domain.yml not written yet")
def test_faq_answers_fit_three_gsm7_segments_on_sms() -> None:
    responses = load_responses(DOMAIN_FILE)
    faq = {name: v for name, v in responses.items() if name.startswith("utter_answer_")}
    assert len(faq) >= 6, sorted(faq)
    for name, variations in faq.items():
        for variation in sms_variations(variations):
            raw = render_message(variation, "whatsapp")  # exactly as written in the domain
            assert is_gsm7(raw), f"{name}: not pure GSM-7: {raw!r}"
            assert sms_segments(render_message(variation, "sms")) <= FAQ_MAX_SEGMENTS, name


@pytest.mark.skipif(not DOMAIN_FILE.exists(), reason="domain.yml not written yet")
def test_every_sms_response_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    responses = load_responses(DOMAIN_FILE)
    assert main(["--report", str(DOMAIN_FILE)]) == 0
    out = capsys.readouterr().out
    for name in responses:
        assert name in out
