"""Conflict clusters: a planted one-to-two conflict and a planted contradiction are found, nothing else."""

from __future__ import annotations

import pandas as pd

from core.review.conflicts import (
    ACCEPTED, CONTRADICTION, ONE_TO_MANY, PREDICTED, cluster_links, conflict_clusters, conflict_counts,
)

SCORES = pd.DataFrame([
    # film: f1 predicted to match m10 and m11 (a one-to-two conflict); f2 = m12 alone (fine)
    ("f1", "m10", "film", -0.1, 0.9), ("f1", "m11", "film", -0.2, 0.8), ("f2", "m12", "film", -0.1, 0.95),
    ("f3", "m13", "film", -0.9, 0.1),  # below the threshold: no link
    # person: p1 = q1 and p2 = q1 predicted, person is many-to-many here, so no one-to-many conflict,
    # but p1-q2 is predicted and p2-q2 was rejected: p2 ~ q1 ~ p1 ~ q2 contradicts the rejection
    ("p1", "q1", "person", -0.1, 0.9), ("p2", "q1", "person", -0.1, 0.7), ("p1", "q2", "person", -0.1, 0.6),
    ("p2", "q2", "person", -0.1, 0.65),
    # genre: g1-h1 predicted, but rejected by an analyst, so not a link; g2 = h2 accepted only
    ("g1", "h1", "genre", -0.1, 0.9), ("g1", "h2", "genre", -0.1, 0.3),
], columns=["left_id", "right_id", "type", "score", "probability"])
LABELS = pd.DataFrame([
    ("p2", "q2", "person", "reject"), ("g1", "h1", "genre", "reject"), ("g2", "h2", "genre", "accept"),
    ("f2", "m12", "film", "skip"),
], columns=["left_id", "right_id", "type", "decision"])


def test_links_are_accepted_labels_and_unrejected_predictions():
    links = cluster_links(SCORES, LABELS)
    assert set(zip(links["left_id"], links["right_id"], links["source"])) == {
        ("g2", "h2", ACCEPTED), ("f1", "m10", PREDICTED), ("f1", "m11", PREDICTED), ("f2", "m12", PREDICTED),
        ("p1", "q1", PREDICTED), ("p2", "q1", PREDICTED), ("p1", "q2", PREDICTED)}


def test_a_planted_one_to_two_conflict_is_found():
    clusters = conflict_clusters(SCORES, LABELS, one_to_one={"film", "genre"})
    film = [c for c in clusters if c.type == "film"]
    assert len(film) == 1
    (c,) = film
    assert (c.left_ids, c.right_ids, c.kinds) == (("f1",), ("m10", "m11"), (ONE_TO_MANY,))
    assert [link.pair for link in c.links] == [("f1", "m10"), ("f1", "m11")]  # most probable first
    assert c.reasons == ("left f1 is linked to 2 entities on the right (m10, m11), but a film matches at most one",)
    assert c.key == "film|f1|m10"


def test_a_rejected_pair_joined_by_links_is_a_contradiction():
    clusters = conflict_clusters(SCORES, LABELS, one_to_one={"film"})
    (person,) = [c for c in clusters if c.type == "person"]
    assert (person.left_ids, person.right_ids, person.kinds, person.rejected) == (
        ("p1", "p2"), ("q1", "q2"), (CONTRADICTION,), (("p2", "q2"),))
    # person made one-to-one: the same cluster carries both kinds
    (both,) = [c for c in conflict_clusters(SCORES, LABELS, one_to_one={"person"}) if c.type == "person"]
    assert both.kinds == (ONE_TO_MANY, CONTRADICTION) and len(both.reasons) == 3  # p1 and q1 have two links each


def test_accepting_one_and_rejecting_the_other_settles_it_and_counts_follow():
    settled = pd.concat([LABELS, pd.DataFrame([("f1", "m10", "film", "accept"), ("f1", "m11", "film", "reject")],
                                              columns=LABELS.columns)], ignore_index=True)
    assert [c.type for c in conflict_clusters(SCORES, settled, one_to_one={"film"})] == ["person"]
    counts = conflict_counts(conflict_clusters(SCORES, LABELS, one_to_one={"film", "person"}))
    assert counts.to_dict("records") == [
        {"type": "film", "clusters": 1, ONE_TO_MANY: 1, CONTRADICTION: 0, "links": 2},
        {"type": "person", "clusters": 1, ONE_TO_MANY: 1, CONTRADICTION: 1, "links": 3}]
    assert conflict_counts(()).empty


def test_without_probabilities_the_score_is_thresholded():
    scores = SCORES.assign(probability=float("nan"))  # -0.15 keeps the -0.1 pairs, drops f1-m11 (-0.2)
    clusters = conflict_clusters(scores, LABELS.iloc[:0], one_to_one={"film", "genre"}, threshold=-0.15)
    assert [(c.type, c.left_ids, c.right_ids) for c in clusters] == [("genre", ("g1",), ("h1", "h2"))]
    assert [link.probability for link in clusters[0].links] == [-0.1, -0.1]
