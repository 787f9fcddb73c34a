"""Paired-table importer: the real DBLP-ACM and iTunes-Amazon files load with the verified counts,
the value parsers read the real spellings, and every broken input is reported by file and line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.formats.errors import DataError
from core.data.links import Split
from core.formats.tables import (
    PRESETS, AttributeColumn, AttributeKind, EntityColumn, TableMapping, cg_mualign_dedup, load_tables,
    load_tables_with_report, parse_dates, parse_durations, parse_numbers, write_preset,
)
from core.formats.native import load_project, save_project


def _dir(shared_data: Path, name: str) -> Path:
    directory = shared_data / name
    if not (directory / "train.csv").is_file():
        pytest.skip(f"{name} files not found in {directory}")
    return directory


@pytest.fixture(scope="module")
def dblp_dir(shared_data) -> Path:
    return _dir(shared_data, "dblp_acm")


@pytest.fixture(scope="module")
def itunes_dir(shared_data) -> Path:
    return _dir(shared_data, "itunes_amazon")


@pytest.fixture(scope="module")
def dblp(dblp_dir):
    return load_tables(dblp_dir, "dblp_acm")


@pytest.fixture(scope="module")
def itunes(itunes_dir):
    return load_tables_with_report(itunes_dir, "itunes_amazon")


def _per_type(kg) -> dict[str, int]:
    return kg.summary()["entities_per_type"]


def _split_counts(links) -> dict[str, tuple[int, int]]:
    """{split: (pairs, positives)}."""
    return {s.value: (int((links.split == s.code).sum()), int(((links.split == s.code) & (links.label == 1)).sum()))
            for s in Split}


# -------------------------------------------------------------------------------- dblp_acm ----
def test_dblp_acm_loads_with_the_verified_counts(dblp):
    assert _per_type(dblp.left) == {"paper": 2_616, "author": 3_320, "venue": 5}
    assert _per_type(dblp.right) == {"paper": 2_294, "author": 3_474, "venue": 5}
    # one written_by edge per author mention (no paper lists an author twice), one venue per paper
    assert dblp.left.summary()["triples_per_relation"] == {"written_by": 7_787, "published_in": 2_616}
    assert dblp.right.summary()["triples_per_relation"] == {"written_by": 6_825, "published_in": 2_294}
    assert _split_counts(dblp.links) == {"train": (7_417, 1_332), "valid": (2_473, 444), "test": (2_473, 444),
                                         "unused": (4, 4)}
    assert int(dblp.links.label.sum()) == 2_224  # the complete gold standard
    assert dblp.schema.type_names == ("paper", "author", "venue")
    assert [c.name for c in dblp.schema.relations] == ["written_by", "published_in"]
    assert dblp.left.attribute_kind("year") == "number"


def test_dblp_acm_ids_names_and_neighbours(dblp):
    kg = dblp.left
    paper = kg.indices_of(["paper:1"])[0]
    assert kg.names[paper].startswith("estimation of query-result distribution")
    assert kg.attributes["year"].iat[paper] == 1996.0
    neighbours, _ = kg.adjacency.neighbours_of(paper)
    assert set(kg.entity_ids[neighbours]) == {"author:viswanath poosala", "author:yannis e. ioannidis", "venue:vldb"}
    # neighbour entities have no row attributes
    author = kg.indices_of(["author:yannis e. ioannidis"])[0]
    assert np.isnan(kg.attributes["year"].iat[author])
    # links index the paper entities named by the split files' table ids
    train = dblp.links.in_split(Split.TRAIN)
    assert (kg.entity_ids[train.left[0]], dblp.right.entity_ids[train.right[0]]) == ("paper:1756", "paper:1418")
    assert (dblp.links.type == 0).all()


def test_dblp_acm_round_trip_through_the_native_format(dblp, tmp_path):
    save_project(dblp, tmp_path / "dblp")
    back = load_project(tmp_path / "dblp")
    assert back.summary() | {"name": ""} == dblp.summary() | {"name": ""}
    assert list(back.left.entity_ids) == list(dblp.left.entity_ids)
    pd.testing.assert_frame_equal(back.right.attributes, dblp.right.attributes)
    assert np.array_equal(back.links.split, dblp.links.split)


# --------------------------------------------------------------------------- itunes_amazon ----
def test_itunes_amazon_loads_with_the_verified_counts(itunes):
    d, report = itunes
    assert _per_type(d.left) == {"song": 6_907, "artist": 934, "album": 1_119}
    # SOURCE.md counts 3,215 B albums with exact-string dedup, which includes the empty string of
    # the 3 songs without an album; an empty value makes no entity here.
    assert _per_type(d.right) == {"song": 9_588, "artist": 1_161, "album": 3_214}
    assert d.left.summary()["triples_per_relation"]["track_on"] == 6_907
    assert d.right.summary()["triples_per_relation"]["track_on"] == 9_585
    assert _split_counts(d.links) == {"train": (321, 78), "valid": (109, 27), "test": (109, 27), "unused": (0, 0)}
    assert report.dedup_dropped == {} and report.gold_unused == 0


def test_itunes_amazon_attributes_parse_the_real_spellings(itunes):
    d, report = itunes
    a, b = d.left, d.right
    row = a.indices_of(["song:0"])[0]  # Runaway Train,Cam,...,$ 0.99,...,3:01,31-Mar-15
    assert a.attributes["price"].iat[row] == 0.99 and a.attributes["duration"].iat[row] == 181.0
    assert a.attributes["released"].iat[row] == pd.Timestamp("2015-03-31")
    assert a.attributes["genre"].iat[row] == "Country , Music , Contemporary Country , Honky Tonk"
    row = b.indices_of(["song:2"])[0]  # Lytah,Rusko,...,$ 1.29,...,3:48,"September 16 , 2014"
    assert b.attributes["released"].iat[row] == pd.Timestamp("2014-09-16")
    assert b.attributes["duration"].iat[row] == 228.0
    assert a.attribute_kind("released") == "date" and a.attribute_kind("duration") == "number"
    # A's two-digit years span 1990-2015: none may land in the future
    released = a.attributes["released"].dropna()
    assert released.min() == pd.Timestamp("1990-01-01") or released.min().year >= 1990
    assert released.max() < pd.Timestamp("2016-01-01")
    # unparseable values become missing and are counted: 1,018 'Album Only' + 16 'Pre-Order Only', 145 '--'
    assert report.unparsed_count("left", "price") == 1_034
    assert report.unparsed_count("left", "duration") == 145
    assert report.unparsed_count("left", "released") == 0 and report.unparsed_count("right", "released") == 0
    assert a.attributes["released"].isna().sum() == 304 + (a.n_entities - 6_907)


def test_itunes_amazon_derived_album_by_edges(itunes):
    d, _ = itunes
    kg = d.left
    album_by = kg.relation_names.index("album_by")
    heads, tails = kg.heads[kg.relations == album_by], kg.tails[kg.relations == album_by]
    assert set(kg.type_names[t] for t in kg.entity_types[heads]) == {"album"}
    assert set(kg.type_names[t] for t in kg.entity_types[tails]) == {"artist"}
    cam = kg.indices_of(["artist:Cam"])[0]
    album = kg.indices_of(["album:Welcome to Cam Country - EP"])[0]
    assert ((heads == album) & (tails == cam)).sum() == 1


def test_itunes_amazon_cg_mualign_dedup_leaves_273_103_101(itunes_dir):
    d, report = load_tables_with_report(itunes_dir, "itunes_amazon", dedup="cg_mualign")
    assert _split_counts(d.links) == {"train": (273, 73), "valid": (103, 26), "test": (101, 26), "unused": (0, 0)}
    assert report.dedup_dropped == {"train": 48, "valid": 6, "test": 8}


def test_itunes_amazon_round_trip_through_the_native_format(itunes, tmp_path):
    d, _ = itunes
    save_project(d, tmp_path / "itunes")
    back = load_project(tmp_path / "itunes")
    assert back.summary() | {"name": ""} == d.summary() | {"name": ""}
    for side in ("left", "right"):
        pd.testing.assert_frame_equal(getattr(back, side).attributes, getattr(d, side).attributes)
        assert list(getattr(back, side).names) == list(getattr(d, side).names)


def test_normalisation_options_change_the_neighbour_keys(itunes_dir):
    lower = TableMapping(**{**_fields(PRESETS["itunes_amazon"]), "entity_columns": (
        EntityColumn("Artist_Name", "artist", "performed_by", normalise=("strip", "collapse_spaces", "lowercase")),
        EntityColumn("Album_Name", "album", "track_on", normalise=("strip", "collapse_spaces", "lowercase")))})
    d = load_tables(itunes_dir, lower)
    assert _per_type(d.right) == {"song": 9_588, "artist": 1_157, "album": 3_212}
    assert "artist:cam" in set(d.left.entity_ids)


def _fields(mapping: TableMapping) -> dict:
    return {k: getattr(mapping, k) for k in mapping.__dataclass_fields__}


# ------------------------------------------------------------------------------ value parsing ----
def test_number_duration_and_date_parsers():
    assert parse_numbers(pd.Series(["$ 1.29", "Album Only", "FREE", "1,299", " 2003 ", ""])).tolist()[:5] == \
        [1.29, pytest.approx(np.nan, nan_ok=True), 0.0, 1299.0, 2003.0]
    assert parse_durations(pd.Series(["3:41", "1:01:40", "27:07:00", "2:09:26", "--", "3:75"])).tolist()[:4] == \
        [221.0, 3700.0, 1627.0, 7766.0]
    assert np.isnan(parse_durations(pd.Series(["3:75"]))[0])
    dates = parse_dates(pd.Series(["31-Mar-15", "01-Feb-99", "03-Apr-74", "September 16 , 2014", "2010", "soon"]))
    assert [str(d.date()) if not pd.isna(d) else None for d in dates] == [
        "2015-03-31", "1999-02-01", "1974-04-03", "2014-09-16", "2010-01-01", None]
    assert str(parse_dates(pd.Series(["03/04/2015"]), dayfirst=True)[0].date()) == "2015-04-03"


def test_cg_mualign_dedup_keeps_first_come_pairs():
    keep = cg_mualign_dedup(np.array([1, 1, 2, 3, 2]), np.array([7, 8, 7, 9, 10]))
    # (1,8) reuses left 1; (2,7) reuses right 7; (2,10) is kept: left 2 was only in a dropped pair
    assert keep.tolist() == [True, False, False, True, True]


# ----------------------------------------------------------------------------- mapping files ----
def test_presets_round_trip_through_json(tmp_path):
    for name, preset in PRESETS.items():
        path = write_preset(name, tmp_path / f"{name}.json")
        assert TableMapping.from_path(path) == preset
    with pytest.raises(KeyError, match="unknown preset"):
        write_preset("imdb", tmp_path / "x.json")


def test_bad_mapping_files_are_reported_with_line_numbers(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{\n  "row_type": "paper",\n  "name_column": "title"\n  "id_column": "id"\n}\n')
    with pytest.raises(DataError, match=rf"{path}:4: invalid JSON: Expecting ',' delimiter"):
        TableMapping.from_path(path)
    path.write_text(PRESETS["dblp_acm"].to_json()
                    .replace('"kind": "number"', '"kind": "integer"')
                    .replace('"gold_file"', '"gold"')
                    .replace('"type": "venue"', '"type": "paper"'))
    with pytest.raises(DataError) as info:
        TableMapping.from_path(path)
    problems = str(info.value).splitlines()[1:]
    lines = path.read_text().splitlines()
    kind_line = next(i for i, line in enumerate(lines, 1) if '"integer"' in line)
    gold_line = next(i for i, line in enumerate(lines, 1) if '"gold"' in line)
    assert any(p.startswith(f"{path}:{kind_line}: attributes[0]: kind 'integer' is not one of") for p in problems)
    assert any(p.startswith(f"{path}:{gold_line}: unknown key 'gold'") for p in problems)
    with pytest.raises(ValueError, match="has the row type 'paper'"):
        TableMapping(row_type="paper", name_column="title",
                     entity_columns=(EntityColumn("venue", "paper", "published_in"),))
    with pytest.raises(ValueError, match="kind: 'integer' is not one of"):
        AttributeColumn("year", "integer")
    assert AttributeColumn("year", "number").kind is AttributeKind.NUMBER


# ------------------------------------------------------------------------ broken DBLP copies ----
SMALL_A = """id,title,authors,venue,year
0,a paper on joins,"jim gray , david dewitt",vldb,1999
1,another paper,jim gray,sigmod conference,2001
2,a third paper,,vldb,2002
"""
SMALL_B = """id,title,authors,venue,year
0,a paper on joins,"j. gray , d. dewitt",very large data bases,1999
1,yet another,"m. stonebraker",acm sigmod record,2000
"""
SMALL_FILES = {"tableA.csv": SMALL_A, "tableB.csv": SMALL_B,
               "train.csv": "ltable_id,rtable_id,label\n0,0,1\n1,1,0\n",
               "valid.csv": "ltable_id,rtable_id,label\n2,1,0\n",
               "test.csv": "ltable_id,rtable_id,label\n1,0,0\n",
               "gold_matches.csv": "ltable_id,rtable_id\n0,0\n2,0\n"}


def write_small(directory: Path, **overrides: str | bytes | None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in {**SMALL_FILES, **{k.replace("__", "."): v for k, v in overrides.items()}}.items():
        if content is not None:
            (directory / name).write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return directory


def test_small_tables_by_hand(tmp_path):
    d = load_tables(write_small(tmp_path / "small"), "dblp_acm")
    assert list(d.left.entity_ids) == ["paper:0", "paper:1", "paper:2", "author:jim gray", "author:david dewitt",
                                       "venue:vldb", "venue:sigmod conference"]
    assert d.left.n_triples == 3 + 3  # paper 2 has no authors: no edge, no empty author
    assert _split_counts(d.links)["unused"] == (1, 1)  # gold (2, 0) is in no split
    assert d.right.attributes["year"].tolist()[:2] == [1999.0, 2000.0]


@pytest.fixture(scope="module")
def dblp_copy(dblp_dir, tmp_path_factory) -> Path:
    """A pristine copy of the real DBLP-ACM files; each test copies it again before breaking it."""
    directory = tmp_path_factory.mktemp("dblp_pristine")
    for name in ("tableA.csv", "tableB.csv", "train.csv", "valid.csv", "test.csv", "gold_matches.csv"):
        shutil.copy(dblp_dir / name, directory / name)
    return directory


def _broken(dblp_copy: Path, tmp_path: Path, name: str, edit) -> Path:
    directory = tmp_path / "dblp"
    shutil.copytree(dblp_copy, directory)
    path = directory / name
    if edit is None:
        path.unlink()
        return directory
    lines = path.read_bytes().split(b"\n")
    edit(lines)
    path.write_bytes(b"\n".join(lines))
    return directory


def _set(line_number: int, content: bytes):
    def edit(lines):
        lines[line_number - 1] = content
    return edit


def _problems(directory: Path, mapping="dblp_acm") -> list[str]:
    with pytest.raises(DataError) as info:
        load_tables(directory, mapping)
    return str(info.value).splitlines()[1:]


@pytest.mark.parametrize("name, edit, expected", [
    # a truncated line: the row for id 99 (line 101) lost its venue and year
    ("tableA.csv", lambda lines: lines.__setitem__(100, lines[100].rsplit(b",", 2)[0]),
     "tableA.csv:101: expected 5 comma-separated fields as in the header, got 3"),
    ("train.csv", _set(11, b"1832;910;0"),
     "train.csv:11: expected 3 comma-separated fields as in the header, got 1 (is the file comma-separated?)"),
    ("tableB.csv", _set(40, b"\x00\x00\x7fELF\x02\x01"),
     "tableB.csv:40: contains NUL bytes: this looks like a binary file"),
    ("tableA.csv", _set(60, b"58,caf\xe9 society,jim gray,vldb,1999"),
     "tableA.csv:60: not valid UTF-8 (byte 0xe9"),
    ("valid.csv", _set(3, b"1074,99999,0"), "valid.csv:3: rtable_id 99999 is not an id of tableB.csv"),
    ("gold_matches.csv", _set(2, b"77777,1345"), "gold_matches.csv:2: ltable_id 77777 is not an id of tableA.csv"),
    ("tableB.csv", _set(12, b'5,a duplicate row,"a , b",vldb,2000'),
     "tableB.csv:12: duplicate id 5 (first on line 7)"),
    ("tableA.csv", _set(3, b"1x,a title,an author,vldb,1996"), "tableA.csv:3: id '1x' is not an integer id"),
    ("test.csv", _set(2, b"1756,1418,0"), "test.csv:2: duplicate labelled pair (1756, 1418), first at train.csv:2"),
    ("train.csv", _set(3, b"217,2135,yes"), "train.csv:3: label must be 1 or 0, got 'yes'"),
    ("tableA.csv", _set(5, b'3,"an unclosed" quote,x,vldb,1999'), "tableA.csv:5: cannot parse CSV"),
    ("valid.csv", None, "valid.csv: file not found"),
    ("tableA.csv", _set(1, b"id;title;authors;venue;year"),
     "tableA.csv:1: header lacks column 'id', which the mapping names as id_column"),
])
def test_each_broken_file_is_reported_with_its_line(dblp_copy, tmp_path, name, edit, expected):
    directory = _broken(dblp_copy, tmp_path, name, edit)
    problems = _problems(directory)
    assert any(p.startswith(str(directory / expected.split(":")[0])) and expected in p for p in problems), problems[:5]


def test_a_file_with_several_problems_reports_all_of_them(dblp_copy, tmp_path):
    def edit(lines):
        lines[4] = b"1496,1225"  # line 5: a field short
        lines[9] = b"2615,2293,2"  # line 10: bad label
        lines[19] = b"-3,749,0"  # line 20: not an id
        lines[29] = b"5000,749,0"  # line 30: unknown left id
    directory = _broken(dblp_copy, tmp_path, "test.csv", edit)
    path = directory / "test.csv"
    assert _problems(directory) == [
        f"{path}:5: expected 3 comma-separated fields as in the header, got 2",
        f"{path}:10: label must be 1 or 0, got '2'",
        f"{path}:20: ltable_id '-3' is not an integer id",
        f"{path}:30: ltable_id 5000 is not an id of tableA.csv",
    ]


def test_a_mapping_naming_an_unknown_column_points_at_the_mapping_line(dblp_copy, tmp_path):
    directory = _broken(dblp_copy, tmp_path, "test.csv", lambda lines: None)
    mapping = tmp_path / "mapping.json"
    mapping.write_text(PRESETS["dblp_acm"].to_json().replace('"column": "venue"', '"column": "venues"'))
    line = next(i for i, text in enumerate(mapping.read_text().splitlines(), 1) if '"venues"' in text)
    problems = _problems(directory, str(mapping))
    header = "['id', 'title', 'authors', 'venue', 'year']"
    assert problems == [
        f"{mapping}:{line}: column 'venues' is not a column of {directory / 'tableA.csv'}; its header is {header}",
        f"{mapping}:{line}: column 'venues' is not a column of {directory / 'tableB.csv'}; its header is {header}",
    ]


def test_empty_files_and_an_unclosed_quote(tmp_path):
    directory = write_small(tmp_path / "small", valid__csv="",
                            tableB__csv=SMALL_B.replace('"m. stonebraker"', '"m. stonebraker'))
    assert _problems(directory) == [
        f"{directory / 'tableB.csv'}:3: cannot parse CSV: unexpected end of data (a field holding commas or quotes "
        "must be double-quoted, with inner quotes doubled)",
        f"{directory / 'train.csv'}:3: rtable_id 1 is not an id of tableB.csv",  # its row was the broken one
        f"{directory / 'valid.csv'}: file is empty (expected a header line)",
    ]


def test_gold_pair_labelled_as_non_match_is_a_contradiction(tmp_path):
    directory = write_small(tmp_path / "small", test__csv="ltable_id,rtable_id,label\n2,0,0\n")
    assert _problems(directory) == [f"{directory / 'test.csv'}:2: pair (2, 0) is labelled 0 but is in gold_matches.csv"]


def test_unknown_preset_missing_directory_and_bad_dedup(tmp_path):
    with pytest.raises(DataError, match="neither a mapping preset"):
        load_tables(tmp_path, "imdb")
    with pytest.raises(DataError, match="table directory not found"):
        load_tables(tmp_path / "nowhere", "dblp_acm")
    with pytest.raises(ValueError, match="dedup must be"):
        load_tables(tmp_path, "dblp_acm", dedup="magellan")


def test_mapping_json_file_is_accepted_by_path(tmp_path):
    directory = write_small(tmp_path / "small")
    path = write_preset("dblp_acm", tmp_path / "m.json")
    assert load_tables(directory, path).left.n_entities == load_tables(directory, str(path)).left.n_entities == 7
    data = json.loads(path.read_text())
    assert TableMapping.from_dict(data) == PRESETS["dblp_acm"]
