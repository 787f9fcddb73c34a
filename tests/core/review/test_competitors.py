"""Competing candidates of the pair on screen, and "this one matches" as one batch of decisions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.data.links import Links
from core.formats.native import load_project
from core.review.competitors import CandidateIndex, competing_candidates, one_to_one_types, this_one_matches

# film f1's candidates m10 (0.9), m11 (0.7), m12 (0.2); m10 is also a candidate of f2 (0.4)
SCORES = pd.DataFrame([
    ("f1", "m10", "film", -0.1, 0.9, 1), ("f1", "m11", "film", -0.3, 0.7, 2), ("f1", "m12", "film", -0.9, 0.2, 3),
    ("f2", "m10", "film", -0.6, 0.4, 2), ("f2", "m11", "film", -0.2, 0.8, 1), ("p1", "q10", "person", -0.1, 0.95, 1),
], columns=["left_id", "right_id", "type", "score", "probability", "rank"])


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from tests.conftest import write_tiny_project

    return load_project(write_tiny_project(tmp_path_factory.mktemp("tiny") / "tiny"))


def test_both_entities_candidates_best_first_with_names_and_labels(dataset):
    found = competing_candidates(CandidateIndex.build(SCORES), dataset, "f1", "m11",
                                 labels={("f1", "m12"): "reject"})
    assert found.type == "film" and found.has_competition
    assert [(c.right_id, c.other_name, c.probability, c.label, c.on_screen) for c in found.of_left] == [
        ("m10", "Matrix", 0.9, None, False), ("m11", "The Matrix Reloaded", 0.7, None, True),
        ("m12", "Speed", 0.2, "reject", False)]
    assert [(c.left_id, c.other_name, c.on_screen) for c in found.of_right] == [
        ("f2", "Matrix Reloaded", False), ("f1", "The Matrix", True)]


def test_without_probabilities_the_score_orders_and_a_pair_outside_the_table_is_still_listed(dataset):
    index = CandidateIndex.build(SCORES.assign(probability=np.nan))
    found = competing_candidates(index, dataset, "f3", "m10")  # opened from search: not a candidate
    assert [c.pair for c in found.of_left] == [("f3", "m10")] and found.of_left[0].on_screen
    assert [c.pair for c in found.of_right] == [("f1", "m10"), ("f2", "m10"), ("f3", "m10")]
    assert found.of_right[0].probability is None and found.type == "film"


def test_the_list_is_cut_but_keeps_the_pair_on_screen(dataset):
    found = competing_candidates(CandidateIndex.build(SCORES), dataset, "f1", "m12", limit=2)
    assert [c.right_id for c in found.of_left] == ["m10", "m12"]


def test_this_one_matches_accepts_it_and_rejects_the_entitys_other_candidates(dataset):
    found = competing_candidates(CandidateIndex.build(SCORES), dataset, "f1", "m10",
                                 labels={("f1", "m12"): "reject"})
    decisions = this_one_matches(found, ("f1", "m11"), side="left", one_to_one=True)
    assert [(d.left_id, d.right_id, d.decision) for d in decisions] == [
        ("f1", "m11", "accept"), ("f1", "m10", "reject")]  # m12 is already rejected; f2's list untouched
    assert decisions[0].score == -0.3
    only_accept = this_one_matches(found, ("f1", "m11"), side="left", one_to_one=False)
    assert [(d.right_id, d.decision) for d in only_accept] == [("m11", "accept")]
    from_right = this_one_matches(found, ("f2", "m10"), side="right", one_to_one=True)
    assert [(d.left_id, d.decision) for d in from_right] == [("f2", "accept"), ("f1", "reject")]
    with pytest.raises(ValueError, match=r"\('f2', 'm11'\) is not a candidate in the left entity's list"):
        this_one_matches(found, ("f2", "m11"), side="left", one_to_one=True)


def test_one_to_one_types_come_from_the_known_matches(dataset):
    assert one_to_one_types(dataset) == {"film", "person"}
    links = dataset.links
    doubled = Links(np.append(links.left, links.left[1]), np.append(links.right, 5), np.append(links.type, links.type[1]),
                    np.append(links.label, 1), np.append(links.split, links.split[1]))
    from dataclasses import replace

    assert one_to_one_types(replace(dataset, links=doubled)) == {"film"}  # p1 now matches two people
