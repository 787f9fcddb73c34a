"""DBP15K importer: the real FR-EN files load with the verified counts; every broken input is reported by line.

Most broken-input cases use a tiny hand-written pair (three links, line numbers checkable by eye);
one case breaks a copy of the real files in several places at once.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from core.formats.errors import DataError
from core.data.links import Split
from core.formats.dbp15k import load_dbp15k, local_names, split_codes
from core.formats.native import load_project, save_project

REAL_FILES = ("ent_ids_1", "ent_ids_2", "rel_ids_1", "rel_ids_2", "triples_1", "triples_2", "ref_ent_ids",
              "ent_ids_1_trans_en", "rel_ids_1_trans_en")

# ------------------------------------------------------------------------------- real data ----


@pytest.fixture(scope="module")
def fr_en_dir(shared_data) -> Path:
    directory = shared_data / "dbp15k_fr_en"
    if not (directory / "ref_ent_ids").is_file():
        pytest.skip(f"DBP15K FR-EN files not found in {directory}")
    return directory


@pytest.fixture(scope="module")
def fr_en(fr_en_dir):
    return load_dbp15k(fr_en_dir)


def test_real_files_load_with_the_verified_counts(fr_en):
    d = fr_en
    assert (d.left.n_entities, d.right.n_entities) == (19_661, 19_993)
    assert (d.left.n_triples, d.right.n_triples) == (105_998, 115_722)
    assert (len(d.left.relation_names), len(d.right.relation_names)) == (903, 1_208)
    assert len(d.links) == 15_000 and (d.links.label == 1).all()
    assert d.schema.type_names == ("entity",)
    assert d.left.type_names == d.right.type_names == ("entity",)
    assert d.left.attributes.shape == (19_661, 0)
    # ids are the files' ids, as strings, disjoint between the sides
    assert d.left.entity_ids[0] == "0" and d.right.entity_ids[0] == "10500"
    assert not set(d.left.entity_ids) & set(d.right.entity_ids)


def test_jape_split_takes_the_last_4500_links_as_seeds(fr_en):
    split = fr_en.links.split
    assert np.bincount(split, minlength=4).tolist() == [4_050, 450, 10_500, 0]
    # the first 10,500 lines are the (i, 10500 + i) test links; seeds are the tail, VALID last
    assert (split[:10_500] == Split.TEST.code).all()
    assert (split[10_500:14_550] == Split.TRAIN.code).all() and (split[14_550:] == Split.VALID.code).all()
    first = fr_en.links.left[0], fr_en.links.right[0]
    assert (fr_en.left.entity_ids[first[0]], fr_en.right.entity_ids[first[1]]) == ("0", "10500")


def test_names_come_from_the_uris_local_names(fr_en):
    left_names, right_names = set(fr_en.left.names), set(fr_en.right.names)
    assert "Self Portrait" in left_names and "AC/DC" in right_names  # '_' -> ' ', '/' kept
    assert {"battles/wars", "owners/creators", "jr/sr"} <= set(fr_en.right.relation_names)
    same = fr_en.left.names[fr_en.links.left] == fr_en.right.names[fr_en.links.right]
    assert same.sum() == 7_505  # SOURCE.md: 7,505 links have identical local names
    # relations pair only where the local name exists on both sides
    assert len(fr_en.schema.relations) == 75
    assert all(c.left == c.right == c.name for c in fr_en.schema.relations)


def test_translated_names_and_random_split(fr_en_dir, fr_en):
    d = load_dbp15k(fr_en_dir, names="translated", split="random", seed=3)
    assert d.left.names[2] == "Alliance of liberals and democrats for Europe"
    same = d.left.names[d.links.left] == d.right.names[d.links.right]
    # SOURCE.md counts 8,498 on the raw URIs; 94 translated URIs hold real spaces where the English
    # side has '_', and 19 of those links match once both become spaces; 1 more ('Fantastic Four '
    # and 'Fantastic Four') once names lose surrounding whitespace (5 translated names had it).
    assert same.sum() == 8_518
    assert np.bincount(d.links.split, minlength=4).tolist() == [4_050, 450, 10_500, 0]
    assert not np.array_equal(d.links.split, fr_en.links.split)
    assert np.array_equal(d.right.names, fr_en.right.names)


def test_round_trip_through_the_native_format(fr_en, tmp_path):
    save_project(fr_en, tmp_path / "fr_en")
    back = load_project(tmp_path / "fr_en")
    assert back.summary() | {"name": ""} == fr_en.summary() | {"name": ""}
    assert list(back.left.entity_ids) == list(fr_en.left.entity_ids)
    assert list(back.right.names) == list(fr_en.right.names)
    assert np.array_equal(back.links.split, fr_en.links.split)
    assert len(back.schema.relations) == 75


def test_loading_both_sides_takes_seconds_not_minutes(fr_en_dir):
    import time

    start = time.perf_counter()
    load_dbp15k(fr_en_dir)
    assert time.perf_counter() - start < 5.0


def _real_copy(src: Path, dst: Path) -> Path:
    """The real files as symlinks; a test replaces the ones it breaks with edited copies."""
    dst.mkdir()
    for name in REAL_FILES:
        os.symlink(src / name, dst / name)
    return dst


def _replace(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.unlink()
    path.write_bytes(data)
    return path


def test_several_problems_in_a_broken_real_copy_are_all_reported(fr_en_dir, tmp_path):
    d = _real_copy(fr_en_dir, tmp_path / "broken")
    triples = (fr_en_dir / "triples_1").read_bytes().split(b"\n")
    triples[49_999] = triples[49_999].rsplit(b"\t", 1)[0]  # line 50,000 loses its tail
    triples[70_000] = b"2786\t838\t99999"  # line 70,001: unknown tail id
    _replace(d, "triples_1", b"\n".join(triples))
    ents = (fr_en_dir / "ent_ids_2").read_bytes().split(b"\n")
    ents[99] = ents[99].split(b"\t")[0] + b"\thttp://dbpedia.org/resource/Caf\xe9"  # Latin-1 on line 100
    _replace(d, "ent_ids_2", b"\n".join(ents))
    links = (fr_en_dir / "ref_ent_ids").read_bytes()
    _replace(d, "ref_ent_ids", links + b"0\t10500\n")  # line 15,001 repeats line 1
    with pytest.raises(DataError) as info:
        load_dbp15k(d)
    text = str(info.value)
    assert f"{d / 'triples_1'}:50000: expected 3 tab-separated fields, got 2" in text
    assert f"{d / 'triples_1'}:70001: unknown tail entity id 99999" in text
    assert f"{d / 'ent_ids_2'}:100: not valid UTF-8 (byte 0xe9" in text
    assert f"{d / 'ref_ent_ids'}:15001: duplicate link (0, 10500), first on line 1" in text


# ----------------------------------------------------------------------- tiny hand-made pair ----
TINY = {
    "ent_ids_1": "0\thttp://fr.dbpedia.org/resource/Paris\n1\thttp://fr.dbpedia.org/resource/France\n"
                 "2\thttp://fr.dbpedia.org/resource/AC/DC\n",
    "ent_ids_2": "10\thttp://dbpedia.org/resource/Paris\n11\thttp://dbpedia.org/resource/France\n"
                 "12\thttp://dbpedia.org/resource/AC/DC\n13\thttp://dbpedia.org/resource/Lyon\n",
    "rel_ids_1": "0\thttp://fr.dbpedia.org/property/pays\n1\thttp://fr.dbpedia.org/property/capital\n",
    "rel_ids_2": "2\thttp://dbpedia.org/property/country\n3\thttp://dbpedia.org/property/capital\n"
                 "4\thttp://dbpedia.org/property/battles/wars\n",
    "triples_1": "0\t0\t1\n1\t1\t0\n",
    "triples_2": "10\t2\t11\n11\t3\t10\n13\t2\t11\n",
    "ref_ent_ids": "0\t10\n1\t11\n2\t12\n",
    "ent_ids_1_trans_en": "0\thttp://en.dbpedia.org/resource/Paris\n1\thttp://en.dbpedia.org/resource/France\n"
                          "2\thttp://en.dbpedia.org/resource/AC/DC\n",
}


def write_tiny(directory: Path, **overrides: str | bytes | None) -> Path:
    """The tiny pair; an override replaces a file (bytes verbatim), None deletes it."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {**TINY, **overrides}
    for name, content in files.items():
        if content is None:
            continue
        path = directory / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return directory


def _problems(directory: Path, **options) -> list[str]:
    with pytest.raises(DataError) as info:
        load_dbp15k(directory, **options)
    return str(info.value).splitlines()[1:]


def test_tiny_pair_loads(tmp_path):
    d = load_dbp15k(write_tiny(tmp_path / "tiny"))
    assert list(d.left.names) == ["Paris", "France", "AC/DC"]
    assert d.right.relation_names == ("country", "capital", "battles/wars")
    assert [c.name for c in d.schema.relations] == ["capital"]
    # 3 links: round(0.9) = 1 seed (the last line), round(0.1) = 0 of it VALID
    assert [Split.from_code(c).value for c in d.links.split] == ["test", "test", "train"]
    kg = d.right
    assert kg.entity_ids[kg.heads].tolist() == ["10", "11", "13"]
    assert kg.relation_names[kg.relations[2]] == "country"


@pytest.mark.parametrize("name, content, expected", [
    ("triples_1", "0\t0\t1\n1\t1\n", "triples_1:2: expected 3 tab-separated fields, got 2"),
    ("ref_ent_ids", "0 10\n1 11\n2 12\n", "ref_ent_ids:1: expected 2 tab-separated fields, got 1"),
    ("ent_ids_2", b"10\thttp://dbpedia.org/resource/Paris\n\x00\x01\x02\xff\n",
     "ent_ids_2:2: contains NUL bytes: this looks like a binary file"),
    ("ent_ids_1", b"0\thttp://fr.dbpedia.org/resource/Paris\n1\thttp://fr.dbpedia.org/resource/Fran\xe7e\n"
                  b"2\thttp://fr.dbpedia.org/resource/AC/DC\n", "ent_ids_1:2: not valid UTF-8 (byte 0xe7"),
    ("ref_ent_ids", "0\t10\n1\t11\n2\t99\n", "ref_ent_ids:3: unknown right entity id 99 (not in ent_ids_2)"),
    ("triples_2", "10\t2\t11\n11\t3\t10\n13\t2\t77\n", "triples_2:3: unknown tail entity id 77 (not a KG2 entity"),
    ("triples_2", "10\t2\t11\n11\t1\t10\n13\t2\t11\n", "triples_2:2: unknown relation id 1 "
                                                        "(not a KG2 relation in rel_ids_2)"),
    ("triples_1", "0\t0\t1\n1\t1\t11\n", "triples_1:2: unknown tail entity id 11 (not a KG1 entity in "
                                          "ent_ids_1; it is a KG2 entity)"),
    ("ent_ids_2", TINY["ent_ids_2"] + "11\thttp://dbpedia.org/resource/Nice\n",
     "ent_ids_2:5: duplicate KG2 entity id 11 (first on line 2)"),
    ("ent_ids_2", TINY["ent_ids_2"] + "2\thttp://dbpedia.org/resource/Nice\n",
     "ent_ids_2:5: entity id 2 is also a KG1 entity id"),
    ("rel_ids_1", "0\thttp://fr.dbpedia.org/property/pays\nx1\thttp://fr.dbpedia.org/property/capital\n",
     "rel_ids_1:2: id 'x1' is not an integer id"),
    ("ref_ent_ids", "0\t10\n1\t11\n2\t12\n1\t11\n", "ref_ent_ids:4: duplicate link (1, 11), first on line 2"),
    ("ref_ent_ids", "0\t10\n1\t11\n2\t12\n2\t13\n", "ref_ent_ids:4: left id 2 is already linked on line 3"),
    ("ref_ent_ids", "0\t10\n11\t1\n2\t12\n", "ref_ent_ids:2: left id 11 is a KG2 entity, expected a KG1 "
                                              "entity from ent_ids_1 (are the columns swapped?)"),
    ("ref_ent_ids", "0\t10\n\n2\t12\n", "ref_ent_ids:2: empty line"),
    ("ref_ent_ids", "", "ref_ent_ids: file is empty"),
    ("rel_ids_2", None, "rel_ids_2: file not found"),
])
def test_each_broken_file_is_reported_with_its_line(tmp_path, name, content, expected):
    directory = write_tiny(tmp_path / "tiny", **{name: content})
    problems = _problems(directory)
    assert any(p.startswith(f"{directory / expected.split(':')[0]}") and expected in p for p in problems), problems


def test_a_file_with_several_problems_reports_all_of_them(tmp_path):
    directory = write_tiny(tmp_path / "tiny", triples_2="10\t2\t11\n11\t3\n13\t9\t11\nxx\t2\t10\n",
                           ref_ent_ids="0\t10\n1\t11\n2\t12\n5\t13\n")
    problems = _problems(directory)
    t2, ref = directory / "triples_2", directory / "ref_ent_ids"
    assert problems == [
        f"{t2}:2: expected 3 tab-separated fields, got 2",
        f"{t2}:3: unknown relation id 9 (not a KG2 relation in rel_ids_2)",
        f"{t2}:4: head 'xx' is not an integer id",
        f"{ref}:4: unknown left entity id 5 (not in ent_ids_1)",
    ]


def test_translated_names_need_a_complete_translation_file(tmp_path):
    directory = write_tiny(tmp_path / "tiny", ent_ids_1_trans_en="0\thttp://en.dbpedia.org/resource/Paris\n"
                                                                 "7\thttp://en.dbpedia.org/resource/Nowhere\n")
    problems = _problems(directory, names="translated")
    path = directory / "ent_ids_1_trans_en"
    assert f"{path}:2: id 7 is not a KG1 entity (ent_ids_1)" in problems
    assert any(p.startswith(f"{path}: 2 KG1 entities have no translation, e.g. ids [1, 2]") for p in problems)
    # the URI names need no translation file
    assert load_dbp15k(write_tiny(tmp_path / "plain", ent_ids_1_trans_en=None)).left.n_entities == 3


def test_missing_directory_and_bad_options(tmp_path):
    with pytest.raises(DataError, match="DBP15K directory not found"):
        load_dbp15k(tmp_path / "nowhere")
    directory = write_tiny(tmp_path / "tiny")
    with pytest.raises(ValueError, match="names must be one of"):
        load_dbp15k(directory, names="english")
    with pytest.raises(ValueError, match="split must be one of"):
        load_dbp15k(directory, split="kfold")
    with pytest.raises(ValueError, match="valid_fraction"):
        load_dbp15k(directory, valid_fraction=1.0)


# ----------------------------------------------------------------------------------- splits ----
def test_split_rule_generalises_to_any_number_of_links():
    codes = split_codes(20, valid_fraction=0.5)  # 6 seeds (the last 6 lines), the last 3 VALID
    assert [Split.from_code(c).value for c in codes] == ["test"] * 14 + ["train"] * 3 + ["valid"] * 3
    assert np.bincount(split_codes(15_000), minlength=3).tolist() == [4_050, 450, 10_500]
    random = split_codes(1_001, protocol="random", seed=7)
    assert np.bincount(random, minlength=3).tolist() == [270, 30, 701]  # round(300.3) = 300 seeds
    assert np.array_equal(random, split_codes(1_001, protocol="random", seed=7))
    assert not np.array_equal(random, split_codes(1_001, protocol="random", seed=8))
    assert split_codes(0).size == 0


def test_local_names_prefer_the_marker_over_the_last_slash():
    uris = ["http://dbpedia.org/resource/AC/DC", "http://dbpedia.org/property/battles/wars",
            "http://example.org/things/widget", "http://dbpedia.org/resource/"]
    assert list(local_names(uris, ("/resource/", "/property/"))) == [
        "AC/DC", "battles/wars", "widget", "http://dbpedia.org/resource/"]
