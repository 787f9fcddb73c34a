"""A pair an analyst labelled is training data, never evaluation data (issue 13 item 11).

Rejections became training negatives but stayed among the VALID/TEST candidates that retraining
and the Evaluation page score (4 validation and 3 test pairs out of 21 rejections), so the model
was judged on pairs it had been trained on.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.blocking.name_blocking import block
from core.data.links import Split
from core.evaluation.harness import evaluate, evaluation_pairs
from core.formats.native import load_project
from core.review.labels_as_links import AnalystLabel, with_analyst_labels
from tests.conftest import write_tiny_project


@pytest.fixture
def tiny(tmp_path):
    dataset = load_project(write_tiny_project(tmp_path / "tiny"))
    candidates, _ = block(dataset)
    return dataset, candidates


def _ids(dataset, left, right) -> set[tuple[str, str]]:
    return set(zip(dataset.left.entity_ids[left].tolist(), dataset.right.entity_ids[right].tolist()))


def _wrong_candidates(dataset, candidates, split: Split) -> list[tuple[str, str]]:
    """Candidate pairs of the split's query entities that are not their true match."""
    pairs = evaluation_pairs(dataset, candidates, split)
    wrong = pairs.label == 0
    return sorted(_ids(dataset, pairs.left[wrong], pairs.right[wrong]))


class NameOrder:
    """A scorer that ranks pairs by a fixed table (anything else scores 0)."""

    name = "fixed"

    def __init__(self, dataset, table: dict[tuple[str, str], float]):
        self.dataset, self.table = dataset, table

    def score_pairs(self, left, right, types):
        ids = zip(self.dataset.left.entity_ids[left].tolist(), self.dataset.right.entity_ids[right].tolist())
        return np.array([self.table.get(pair, 0.0) for pair in ids])


@pytest.mark.parametrize("split", [Split.VALID, Split.TEST])
def test_rejected_pairs_leave_the_evaluation_pairs(tiny, split):
    dataset, candidates = tiny
    wrong = _wrong_candidates(dataset, candidates, split)
    assert wrong, "the tiny project should propose some wrong pairs for the split's entities"
    rejected = wrong[0]
    merged, merge = with_analyst_labels(dataset, [AnalystLabel(*rejected, False)])
    assert merge.non_matches == 1
    judged = evaluation_pairs(merged, candidates, split)
    assert rejected not in _ids(merged, judged.left, judged.right)
    assert set(_wrong_candidates(merged, candidates, split)) == set(wrong) - {rejected}
    # the true matches are all still judged
    truth = merged.links.in_split(split).positives()
    assert _ids(merged, truth.left, truth.right) <= _ids(merged, judged.left, judged.right)


def test_accepted_pairs_leave_the_evaluation_pairs(tiny):
    dataset, candidates = tiny
    other = _wrong_candidates(dataset, candidates, Split.TEST)[0]  # the analyst sees a match the links do not
    merged, merge = with_analyst_labels(dataset, [AnalystLabel(*other, True)])
    assert merge.matches == 1
    judged = evaluation_pairs(merged, candidates, Split.TEST)
    assert other[0] in {left for left, _ in _ids(merged, judged.left, judged.right)}  # still a query entity
    assert other not in _ids(merged, judged.left, judged.right)


def test_a_rejected_pair_no_longer_counts_in_the_ranking(tiny):
    """Hit@1 ranks each true match among its candidates: a rejected pair is not one of them."""
    dataset, candidates = tiny
    rejected = _wrong_candidates(dataset, candidates, Split.VALID)[0]
    valid = dataset.links.in_split(Split.VALID).positives()
    truth = {(str(dataset.left.entity_ids[a]), str(dataset.right.entity_ids[b])) for a, b in zip(valid.left, valid.right)}
    scorer = NameOrder(dataset, {**{pair: 0.5 for pair in truth}, rejected: 0.9})  # the rejected pair ranks first
    before = evaluate(dataset, candidates, scorer, split=Split.VALID, threshold=0.7).overall
    merged, _ = with_analyst_labels(dataset, [AnalystLabel(*rejected, False)])
    after = evaluate(merged, candidates, scorer, split=Split.VALID, threshold=0.7).overall
    assert before.hit_at_1 < 1.0 and before.precision < 1.0
    assert after.hit_at_1 == 1.0 and after.n_pairs == before.n_pairs - 1
