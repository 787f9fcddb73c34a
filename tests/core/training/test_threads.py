"""Training steps run on few threads for small batches; the caller's thread count is given back."""

from __future__ import annotations

import pytest
import torch

from core.model.config import ModelConfig
from core.model.setup import build_setup
from core.training import loop
from core.training.loop import TrainConfig, train
from core.training.threads import threads_for_batch, torch_threads

SMALL = ModelConfig(hidden=16, name_dim=8)


def test_one_thread_per_128_positives_within_what_torch_has():
    assert threads_for_batch(32, 2) == 1
    assert threads_for_batch(128, 2) == 1
    assert threads_for_batch(256, 2) == 2
    assert threads_for_batch(2048, 2) == 2
    assert threads_for_batch(2048, 16) == 16
    assert threads_for_batch(1024, 16) == 8
    with pytest.raises(ValueError, match="batch_size"):
        threads_for_batch(0, 2)


def test_torch_threads_restores_the_count_even_after_an_error():
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="boom"):
        with torch_threads(1):
            assert torch.get_num_threads() == 1
            raise RuntimeError("boom")
    assert torch.get_num_threads() == before


def test_the_steps_of_a_small_batch_run_on_one_thread_and_the_count_comes_back(music, monkeypatch):
    pair, candidates = music
    setup = build_setup(pair.dataset, SMALL)
    seen: list[int] = []
    real_step = loop._Training.step

    def counting_step(self, pairs):
        seen.append(torch.get_num_threads())
        return real_step(self, pairs)

    monkeypatch.setattr(loop._Training, "step", counting_step)
    before = torch.get_num_threads()
    with torch_threads(2):
        train(setup, SMALL, TrainConfig(epochs=1, batch_size=32, max_steps_per_epoch=2, device="cpu"),
              candidates=candidates)
        assert torch.get_num_threads() == 2  # validation and the caller keep theirs
        seen_small = list(seen)
        seen.clear()
        train(setup, SMALL, TrainConfig(epochs=1, batch_size=256, max_steps_per_epoch=1, device="cpu"),
              candidates=candidates)
    assert seen_small == [1, 1]
    assert seen == [2]
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="step_threads"):
        TrainConfig(step_threads=0)
