"""Training steps of small batches run on one torch thread; validation keeps the process's threads."""

from __future__ import annotations

import pytest
import torch

from core.model.config import ModelConfig
from core.model.device import torch_threads
from core.model.setup import build_setup
from core.training import loop
from core.training.loop import ONE_THREAD_BELOW_PAIRS, TrainConfig, step_thread_count, train

SMALL = ModelConfig(hidden=16, name_dim=8)
CPU = torch.device("cpu")


def test_the_rule_follows_the_pairs_a_step_scores():
    assert step_thread_count(TrainConfig(), CPU) == 1  # the paper's batch: 32 x 21 = 672 pairs
    assert step_thread_count(TrainConfig(batch_size=128), CPU) == 1  # 2,688
    assert 256 * 21 >= ONE_THREAD_BELOW_PAIRS and step_thread_count(TrainConfig(batch_size=256), CPU) is None
    assert step_thread_count(TrainConfig(batch_size=32, negatives_per_side=100), CPU) is None  # 6,432
    assert step_thread_count(TrainConfig(step_threads=3), CPU) == 3  # --threads wins
    assert step_thread_count(TrainConfig(), torch.device("meta")) is None  # not the CPU: torch's own
    with pytest.raises(ValueError, match="step_threads"):
        TrainConfig(step_threads=0)


@pytest.mark.parametrize("step_threads, expected", [(None, 1), (2, 2)])
def test_steps_run_on_the_chosen_threads_and_the_rest_on_the_process_s(music, monkeypatch, step_threads, expected):
    pair, candidates = music
    setup = build_setup(pair.dataset, SMALL)
    during_steps, during_validation = set(), set()
    real_pr_auc = loop.ValidationPairs.pr_auc

    def validation_spy(self, scorer):
        during_validation.add(torch.get_num_threads())
        return real_pr_auc(self, scorer)

    monkeypatch.setattr(loop.ValidationPairs, "pr_auc", validation_spy)
    config = TrainConfig(epochs=2, seed=0, max_steps_per_epoch=3, step_threads=step_threads)
    with torch_threads(2):
        train(setup, SMALL, config, candidates=candidates,
              on_step=lambda stats: during_steps.add(torch.get_num_threads()))
        after = torch.get_num_threads()
    assert during_steps == {expected} and during_validation == {2} and after == 2
