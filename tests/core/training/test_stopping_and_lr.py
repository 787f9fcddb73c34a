"""Early stopping on validation gains that matter, and the learning rate scaled for larger batches."""

from __future__ import annotations

import numpy as np
import pytest

from core.model.config import ModelConfig
from core.model.setup import build_setup
from core.training import loop
from core.training.loop import TrainConfig, train

SMALL = ModelConfig(hidden=16, name_dim=8)


@pytest.fixture(scope="module")
def setup(music):
    return build_setup(music[0].dataset, SMALL)


def test_the_learning_rate_follows_the_batch_only_when_asked():
    assert TrainConfig(batch_size=256, learning_rate=0.003).step_learning_rate == 0.003
    assert TrainConfig(batch_size=256, learning_rate=0.003, lr_scaling="sqrt").step_learning_rate == pytest.approx(
        0.003 * 8 ** 0.5)
    assert TrainConfig(batch_size=128, learning_rate=0.003, lr_scaling="linear").step_learning_rate == pytest.approx(0.012)
    assert TrainConfig(batch_size=32, lr_scaling="sqrt").step_learning_rate == TrainConfig().learning_rate
    with pytest.raises(ValueError, match="lr_scaling"):
        TrainConfig(lr_scaling="cubic")
    with pytest.raises(ValueError, match="min_improvement"):
        TrainConfig(min_improvement=-0.1)


def _scripted_run(music, setup, monkeypatch, scores, **config):
    """Train with validation PRAUCs ``scores`` (one per epoch) and no real steps."""
    _, candidates = music
    script = iter(scores)
    monkeypatch.setattr(loop._Training, "epoch", lambda self, epoch, on_step: ([0.5], 1))
    monkeypatch.setattr(loop.ValidationPairs, "pr_auc", lambda self, scorer: next(script))
    return train(setup, SMALL, TrainConfig(epochs=len(scores), seed=0, **config), candidates=candidates)


def test_gains_below_min_improvement_use_up_patience(music, setup, monkeypatch):
    scores = [0.90, 0.95, 0.9504, 0.9507, 0.9509, 0.96, 0.97]
    plain = _scripted_run(music, setup, monkeypatch, scores, patience=2)
    assert len(plain.history) == 7  # every epoch beat the last, however slightly
    early = _scripted_run(music, setup, monkeypatch, scores, patience=2, min_improvement=0.001)
    assert len(early.history) == 4  # 0.9504 and 0.9507 are within 0.001 of 0.95: two flat epochs
    assert early.best_epoch == 4 and early.best_valid_pr_auc == 0.9507  # the best weights are still kept


def test_without_min_improvement_patience_counts_epochs_without_a_better_score(music, setup, monkeypatch):
    result = _scripted_run(music, setup, monkeypatch, [0.9, 0.8, 0.95, 0.94, 0.93, 0.99], patience=2)
    assert len(result.history) == 5 and result.best_epoch == 3


def test_validation_on_a_sample_keeps_whole_queries_and_is_seeded(music, setup):
    _, candidates = music
    full = loop.ValidationPairs.of(setup, candidates)
    assert len(full.left) > 200
    sample = loop.ValidationPairs.of(setup, candidates, max_pairs=len(full.left) // 4, seed=3)
    assert len(sample.left) < len(full.left) // 2
    kept = np.isin(full.left, np.unique(sample.left))
    assert kept.sum() == len(sample.left)  # every pair of a kept query, nothing else
    assert sample.labels.sum() > 0
    again = loop.ValidationPairs.of(setup, candidates, max_pairs=len(full.left) // 4, seed=3)
    assert np.array_equal(again.left, sample.left) and np.array_equal(again.right, sample.right)
    assert loop.ValidationPairs.of(setup, candidates, max_pairs=10**9).left.shape == full.left.shape


def test_the_kept_last_epoch_is_calibrated_on_its_validation_scores_without_scoring_again(music, setup, monkeypatch):
    from core.scoring.model_scorer import ModelScorer

    _, candidates = music
    calls = []
    real = ModelScorer.score_pairs
    monkeypatch.setattr(ModelScorer, "score_pairs", lambda self, left, right, types=None:
                        calls.append(len(left)) or real(self, left, right, types))
    result = train(setup, SMALL, TrainConfig(epochs=1, seed=0, max_steps_per_epoch=2), candidates=candidates)
    assert result.best_epoch == 1 and result.scorer.calibration is not None
    assert len(calls) == 1  # the validation; calibration reused its scores
    reference = ModelScorer(result.model, setup, seed=0)
    valid = loop.ValidationPairs.of(setup, candidates)
    assert reference.calibrate(valid.left, valid.right, valid.labels) == pytest.approx(result.scorer.calibration)
