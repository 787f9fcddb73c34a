"""The quick refit's thinning of certain non-matches (core.matching.refit.thin_easy_negatives) and its cache."""

from __future__ import annotations

import numpy as np

from core.matching.feature_block import FeatureBlock
from core.matching.refit import PairEvidence, load_evidence, thin_easy_negatives


def test_every_match_label_unsure_and_unknown_row_stays_and_about_one_easy_row_in_n():
    rng = np.random.default_rng(3)
    n = 40_000
    is_match = (rng.random(n) < 0.05).astype(int)
    prior = np.where(is_match == 1, 0.9, rng.choice([1e-6, 1e-4, 0.5], size=n))
    prior[rng.random(n) < 0.01] = np.nan  # pairs the version never scored (outside its candidates)
    protected = rng.random(n) < 0.002
    kept = thin_easy_negatives(is_match, prior, protected, seed=0, below=1e-3, keep_one_in=8)
    mask = np.zeros(n, dtype=bool)
    mask[kept] = True
    easy = (is_match == 0) & ~protected & (prior < 1e-3)
    assert mask[~easy].all()  # matches, labels, unsure (0.5) and unknown (NaN) rows: all kept
    assert abs(mask[easy].mean() - 1 / 8) < 0.01  # about one easy non-match in eight
    assert np.all(np.diff(kept) > 0)
    assert np.array_equal(kept, thin_easy_negatives(is_match, prior, protected, seed=0, below=1e-3, keep_one_in=8))
    assert not np.array_equal(kept, thin_easy_negatives(is_match, prior, protected, seed=1, below=1e-3, keep_one_in=8))
    assert len(thin_easy_negatives(is_match, prior, protected, keep_one_in=1)) == n  # 1: no thinning


def test_hand_case():
    is_match = np.array([1, 0, 0, 0, 0])
    prior = np.array([1e-9, 1e-9, 0.2, np.nan, 1e-9])
    protected = np.array([False, False, False, False, True])
    kept = thin_easy_negatives(is_match, prior, protected, keep_one_in=10**9)  # keeps no easy row
    assert kept.tolist() == [0, 2, 3, 4]  # the match (even at 1e-9), unsure, unknown, labelled


def test_the_evidence_cache_keeps_the_versions_probabilities_and_refuses_the_old_format(tmp_path):
    block = FeatureBlock(("name.cos",), ("name",), np.array([[0.1], [0.9]]))
    anchors = (np.array([0]), np.array([1]))
    evidence = PairEvidence(np.array([0, 1]), np.array([1, 0]), np.array([0, 0]), block, anchors,
                            np.array([0.01, 0.99]), (np.array([5, 6]), np.array([7, 8])))
    back = load_evidence(evidence.save(tmp_path / "evidence.npz"))
    assert np.array_equal(back.probability, [0.01, 0.99])
    assert [a.tolist() for a in back.propagation_anchors] == [[5, 6], [7, 8]]  # what the propagation ran from
    assert np.array_equal(back.block.values, block.values)
    unknown = load_evidence(PairEvidence(evidence.left, evidence.right, evidence.types, block, anchors).save(
        tmp_path / "unknown.npz"))
    assert unknown.probability is None and unknown.propagation_anchors is None  # nothing to thin by
    assert back.contributions is None and unknown.contributions is None
    contributions = np.array([[0.5, -1.0], [2.0, 0.25]])
    with_contributions = load_evidence(PairEvidence(evidence.left, evidence.right, evidence.types, block, anchors,
                                                    contributions=contributions).save(tmp_path / "c.npz"))
    assert np.array_equal(with_contributions.contributions, contributions)  # the scores, without a tree pass
    with open(tmp_path / "old.npz", "wb") as handle:  # a cache written before the probabilities
        np.savez(handle, format=np.array("mualign.matching.evidence/1"), left=evidence.left)
    assert load_evidence(tmp_path / "old.npz") is None  # only a cache: rebuilt, never misread


def test_a_killed_writers_temporary_is_removed_by_the_next_write_a_live_ones_is_not(tmp_path):
    import os
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)  # that process has exited
    stale = tmp_path / f".evidence.npz.tmp-{dead_pid}"
    live = tmp_path / f".evidence.npz.tmp-{os.getppid()}"
    stale.write_bytes(b"half a file")
    live.write_bytes(b"being written")
    block = FeatureBlock(("name.cos",), ("name",), np.array([[0.5]]))
    PairEvidence(np.array([0]), np.array([0]), np.array([0]), block, (np.array([0]), np.array([0]))).save(
        tmp_path / "evidence.npz")
    assert not stale.exists() and live.exists() and (tmp_path / "evidence.npz").exists()
