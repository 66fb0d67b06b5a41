"""One manifest of held-out sets: every file in it, the README's table generated from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.sets import (
    MANIFEST,
    README,
    ROOT,
    TABLE_END,
    TABLE_START,
    main,
    read_manifest,
    readme_table,
    with_table,
)


def test_the_readme_table_is_the_one_the_manifest_generates() -> None:
    readme = README.read_text(encoding="utf-8")
    assert with_table(readme, readme_table(read_manifest())) == readme, (
        "tests/nlu/README.md is out of date: run make nlu-sets-table"
    )
    assert main(["--check"]) == 0


def test_every_held_out_file_is_in_the_manifest_once() -> None:
    manifest = read_manifest()
    files = sorted(p.name for p in MANIFEST.parent.glob("*.yml") if p.name != MANIFEST.name)
    assert sorted(file for file, _, _ in manifest.rows) == files
    for test_set in manifest.sets:
        assert (ROOT / test_set.path).is_file(), test_set.path
    keys = [t.key for t in manifest.sets]
    assert len(keys) == len(set(keys))
    assert manifest.main in keys and manifest.public in keys


def test_informal_sets_get_a_typo_copy_and_titles_say_what_is_seen() -> None:
    sets = {t.key: t for t in read_manifest().sets}
    clean, typos = sets["external-17"], sets["external-17-typos"]
    assert (clean.path, clean.typos, typos.typos) == (typos.path, False, True)
    name = "twenty-first outside writer (all intents, issue 15 third round)"
    assert clean.title == f"held-out informal, {name}"
    assert typos.title == f"held-out informal, {name}, random typos"
    assert sets["external-13"].title == "dev: thirteenth outside writer (seen)"
    assert sets["heldout-typos"].title == "dev: team-written informal, random typos (seen)"
    assert sets["public-real-9"].title == "real public questions, ninth collection"
    assert sets["public-real-5"].title == "dev: real public questions, fifth collection (seen)"
    assert "public-real-5-typos" not in sets
    assert all(t.title.startswith("dev: ") == t.seen for t in sets.values())


def test_the_table_is_regenerated_between_its_markers(tmp_path: Path) -> None:
    manifest = read_manifest()
    stale = f"# Sets\n\n{TABLE_START}\n| old | table |\n{TABLE_END}\n\nRules.\n"
    fresh = with_table(stale, readme_table(manifest))
    assert fresh.startswith(f"# Sets\n\n{TABLE_START}\n| file | written by |")
    assert fresh.endswith(f"|\n{TABLE_END}\n\nRules.\n") and "| old |" not in fresh
    assert fresh.count("\n| `") == len(manifest.rows)
    with pytest.raises(ValueError, match="markers"):
        with_table("# no markers\n", readme_table(manifest))


def test_a_manifest_naming_an_unknown_set_is_refused(tmp_path: Path) -> None:
    broken = MANIFEST.read_text(encoding="utf-8").replace("main: external-19", "main: nope", 1)
    path = tmp_path / "sets.yml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(ValueError, match="'nope' is not a set"):
        read_manifest(path)
