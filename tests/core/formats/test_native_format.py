"""The native project format: round trip, and every kind of bad input reported by file and line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.formats.errors import DataError
from core.data.links import Split
from core.formats.native import load_project, save_project
from tests.conftest import LINKS, write_tiny_project


def test_loads_types_attributes_triples_and_links(tiny_project):
    d = load_project(tiny_project)
    assert d.left.n_entities == 6 and d.right.n_entities == 6
    assert set(d.left.type_names) == {"film", "person"}
    assert set(d.right.type_names) == {"movie", "person"}
    assert d.left.attribute_kind("year") == "number" and d.left.attribute_kind("born") == "date"
    f1 = d.left.indices_of(["f1"])[0]
    assert d.left.attributes["year"].iat[f1] == 1999.0
    assert pd.isna(d.left.attributes["born"].iat[f1])
    # the schema pairs relations, and same-named attributes by default
    assert [c.name for c in d.schema.attributes] == ["year"]
    assert len(d.links) == 6
    assert d.links.counts(d.schema.type_names) == {"train": {"film": 1, "person": 1}, "valid": {"film": 1, "person": 1},
                                                   "test": {"film": 1, "person": 1}}


def test_adjacency_holds_both_directions(tiny_project):
    d = load_project(tiny_project)
    kg = d.left
    p1 = kg.indices_of(["p1"])[0]
    neighbours, relations = kg.adjacency.neighbours_of(p1)
    # p1 acts in f1, f2, f3: reached through the inverse of acted_by
    assert sorted(kg.entity_ids[neighbours]) == ["f1", "f2", "f3"]
    assert set(relations) == {kg.relation_names.index("acted_by") + len(kg.relation_names)}
    assert kg.adjacency.degree().sum() == 2 * kg.n_triples


def test_round_trip_is_identical(tiny_project, tmp_path):
    d = load_project(tiny_project)
    save_project(d, tmp_path / "copy")
    e = load_project(tmp_path / "copy")
    for side in ("left", "right"):
        a, b = getattr(d, side), getattr(e, side)
        assert list(a.entity_ids) == list(b.entity_ids) and list(a.names) == list(b.names)
        pd.testing.assert_frame_equal(a.attributes, b.attributes)
        assert np.array_equal(a.heads, b.heads) and np.array_equal(a.tails, b.tails)
    assert np.array_equal(d.links.split, e.links.split)
    assert (tmp_path / "copy" / "schema.json").read_text() == (tmp_path / "copy" / "schema.json").read_text()


def _problems(directory) -> list[str]:
    with pytest.raises(DataError) as info:
        load_project(directory)
    return str(info.value).splitlines()[1:]


def test_every_problem_in_a_file_is_reported_with_its_line(tmp_path):
    links = LINKS + "f1\tm99\t1\ttrain\nx\ny\nf2\tq10\t1\ttest\np3\tq12\t2\tfoo\np3\tq12\t1\ttest\n"
    problems = _problems(write_tiny_project(tmp_path / "p", **{"links.tsv": links}))
    path = str(tmp_path / "p" / "links.tsv")
    assert f"{path}:8: unknown right entity id 'm99'" in problems
    assert f"{path}:9: expected 4 tab-separated fields, got 1" in problems
    assert f"{path}:10: expected 4 tab-separated fields, got 1" in problems
    assert any(p.startswith(f"{path}:11: link joins a left 'film' with a right 'person'") for p in problems)
    assert f"{path}:12: label must be 1 or 0, got '2'" in problems
    assert any(p.startswith(f"{path}:12: split must be one of") for p in problems)
    assert any(p.startswith(f"{path}:13: duplicate link ('p3', 'q12')") for p in problems)


@pytest.mark.parametrize("rel, text, expected", [
    ("left/entities.tsv", "id\ttype\tname\nf1\tfilm\tA\nf1\tfilm\tB\n", ":3: duplicate entity id 'f1' (first on line 2)"),
    ("left/entities.tsv", "id\ttype\tname\tyear:number\nf1\tfilm\tA\tnineteen\n", ":2: attribute 'year': 'nineteen' is not a number"),
    ("left/entities.tsv", "id\ttype\tname\tborn:date\nf1\tfilm\tA\t31/02/1999\n", ":2: attribute 'born': '31/02/1999' is not an ISO date"),
    ("left/entities.tsv", "id\ttype\tname\tyear:num\nf1\tfilm\tA\t1\n", ":1: attribute column 'year:num': unknown kind 'num'"),
    ("left/entities.tsv", "id,type,name\nf1,film,A\n", ":1: header lacks column(s) ['id', 'type', 'name']"),
    ("left/triples.tsv", "head\trelation\ttail\nf1\tacted_by\tp404\n", ":2: unknown tail entity id 'p404'"),
    ("left/triples.tsv", "head\trelation\ttail\nf1\tacted_by\n", ":2: expected 3 tab-separated fields, got 2"),
])
def test_bad_graph_files(tmp_path, rel, text, expected):
    project = write_tiny_project(tmp_path / "p", **{rel: text})
    problems = _problems(project)
    assert any(p.startswith(str(project / rel)) and expected in p for p in problems), problems


def test_bad_encoding_and_binary_and_missing_files(tmp_path):
    project = write_tiny_project(tmp_path / "p")
    (project / "right" / "triples.tsv").write_bytes(b"head\trelation\ttail\nm10\tactor\tq\xe9\n")
    (project / "left" / "triples.tsv").write_bytes(b"\x00\x01\x02binary")
    (project / "links.tsv").unlink()
    problems = _problems(project)
    assert any(p.startswith(f"{project}/right/triples.tsv:2: not valid UTF-8") for p in problems)
    assert any(p.startswith(f"{project}/left/triples.tsv:1: contains NUL bytes") for p in problems)
    # links are only checked once both graphs loaded; the graphs' problems come first
    assert len(problems) == 2


def test_schema_naming_unknown_type_points_at_its_line(tmp_path):
    schema = '{\n  "types": [\n    {"name": "film", "left": "film", "right": "film"}\n  ]\n}\n'
    project = write_tiny_project(tmp_path / "p", **{"schema.json": schema})
    problems = _problems(project)
    assert any(p.startswith(f"{project}/schema.json:3: type 'film' is not a right type") for p in problems)


def test_invalid_json_schema(tmp_path):
    project = write_tiny_project(tmp_path / "p", **{"schema.json": '{\n "types": [\n'})
    assert any("schema.json:3: invalid JSON" in p for p in _problems(project))


def test_crlf_and_bom_are_accepted(tmp_path):
    project = write_tiny_project(tmp_path / "p")
    path = project / "links.tsv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    assert len(load_project(project).links.in_split(Split.TEST)) == 2
