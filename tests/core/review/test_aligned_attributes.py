"""Attributes side by side, aligned by the schema: runtime beside runtime_min, missing shown as missing."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.data.dataset import AlignmentDataset
from core.data.kg import KnowledgeGraph
from core.data.links import Links
from core.data.schema import Correspondence, SchemaMapping
from core.review.entity_card import aligned_attributes, compare_values, entity_card


def kg(prefix: str, attributes: dict) -> KnowledgeGraph:
    n = 2
    none = np.zeros(0, dtype=np.int64)
    return KnowledgeGraph(np.array([f"{prefix}{i}" for i in range(n)], dtype=object), np.zeros(n, dtype=np.int32),
                          ("film",), np.array(["Green Knife 4", "Other"], dtype=object), pd.DataFrame(attributes),
                          none, none.astype(np.int32), none, ())


LEFT = kg("f", {"year": [1999.0, 2001.0], "runtime": [120.0, np.nan], "release_date": pd.to_datetime(["1999-03-31", None]),
                "born": [np.nan, np.nan], "studio": ["Warner  Bros", ""]})
RIGHT = kg("m", {"year": [1999.0, np.nan], "runtime_min": [116.0, 90.0],
                 "initial_release": pd.to_datetime(["1999-03-31", None]), "date_of_birth": [pd.NaT, pd.NaT],
                 "label": ["warner bros", ""]})
SCHEMA = SchemaMapping((Correspondence("film", "film", "film"),), (), (
    Correspondence("year", "year", "year"), Correspondence("runtime", "runtime", "runtime_min"),
    Correspondence("release_date", "release_date", "initial_release"), Correspondence("born", "born", "date_of_birth")))
DATASET = AlignmentDataset(LEFT, RIGHT, SCHEMA, Links.empty())


def test_one_row_per_aligned_attribute_then_the_unmapped_ones():
    rows = aligned_attributes(DATASET, 0, 0)
    assert [(r.name, r.left_attribute, r.right_attribute, r.left_value, r.right_value, r.same, r.difference)
            for r in rows] == [
        ("year", "year", "year", "1999", "1999", True, None),
        ("runtime", "runtime", "runtime_min", "120", "116", False, "differs by 4"),
        ("release_date", "release_date", "initial_release", "1999-03-31", "1999-03-31", True, None),
        # born/date_of_birth: missing on both sides, so left out (it says nothing about this pair)
        ("studio", "studio", None, "Warner  Bros", None, None, None),
        ("label", None, "label", None, "warner bros", None, None),
    ]


def test_missing_values_are_shown_as_missing_and_not_compared():
    rows = {r.name: r for r in aligned_attributes(DATASET, 1, 1)}
    assert (rows["year"].left_value, rows["year"].right_value, rows["year"].same, rows["year"].missing_on) == (
        "2001", None, None, "right")
    assert rows["runtime"].missing_on == "left" and rows["runtime"].right_value == "90"
    assert "release_date" not in rows and "studio" not in rows  # empty on both sides / blank text


def test_value_comparisons():
    assert compare_values("t", "a", "b", "Warner  Bros", "warner bros").same is True
    assert compare_values("d", "a", "b", pd.Timestamp("2001-01-01"), pd.Timestamp("2001-01-02")).difference == "1 day apart"
    assert compare_values("n", "a", "b", np.float64(1.5), np.int64(2)).difference == "differs by 0.5"
    assert compare_values("n", "a", "b", np.float64(3.0), "3").same is True  # mixed kinds compare as text


def test_the_entity_card_still_shows_present_values_only():
    card = entity_card(LEFT, 0)
    assert card.attributes == (("year", "1999"), ("runtime", "120"), ("release_date", "1999-03-31"),
                               ("studio", "Warner  Bros"))
