"""Tables mualign has never seen: a commented template mapping, and DeepMatcher's joined split files
(issue 13 item 14)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cli.main import main
from core.formats.errors import DataError
from core.formats.table_mapping import TableMapping
from core.formats.tables import load_tables

AUTHORS = ["ann lee", "bo chen", "cy diaz", "di eng"]


def _write_tables(folder, *, joined: bool = False):
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(40):
        authors = " , ".join(AUTHORS[(i + k) % 4] for k in range(2))
        rows.append([str(i), f"paper number {i} on topic {i % 7}", authors, ["vldb", "sigmod"][i % 2],
                     str(1990 + i % 10), f"{i % 5}:{i % 60:02d}"])
    header = "id,title,authors,venue,year,length"
    for name in ("tableA.csv", "tableB.csv"):
        (folder / name).write_text(header + "\n" + "".join(",".join(f'"{c}"' if "," in c else c for c in r) + "\n"
                                                            for r in rows))
    pairs = {"train.csv": [(i, i, 1) for i in range(0, 20)] + [(i, i + 1, 0) for i in range(0, 10)],
             "valid.csv": [(i, i, 1) for i in range(20, 30)], "test.csv": [(i, i, 1) for i in range(30, 40)]}
    for name, items in pairs.items():
        if joined:
            text = "id,label,left_id,left_title,right_id,right_title\n" + "".join(
                f"{k},{label},{a},paper {a},{b},paper {b}\n" for k, (a, b, label) in enumerate(items))
        else:
            text = "ltable_id,rtable_id,label\n" + "".join(f"{a},{b},{label}\n" for a, b, label in items)
        (folder / name).write_text(text)
    return folder


def test_write_mapping_writes_a_commented_template_that_imports(tmp_path, capsys):
    source = _write_tables(tmp_path / "src")
    target = tmp_path / "mapping.json"
    assert main(["import", "tables", str(source), "--write-mapping", str(target)]) == 0
    assert "--mapping" in capsys.readouterr().out
    data = json.loads(target.read_text())
    keys = [k for k in data if not k.startswith("_comment")]
    assert keys and all(f"_comment_{k}" in data for k in keys)
    assert data["name_column"] == "title" and data["id_column"] == "id"
    entities = {e["column"]: e for e in data["entity_columns"]}
    assert entities["authors"]["delimiter"] == "," and entities["authors"]["type"] == "author"
    assert "venue" in entities and all("_comment" in e for e in data["entity_columns"] + data["attributes"])
    kinds = {a["column"]: a["kind"] for a in data["attributes"]}
    assert kinds == {"year": "number", "length": "duration"}
    assert main(["import", "tables", str(source), "--mapping", str(target), "--project", str(tmp_path / "p")]) == 0


def test_a_template_never_replaces_a_mapping_file(tmp_path, capsys):
    source = _write_tables(tmp_path / "src")
    target = tmp_path / "mapping.json"
    target.write_text("{}")
    assert main(["import", "tables", str(source), "--write-mapping", str(target)]) == 2
    assert "exists; a template never replaces" in capsys.readouterr().err and target.read_text() == "{}"


def test_a_folder_without_tables_is_explained(tmp_path, capsys):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "data.csv").write_text("a,b\n")
    assert main(["import", "tables", str(tmp_path / "src"), "--write-mapping", str(tmp_path / "m.json")]) == 2
    assert "expected the DeepMatcher layout: tableA.csv" in capsys.readouterr().err


def test_comment_keys_are_skipped_but_misspelt_keys_are_not(tmp_path):
    good = {"_comment": "x", "_comment_row_type": "y", "row_type": "paper", "name_column": "title",
            "attributes": [{"_comment": "why", "column": "year", "kind": "number"}]}
    (tmp_path / "good.json").write_text(json.dumps(good))
    mapping = TableMapping.from_path(tmp_path / "good.json")
    assert mapping.row_type == "paper" and mapping.attributes[0].column == "year"
    (tmp_path / "bad.json").write_text(json.dumps({**good, "_note": "x", "row_typ": "p"}))
    with pytest.raises(DataError, match="unknown key '_note'") as info:
        TableMapping.from_path(tmp_path / "bad.json")
    assert "unknown key 'row_typ'" in str(info.value)


def test_duplicate_keys_in_a_mapping_are_refused(tmp_path):
    (tmp_path / "m.json").write_text('{"row_type": "paper",\n "name_column": "title",\n "row_type": "song"}')
    with pytest.raises(DataError, match=r"m.json:3: key 'row_type' appears twice"):
        TableMapping.from_path(tmp_path / "m.json")


def test_joined_split_files_give_the_same_links(tmp_path):
    mapping = TableMapping(row_type="paper", name_column="title")
    plain = load_tables(_write_tables(tmp_path / "plain"), mapping)
    joined = load_tables(_write_tables(tmp_path / "joined", joined=True), mapping)
    for field in ("left", "right", "label", "split", "type"):
        assert np.array_equal(getattr(plain.links, field), getattr(joined.links, field))
    assert len(joined.links) == 50


def test_a_split_file_of_neither_form_names_both(tmp_path):
    source = _write_tables(tmp_path / "src")
    (source / "test.csv").write_text("a,b,label\n1,1,1\n")
    with pytest.raises(DataError, match="ltable_id,rtable_id,label or DeepMatcher's joined"):
        load_tables(source, TableMapping(row_type="paper", name_column="title"))
