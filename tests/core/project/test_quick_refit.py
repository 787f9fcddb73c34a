"""The quick refit runs on the version's cached evidence (core.matching.refit) and keeps its anchors.

The demo project of ``tests/conftest.py`` (40 films, one epoch): its active version has a matcher.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.matching.refit import PairEvidence, load_evidence, refit_on_evidence
from core.matching.matcher import load_matcher
from core.project import lifecycle, model_versions as mv
from core.project.retrain import refit_matcher
from core.project.score_table import read_scores, scores_path
from core.data.links import Split
from core.formats.native import load_candidates, load_project
from core.project.checkpoint import load_scorer
from core.review.labels_as_links import AnalystLabel


def _open(project):
    dataset = load_project(project)
    version = mv.active_version(project)
    model, _ = load_scorer(mv.model_path(project, version), dataset)
    return dataset, load_candidates(dataset, project), version, model


class Counting:
    """A model proxy that counts the pairs whose GNN distance is computed."""

    def __init__(self, model):
        self.model, self.asked = model, 0

    def distances(self, left, right):
        self.asked += len(left)
        return self.model.distances(left, right)


def _labels(dataset, candidates, n_accept, n_reject) -> list[AnalystLabel]:
    """Labels on VALID entities: their true matches accepted, other candidates rejected."""
    from core.evaluation.harness import evaluation_pairs

    pairs = evaluation_pairs(dataset, candidates, Split.VALID)
    ids = [(str(dataset.left.entity_ids[a]), str(dataset.right.entity_ids[b]), bool(y))
           for a, b, y in zip(pairs.left, pairs.right, pairs.label)]
    return [AnalystLabel(*x) for x in ids if x[2]][:n_accept] + [AnalystLabel(*x) for x in ids if not x[2]][:n_reject]


def _refit(project, dataset, candidates, model, version, labels):
    previous = lifecycle.version_matcher_scorer(project, version, dataset, candidates, model)
    counting = Counting(model)
    result = refit_matcher(project, dataset, candidates, labels, version=version, model=counting, previous=previous,
                           previous_scores=read_scores(scores_path(project, version)), always_activate=True)
    return result, counting


def test_a_refit_caches_the_evidence_and_a_refit_of_the_revision_reuses_it_with_the_same_anchors(demo_copy):
    dataset, candidates, version, model = _open(demo_copy)
    labels = _labels(dataset, candidates, 3, 3)
    first, _ = _refit(demo_copy, dataset, candidates, model, version, labels[:4])
    cached = load_evidence(mv.evidence_path(demo_copy, version))
    assert first.quick and cached is not None and cached.covers(candidates)
    revision = load_matcher(mv.matcher_dir(demo_copy, first.version))
    base = load_matcher(mv.matcher_dir(demo_copy, version))
    assert len(revision.combiners) == 1 and revision.config.rounds == 0  # one combiner, no rounds
    assert revision.combiners[0].hyper_parameters == base.combiners[-1].hyper_parameters  # no new search
    assert all(np.array_equal(a, b) for a, b in zip(revision.fixed_anchors, cached.anchors))  # the version's anchors

    # refitting the revision with two more labels: its evidence is already there, nothing is compared again
    second, counting = _refit(demo_copy, dataset, candidates, model, first.version, labels)
    assert second.quick and second.version == f"{version}.m2" and counting.asked == 0
    assert mv.version_info(demo_copy, second.version)["quick_refit"] is True
    again = lifecycle.version_matcher_scorer(demo_copy, second.version, dataset, candidates, model)
    stored = read_scores(scores_path(demo_copy, second.version))
    left, right = dataset.left.indices_of(stored["left_id"].to_numpy()), dataset.right.indices_of(stored["right_id"].to_numpy())
    fresh = again.match_scores(left, right)  # scored from scratch: the cache holds what scoring computes
    assert np.allclose(fresh.probability, stored["probability"], atol=1e-6)
    assert (fresh.decided == stored["decided"].to_numpy().astype(bool)).all()
    assert second.cpu_seconds > 0 and second.valid_after.n_pairs == second.valid_before.n_pairs


def test_a_cache_of_other_candidates_is_rebuilt_not_trusted(demo_copy):
    dataset, candidates, version, model = _open(demo_copy)
    path = mv.version_dir(demo_copy, version) / "evidence.npz"
    other = candidates.select(np.arange(len(candidates)) % 2 == 0)  # as if the project was blocked again
    previous = lifecycle.version_matcher_scorer(demo_copy, version, dataset, other, model)
    from core.matching.refit import candidate_evidence

    candidate_evidence(previous.matcher, previous.dataset, other, gnn=previous.gnn,
                       extra_matches=previous.extra_matches)[1].save(path)
    assert not load_evidence(path).covers(candidates)
    result, _ = _refit(demo_copy, dataset, candidates, model, version, _labels(dataset, candidates, 2, 2))
    assert result.quick and load_evidence(path).covers(candidates)
    path.write_bytes(b"not an npz")  # a damaged cache is only a cache
    assert load_evidence(path) is None


def test_fit_rows_outside_the_candidates_are_computed_apart(demo_copy):
    dataset, candidates, version, model = _open(demo_copy)
    scorer = lifecycle.version_matcher_scorer(demo_copy, version, dataset, candidates, model)
    from core.matching.refit import candidate_evidence

    _, evidence = candidate_evidence(scorer.matcher, scorer.dataset, candidates, gnn=scorer.gnn,
                                     extra_matches=scorer.extra_matches)
    keys = set(zip(candidates.left.tolist(), candidates.right.tolist()))
    outside = next((a, b) for a in range(dataset.left.n_entities) for b in range(dataset.right.n_entities)
                   if (a, b) not in keys and dataset.left.entity_types[a] == dataset.left.entity_types[candidates.left[0]]
                   and dataset.right.entity_types[b] == dataset.right.entity_types[candidates.right[0]])
    labels = (np.array([outside[0]]), np.array([outside[1]]), np.array([False]))
    refit = refit_on_evidence(scorer.matcher, evidence, scorer.dataset, candidates, labels=labels, gnn=scorer.gnn)
    assert refit.computed_rows >= 1 and len(refit.scores.probability) == len(candidates)
    with pytest.raises(ValueError, match="other candidates"):
        refit_on_evidence(scorer.matcher, PairEvidence(evidence.left[:-1], evidence.right[:-1], evidence.types[:-1],
                                                       evidence.block.select_rows(np.arange(len(candidates) - 1)),
                                                       evidence.anchors), scorer.dataset, candidates)
