"""Early stopping on validation gains that matter, and the learning rate scaled for larger batches."""

from __future__ import annotations

import pytest

from core.model.config import ModelConfig
from core.model.setup import build_setup
from core.training import loop
from core.training.loop import TrainConfig, train

SMALL = ModelConfig(hidden=16, name_dim=8)


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


def _scripted_run(music, monkeypatch, scores, **config):
    """Train with validation PRAUCs ``scores`` (one per epoch) and no real steps."""
    pair, candidates = music
    setup = build_setup(pair.dataset, SMALL)
    script = iter(scores)
    monkeypatch.setattr(loop._Training, "epoch", lambda self, epoch, on_step: ([0.5], 1))
    monkeypatch.setattr(loop.ValidationPairs, "pr_auc", lambda self, scorer: next(script))
    return train(setup, SMALL, TrainConfig(epochs=len(scores), seed=0, **config), candidates=candidates)


def test_gains_below_min_improvement_use_up_patience(music, monkeypatch):
    scores = [0.90, 0.95, 0.9504, 0.9507, 0.9509, 0.96, 0.97]
    plain = _scripted_run(music, monkeypatch, scores, patience=2)
    assert len(plain.history) == 7  # every epoch beat the last, however slightly
    early = _scripted_run(music, monkeypatch, scores, patience=2, min_improvement=0.001)
    assert len(early.history) == 4  # 0.9504 and 0.9507 are within 0.001 of 0.95: two flat epochs
    assert early.best_epoch == 4 and early.best_valid_pr_auc == 0.9507  # the best weights are still kept


def test_without_min_improvement_patience_counts_epochs_without_a_better_score(music, monkeypatch):
    result = _scripted_run(music, monkeypatch, [0.9, 0.8, 0.95, 0.94, 0.93, 0.99], patience=2)
    assert len(result.history) == 5 and result.best_epoch == 3
