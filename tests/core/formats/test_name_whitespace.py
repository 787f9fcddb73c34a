"""Names lose stray whitespace on import, in every format (issue 13 item 15)."""

from __future__ import annotations

from core.formats.native import load_project
from core.formats.tables import TableMapping, load_tables
from core.formats.textio import clean_names
from tests.conftest import LEFT_ENTITIES, write_tiny_project


def test_clean_names():
    assert clean_names(["  Keanu   Reeves ", "Speed\u00a0\u00a02", "", "x"]).tolist() == ["Keanu Reeves", "Speed 2", "", "x"]


def test_native_names_are_stripped_and_collapsed(tmp_path):
    left = LEFT_ENTITIES.replace("\tThe Matrix\t", "\t  The   Matrix \t")
    dataset = load_project(write_tiny_project(tmp_path / "p", **{"left/entities.tsv": left}))
    assert dataset.left.names[0] == "The Matrix"


def test_table_names_are_stripped(tmp_path):
    for name in ("tableA.csv", "tableB.csv"):
        (tmp_path / name).write_text("id,title\n0,\"  Deep   Learning \"\n1,Graphs\n")
    for name in ("train.csv", "valid.csv", "test.csv"):
        (tmp_path / name).write_text("ltable_id,rtable_id,label\n0,0,1\n")
    (tmp_path / "valid.csv").write_text("ltable_id,rtable_id,label\n1,1,1\n")
    (tmp_path / "test.csv").write_text("ltable_id,rtable_id,label\n1,0,0\n")
    dataset = load_tables(tmp_path, TableMapping(row_type="paper", name_column="title"))
    assert dataset.left.names[0] == "Deep Learning" and dataset.right.names[0] == "Deep Learning"


def test_dbp15k_names_are_stripped(tmp_path):
    from core.formats.dbp15k import load_dbp15k

    files = {"ent_ids_1": "0\thttp://fr.dbpedia.org/resource/_Paris_\n1\thttp://fr.dbpedia.org/resource/Lyon\n",
             "ent_ids_2": "10\thttp://dbpedia.org/resource/Paris__France\n11\thttp://dbpedia.org/resource/Lyon\n",
             "rel_ids_1": "0\thttp://fr.dbpedia.org/property/pays\n",
             "rel_ids_2": "1\thttp://dbpedia.org/property/country\n",
             "triples_1": "0\t0\t1\n", "triples_2": "10\t1\t11\n", "ref_ent_ids": "0\t10\n1\t11\n"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    dataset = load_dbp15k(tmp_path)
    assert dataset.left.names.tolist() == ["Paris", "Lyon"] and dataset.right.names[0] == "Paris France"
