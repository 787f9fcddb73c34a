"""The records of one training step and of validation, on hand-made arrays."""

from __future__ import annotations

import numpy as np
import torch

from core.training.loop import StepPairs, ValidationPairs


def two_positives_one_labelled() -> StepPairs:
    # positives (0, 10) and (1, 11); k = 1: one corrupted right, then one corrupted left each
    return StepPairs(left=np.array([0, 1]), right=np.array([10, 11]),
                     negative_left=np.array([[0, 5], [1, 1]]), negative_right=np.array([[12, 10], [11, 11]]),
                     labelled_left=np.array([7]), labelled_right=np.array([17]))


def test_the_model_sees_positives_then_corruptions_row_by_row_then_labelled_pairs():
    pairs = two_positives_one_labelled()
    assert pairs.all_left.tolist() == [0, 1, 0, 5, 1, 1, 7]
    assert pairs.all_right.tolist() == [10, 11, 12, 10, 11, 11, 17]


def test_split_cuts_the_distances_back_into_their_roles():
    split = two_positives_one_labelled().split(torch.arange(7, dtype=torch.float32))
    assert split.positive.tolist() == [0, 1]
    assert split.negative.tolist() == [[2, 3], [4, 5]]  # row b: positive b's corruptions
    assert split.labelled.tolist() == [6]


def test_a_corruption_that_drew_the_positive_itself_is_marked():
    # positive 1 drew its own partner on both sides: those are not negatives
    assert two_positives_one_labelled().corrupted_is_positive().tolist() == [[False, False], [True, True]]


def test_no_labelled_pairs_keep_the_entity_dtype():
    left = np.array([3], dtype=np.int32)
    pairs = StepPairs(left, left + 1, left[:, None], left[:, None] + 2, left[:0], left[:0])
    assert pairs.all_left.dtype == np.int32 and len(pairs.split(torch.zeros(2)).labelled) == 0


class _FixedScorer:
    def __init__(self, scores):
        self.scores = np.asarray(scores, dtype=float)

    def score_pairs(self, left, right):
        return self.scores


def test_validation_pr_auc_counts_the_matches_blocking_lost():
    ranked_perfectly = _FixedScorer([0.9, 0.1])
    found_all = ValidationPairs(np.array([0, 1]), np.array([0, 1]), np.array([1, 0]), missed=0)
    lost_one = ValidationPairs(np.array([0, 1]), np.array([0, 1]), np.array([1, 0]), missed=1)
    assert found_all.pr_auc(ranked_perfectly) == 1.0
    assert lost_one.pr_auc(ranked_perfectly) < 1.0  # recall stops at 1/2
    assert found_all.has_both_labels and not ValidationPairs(np.array([0]), np.array([0]), np.array([1]), 0).has_both_labels
    assert ValidationPairs(np.array([0]), np.array([0]), np.array([0]), 0).pr_auc(ranked_perfectly) is None
