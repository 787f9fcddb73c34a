"""Collective one-to-one decisions against brute force, and one-to-one detection."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.matching.assignment import (
    Objective,
    assign_one_to_one,
    detect_one_to_one,
    greedy_mutual_best,
    pair_weights,
)


@st.composite
def candidate_graphs(draw, max_side: int = 4):
    """Unique (left, right) pairs on small sides, with probabilities on a coarse grid (ties happen)."""
    n_left = draw(st.integers(1, max_side))
    n_right = draw(st.integers(1, max_side))
    every = list(itertools.product(range(n_left), range(n_right)))
    chosen = draw(st.lists(st.sampled_from(every), min_size=1, max_size=len(every), unique=True))
    probability = draw(st.lists(st.sampled_from([0.05, 0.3, 0.5, 0.55, 0.7, 0.9, 0.99]),
                                min_size=len(chosen), max_size=len(chosen)))
    left, right = (np.array(side) for side in zip(*chosen))
    return left, right, np.array(probability)


def best_matching_weight(left, right, weights) -> float:
    """Brute force: the largest total weight over every set of pairs sharing no entity."""
    best = 0.0
    for size in range(1, len(left) + 1):
        for subset in itertools.combinations(range(len(left)), size):
            subset = list(subset)
            if len(set(left[subset])) == size and len(set(right[subset])) == size:
                best = max(best, float(weights[subset].sum()))
    return best


def greedy_by_loop(left, right, weights) -> set[int]:
    """The textbook greedy: sorted by weight (then position), take a pair if both entities are free."""
    used_left, used_right, kept = set(), set(), set()
    for i in sorted(range(len(weights)), key=lambda i: (-weights[i], i)):
        if left[i] not in used_left and right[i] not in used_right:
            kept.add(i)
            used_left.add(left[i])
            used_right.add(right[i])
    return kept


def assert_is_matching(left, right, kept):
    assert len(set(left[kept])) == kept.sum() and len(set(right[kept])) == kept.sum()


@settings(max_examples=80, deadline=None)
@given(candidate_graphs(), st.sampled_from(["log_odds", "probability"]), st.sampled_from([0.0, 0.5, 0.6]))
def test_exact_assignment_reaches_the_brute_force_optimum(graph, objective, floor):
    left, right, probability = graph
    kept, report = assign_one_to_one(left, right, probability, objective=objective, min_probability=floor)
    weights = pair_weights(probability, objective)
    eligible = (probability > floor) & (weights > 0)
    assert_is_matching(left, right, kept)
    assert not (kept & ~eligible).any()
    optimum = best_matching_weight(left[eligible], right[eligible], weights[eligible])
    assert weights[kept].sum() == pytest.approx(optimum, abs=1e-9)
    assert report.n_greedy_components == 0 and report.n_assigned == kept.sum()


@settings(max_examples=80, deadline=None)
@given(candidate_graphs(max_side=5))
def test_large_components_fall_back_to_the_greedy_rule(graph):
    left, right, probability = graph
    kept, report = assign_one_to_one(left, right, probability, objective="probability",
                                     min_probability=0.0, max_component_size=1)
    weights = pair_weights(probability, "probability")
    assert_is_matching(left, right, kept)
    assert set(np.flatnonzero(kept)) == greedy_by_loop(left, right, weights)
    assert report.n_exact_components == 0 and report.n_greedy_components == report.n_components


@settings(max_examples=100, deadline=None)
@given(candidate_graphs(max_side=6))
def test_vectorised_greedy_equals_the_one_by_one_greedy(graph):
    left, right, probability = graph
    assert set(greedy_mutual_best(left, right, probability).tolist()) == greedy_by_loop(left, right, probability)


def test_joint_decision_beats_independent_decisions_on_a_hand_case():
    # Original film 0 and its remake 1; right film 0 is the original. Alone, 0-0 (0.8) and 1-0
    # (0.7) would both pass 0.5. Jointly: 0-1 (0.9) + 1-0 (0.7) = 1.6 > 0.8 alone.
    kept, report = assign_one_to_one(np.array([0, 0, 1]), np.array([0, 1, 0]), np.array([0.8, 0.9, 0.7]),
                                     objective="probability")
    assert kept.tolist() == [False, True, True]
    assert (report.n_components, report.n_exact_components, report.largest_component) == (1, 1, 4)


def test_log_odds_objective_never_keeps_a_pair_at_or_below_one_half():
    kept, report = assign_one_to_one(np.array([0, 1]), np.array([0, 1]), np.array([0.5, 0.4]), min_probability=0.0)
    assert not kept.any() and report.n_eligible == 0


def test_components_are_solved_independently():
    left = np.array([0, 0, 1, 5, 6])
    right = np.array([0, 1, 1, 7, 7])
    kept, report = assign_one_to_one(left, right, np.array([0.9, 0.6, 0.8, 0.7, 0.95]))
    assert kept.tolist() == [True, False, True, False, True]
    assert report.n_components == 2


def test_inputs_are_checked():
    with pytest.raises(ValueError, match="repeated"):
        assign_one_to_one(np.array([0, 0]), np.array([1, 1]), np.array([0.9, 0.8]))
    with pytest.raises(ValueError, match="NaN"):
        assign_one_to_one(np.array([0]), np.array([1]), np.array([np.nan]))
    kept, report = assign_one_to_one(np.array([], dtype=int), np.array([], dtype=int), np.array([]))
    assert kept.tolist() == [] and report.n_components == 0
    assert Objective("log_odds") is Objective.LOG_ODDS


def test_detect_one_to_one_within_tolerance():
    clean = detect_one_to_one(np.arange(100), np.arange(100)[::-1])
    assert clean.is_one_to_one and clean.share_left_repeated == 0.0
    # One left entity in two links: 2 of 100 links repeat it -> exactly at a 2% tolerance.
    left = np.r_[np.arange(99), 0]
    assert detect_one_to_one(left, np.arange(100)).is_one_to_one
    assert not detect_one_to_one(left, np.arange(100), tolerance=0.01).is_one_to_one
    many = detect_one_to_one(np.array([0, 0, 0, 1]), np.array([0, 1, 2, 3]))
    assert not many.is_one_to_one and many.share_left_repeated == 0.75
    assert not detect_one_to_one(np.array([]), np.array([])).is_one_to_one
