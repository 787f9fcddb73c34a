"""Iterated anchors: mutual structural best pairs become anchors; no VALID/TEST label is read."""

from __future__ import annotations

import numpy as np
import pytest

from core.blocking.anchor_rounds import iterate_anchors
from core.data.dataset import AlignmentDataset
from core.data.links import Links, Split
from tests.core.blocking.test_structural import FILM, pair  # noqa: F401  (fixture)


def _pseudo(result):
    return sorted(zip(result.left.tolist(), result.right.tolist()))


def test_films_become_pseudo_anchors_and_known_anchors_are_not_repeated(pair):
    seen = []
    result = iterate_anchors(pair, rounds=2, top_k=3, on_round=lambda r, state: seen.append((r, _pseudo(state))))
    # round 0 propagates the 4 actor links; each film's best is its counterpart and vice versa
    assert _pseudo(result) == [(0, 0), (1, 1)]
    assert [(r.round, r.n_anchors, r.n_mutual) for r, _ in seen] == [(0, 4, 2), (1, 6, 2), (2, 6, 2)]
    assert len(result.rounds) == 3


def test_test_labels_are_never_read(pair):
    # the TEST links now say film 0 = film 1 and film 1 = film 0: the pseudo-anchors do not change
    links = pair.links
    swapped = Links(links.left, np.where(links.type == FILM, 1 - links.right, links.right), links.type, links.label,
                    links.split)
    other = AlignmentDataset(pair.left, pair.right, pair.schema, swapped)
    assert _pseudo(iterate_anchors(other, rounds=1, top_k=3)) == _pseudo(iterate_anchors(pair, rounds=1, top_k=3))


def test_a_similarity_floor_keeps_weak_pairs_out(pair):
    # a film pair's combined-profile similarity is the mean of its hop cosines (hop 0: no anchor, 0;
    # hop 1: both actors anchored alike, 1; hop 2: back at the non-anchor film, empty, 0) = 1/3
    assert _pseudo(iterate_anchors(pair, rounds=0, top_k=3, min_similarity=0.34)) == []
    assert _pseudo(iterate_anchors(pair, rounds=0, top_k=3, min_similarity=0.33)) == [(0, 0), (1, 1)]
    with pytest.raises(ValueError, match="rounds must be >= 0"):
        iterate_anchors(pair, rounds=-1)


def test_accepted_labels_count_as_known_anchors(pair):
    result = iterate_anchors(pair, rounds=0, top_k=3, extra_anchors=(np.array([0]), np.array([0])))
    assert _pseudo(result) == [(1, 1)]  # film 0 is known now, not pseudo
    assert result.rounds[0].n_anchors == 5
    assert Split.TEST.code in pair.links.split  # the fixture still has its TEST films
