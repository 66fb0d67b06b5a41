"""The normaliser maps informal spellings to standard words and leaves domain words alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from lpse_assist.nlu.normalizer import Normalizer, collapse_elongation, load_terms


@pytest.fixture(scope="module")
def normalizer() -> Normalizer:
    return Normalizer.from_files()


@pytest.mark.parametrize(
    ("informal", "standard"),
    [
        ("sy gk bs login pw slh trs", "saya tidak bisa login password salah terus"),
        ("knp data tdk tersinkron", "kenapa data tidak tersinkronisasi"),
        ("ppk dirotasi hrs daftar ulang ga", "ppk dirotasi harus daftar ulang tidak"),
        ("integrasi sikap eror", "integrasi sikap error"),
        ("tolongggg gabisa login", "tolong tidak bisa login"),
        ("muncul java script error", "muncul javascript error"),
        ("js error", "javascript error"),
        ("lupa pswd", "lupa password"),
        ("pass salah", "password salah"),
        ("nggak bisa log in", "tidak bisa login"),
        ("uid lupa", "user id lupa"),
        ("lupapassword", "lupa password"),
        ("masuk2", "masuk masuk"),
        ("kl lupa kata sandi gmn", "kalau lupa password bagaimana"),
        # Regional words (Javanese, Sundanese, Palembang, Balinese).
        ("kulo lali pw", "saya lupa password"),
        ("hilap akun kumaha", "lupa akun bagaimana"),
        ("teu tiasa login keneh", "tidak bisa login masih"),
        ("dak biso masuk cak mano", "tidak bisa masuk bagaimana"),
        ("ppk wis digentos", "ppk sudah diganti"),
        ("matur suksma", "terima kasih"),
        # Chat rules: laughter next to other words is noise.
        ("bisa kok sekarang wkwk", "bisa kok sekarang"),
        ("woi min hehe", "woi admin"),
        ("awokwok gabisa login", "tidak bisa login"),
        ("hahaha makasih", "terima kasih"),
        ("gabisa login kak wkwwk pusing", "tidak bisa login kak pusing"),
        # A message of laughter only keeps it: a message is never left without words.
        ("wkwkwk", "wkwkwk"),
        # A stretched last letter.
        ("tengkyuu", "terima kasih"),
        ("gakk bisa", "tidak bisa"),
        ("minn", "admin"),
        # English words ending in a double letter are not shortened into slang.
        ("all off free will", "all off free will"),
        # An item the user says they still know is left out.
        ("password masih ingat tapi user id lupa", "masih ingat tapi user id lupa"),
        ("lupa uid, pw nya masih inget", "lupa user id nya masih ingat"),
        ("sy ingat user id tp pw lupa", "saya ingat tapi password lupa"),
        ("masih hafal passwordnya", "masih hafal"),
        ("pw ilang, user id nya sih ada", "password hilang nya sih ada"),
        # Negated: the item is what was forgotten, so it stays.
        ("gak inget pw", "tidak ingat password"),
        ("tidak tahu password nya", "tidak tahu password nya"),
        # A question or wish about the item, and an item forgotten after another one's verb.
        ("gimana cara tau user id lpse", "bagaimana cara tau user id lpse"),
        ("mau tahu password saya", "mau tahu password saya"),
        ("user id saya tau, pw lupa", "saya tau password lupa"),
        # Javanese, Sundanese and Minang words of the question.
        ("mas iki iso takon opo wae", "mas ini bisa tanya apa saja"),
        ("akun ambo ndak taingek lai", "akun saya tidak ingat lagi"),
        ("kulo kesupen password", "saya lupa password"),
        # SMS skeletons without vowels, Banjar, Acehnese and Papua Malay.
        ("sy lp akn lpse", "saya lupa akun lpse"),
        ("ulun kada kawa login", "saya tidak bisa login"),
        ("lon tuwo akun", "saya lupa akun"),
        ("dorang su ganti ppk", "mereka sudah ganti ppk"),
        # More SMS skeletons, NTT and Manado Malay, assalamualaikum typed short.
        ("cr pndh pkt dr ppk lm ke ppk br", "cara pindah paket dari ppk lama ke ppk baru"),
        ("sonde inga lai", "tidak ingat lagi"),
        ("nyanda bisa login", "tidak bisa login"),
        ("ass pak", "assalamualaikum pak"),
        # "benar" is about a rejected login, not about remembering: kept.
        ("user id dan password sudah benar", "user id dan password sudah benar"),
    ],
)
def test_informal_spellings_become_standard(
    normalizer: Normalizer, informal: str, standard: str
) -> None:
    assert normalizer.normalize(informal).lower() == standard


@pytest.mark.parametrize(
    "text",
    # Domain acronyms and English words that the general slang lexicon would rewrite
    # (sk -> suka, spt -> seperti, to -> tapi, pu -> punya).
    ["sk ppk baru", "spt tahunan", "go to login page", "dinas pu", "lpse spse sikap pokja"],
)
def test_protected_words_are_kept(normalizer: Normalizer, text: str) -> None:
    assert normalizer.normalize(text) == text


def test_double_letters_are_kept() -> None:
    assert collapse_elongation("maaf saat tunggu") == "maaf saat tunggu"
    assert collapse_elongation("halooo") == "halo"


def test_unchanged_words_keep_their_case(normalizer: Normalizer) -> None:
    assert normalizer.normalize("Login SPSE gk bisa") == "Login SPSE tidak bisa"


def test_word_indices_point_back_to_the_input(normalizer: Normalizer) -> None:
    words = ["gabisa", "java", "script", "kak"]
    assert normalizer.normalize_words(words) == [
        ("tidak", 0, 0),
        ("bisa", 0, 0),
        ("javascript", 1, 2),
        ("kak", 3, 3),
    ]


def test_trainers_can_extend_the_terms(tmp_path: Path) -> None:
    terms = tmp_path / "terms.yml"
    terms.write_text(
        "replace:\n  penawaran: [pnwrn]\n  kirim penawaran: [upload bid]\nprotect: [bs]\n",
        encoding="utf-8",
    )
    custom = Normalizer.from_files(str(terms))
    assert custom.normalize("pnwrn gagal") == "penawaran gagal"
    assert custom.normalize("upload bid gagal") == "kirim penawaran gagal"
    # Protected words win over the slang lexicon (which maps bs -> bisa).
    assert custom.normalize("bs") == "bs"


def test_terms_file_rejects_too_long_variants(tmp_path: Path) -> None:
    terms = tmp_path / "terms.yml"
    terms.write_text("replace:\n  x: [a b c d]\n", encoding="utf-8")
    with pytest.raises(ValueError):
        load_terms(terms)


def test_shipped_terms_have_no_conflicting_variants() -> None:
    """A variant listed under two standard forms would silently take the last one."""
    import yaml

    from lpse_assist.nlu.normalizer import DEFAULT_TERMS_FILE

    raw = yaml.safe_load(DEFAULT_TERMS_FILE.read_text(encoding="utf-8"))
    seen: dict = {}
    for standard, variants in raw["replace"].items():
        for variant in variants:
            assert variant not in seen, f"{variant}: {seen.get(variant)} and {standard}"
            seen[variant] = standard


def test_a_standard_form_written_twice_is_refused(tmp_path: Path) -> None:
    """Plain YAML keeps only the last of two equal keys: the first list would vanish silently."""
    import yaml

    terms = tmp_path / "terms.yml"
    terms.write_text("replace:\n  sudah: [sdh]\n  lupa: [lali]\n  sudah: [wis]\n", encoding="utf-8")
    with pytest.raises(yaml.YAMLError, match="'sudah' is listed twice"):
        load_terms(terms)
    # The shipped file goes through the same check.
    from lpse_assist.nlu.normalizer import DEFAULT_TERMS_FILE

    words, _, _ = load_terms(DEFAULT_TERMS_FILE)
    assert words["sdh"] == words["wis"] == "sudah"


def test_chat_rules_can_be_switched_off() -> None:
    """The `ours-no-chat-rules` ablation: laughter, stretched letters and known items stay."""
    plain = Normalizer.from_files(chat_rules=False)
    assert plain.normalize("bisa kok wkwk") == "bisa kok wkwk"
    assert plain.normalize("tengkyuu") == "tengkyuu"
    assert plain.normalize("pw masih inget") == "password masih ingat"
