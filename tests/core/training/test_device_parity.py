"""CPU and CUDA give the same numbers up to float rounding: training, scoring and explanations.

The model is plain torch on every device (no DGL kernel; PyPI's dgl is CPU-only), parameters are
initialised on the CPU and moved, and every draw (negatives, neighbour samples) comes from numpy
generators or hashes seeded the same way, so a run differs between devices only by the order of
float sums. Skipped where no GPU is present.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from core.explanations.attention import explain_pair
from core.model.config import ModelConfig
from core.model.setup import build_setup
from core.scoring.model_scorer import ModelScorer
from core.training.loop import TrainConfig, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="no CUDA device here (torch.cuda.is_available() is False): CPU/CUDA parity "
                                       "is checked only where a GPU is present")

CONFIG = ModelConfig(hidden=16, name_dim=8, neighbour_cap=5)


@pytest.fixture(scope="module")
def runs(music):
    pair, candidates = music
    setup = build_setup(pair.dataset, CONFIG)
    trained = {}
    for device in ("cpu", "cuda"):
        trained[device] = train(setup, CONFIG, TrainConfig(epochs=2, max_steps_per_epoch=4, seed=0, device=device),
                                candidates=candidates)
    return setup, candidates, trained


def test_training_gives_the_same_losses_and_weights(runs):
    _, _, trained = runs
    cpu, cuda = trained["cpu"], trained["cuda"]
    np.testing.assert_allclose([e.loss for e in cuda.history], [e.loss for e in cpu.history], rtol=1e-4, atol=1e-5)
    assert cuda.best_epoch == cpu.best_epoch
    for name, value in cpu.model.state_dict().items():
        torch.testing.assert_close(cuda.model.state_dict()[name].cpu(), value, rtol=1e-3, atol=1e-4, msg=name)


def test_the_same_weights_score_and_explain_the_same_on_both_devices(runs):
    """One CPU-trained model, copied to the GPU: scores and attention agree to float rounding."""
    setup, candidates, trained = runs
    cpu_scorer = trained["cpu"].scorer
    gpu_scorer = ModelScorer(copy.deepcopy(cpu_scorer.model).to("cuda"), setup, seed=cpu_scorer.seed)
    left, right = candidates.left[:300], candidates.right[:300]
    np.testing.assert_allclose(gpu_scorer.score_pairs(left, right), cpu_scorer.score_pairs(left, right),
                               rtol=1e-5, atol=1e-5)
    cpu_explanation = explain_pair(cpu_scorer, int(left[0]), int(right[0]))
    gpu_explanation = explain_pair(gpu_scorer, int(left[0]), int(right[0]))
    assert gpu_explanation.distance == pytest.approx(cpu_explanation.distance, abs=1e-5)
    for side in ("left", "right"):
        # by neighbour, not by rank: two near-equal weights may swap places between devices
        got, expected = (sorted((e.entity_id, e.relation, e.alpha, e.beta, e.weight) for e in getattr(x, side))
                         for x in (gpu_explanation, cpu_explanation))
        assert [g[:2] for g in got] == [e[:2] for e in expected]
        for g, e in zip(got, expected):
            assert g[2:] == pytest.approx(e[2:], abs=1e-5)
