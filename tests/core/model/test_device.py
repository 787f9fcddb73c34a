"""One torch path on every device, and a clear error when the chosen device cannot be used.

PyPI's dgl is a CPU-only build: a DGL kernel handed a CUDA tensor fails (``Operator SegmentMM
does not support cuda device``), which once crashed every GPU training run. The model therefore
calls no DGL kernel at all; these tests pin that down, and the device choice's errors.
"""

from __future__ import annotations

import ast
import warnings

import numpy as np
import pytest
import torch

import core.model.device as device_module
from core.model.device import DeviceError, device_errors, resolve_device
from tests.conftest import REPO


def test_no_model_module_reaches_dgl():
    """Only core/model/_dgl.py imports dgl; the layers, the encoder and the inputs never do."""
    offenders = []
    for path in sorted((REPO / "core" / "model").rglob("*.py")):
        if path.name == "_dgl.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.relative_to(REPO)} imports {n}" for n in names
                          if n.split(".")[0] == "dgl" or n == "core.model._dgl"]
    assert offenders == []


def test_training_scoring_and_explaining_call_no_dgl_op(monkeypatch, music):
    """Every dgl.ops function raises here: a run that still completes used torch alone."""
    from core.model._dgl import dgl

    def forbidden(*args, **kwargs):
        raise AssertionError("a DGL kernel was called; the model must use torch only (dgl from PyPI is CPU-only)")

    for name in dir(dgl.ops):
        if not name.startswith("_") and callable(getattr(dgl.ops, name)):
            monkeypatch.setattr(dgl.ops, name, forbidden)
    from core.explanations.attention import explain_pair
    from core.model.config import ModelConfig
    from core.model.setup import build_setup
    from core.training.loop import TrainConfig, train

    pair, candidates = music
    config = ModelConfig(hidden=8, name_dim=8, neighbour_cap=3)
    result = train(build_setup(pair.dataset, config), config, TrainConfig(epochs=1, max_steps_per_epoch=2))
    assert np.isfinite(result.scorer.score_pairs(candidates.left[:5], candidates.right[:5])).all()
    assert explain_pair(result.scorer, int(candidates.left[0]), int(candidates.right[0])).left_id


def test_cpu_is_always_there():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def one_broken_gpu(monkeypatch):
    """torch sees one GPU, but computing on it fails (a driver too old, a GPU in a bad state)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)

    def probe(device):
        raise RuntimeError("CUDA error: no kernel image is available for execution on the device")

    monkeypatch.setattr(device_module, "_probe", probe)


def test_cuda_without_a_gpu_names_the_device_and_the_way_out(no_cuda):
    with pytest.raises(DeviceError, match=r"device 'cuda' cannot be used: torch sees no CUDA device.*--device cpu") \
            as raised:
        resolve_device("cuda")
    assert raised.value.device == "cuda"


def test_auto_without_a_gpu_is_the_cpu_silently(no_cuda):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_device("auto") == torch.device("cpu")


def test_auto_passes_over_a_gpu_that_fails_and_says_why(one_broken_gpu):
    with pytest.warns(RuntimeWarning, match="CUDA device is visible but a test computation failed"):
        assert resolve_device("auto") == torch.device("cpu")


def test_an_explicit_gpu_that_fails_is_an_error_not_a_silent_cpu(one_broken_gpu):
    with pytest.raises(DeviceError, match=r"'cuda'.*no kernel image.*--device cpu"):
        resolve_device("cuda")


def test_a_gpu_index_past_the_last_one(one_broken_gpu):
    with pytest.raises(DeviceError, match=r"'cuda:3'.*1 CUDA device\(s\), numbered 0 to 0"):
        resolve_device("cuda:3")


@pytest.mark.parametrize("name", ["gpu", "cuda:x", "mps", ""])
def test_an_unknown_device_lists_the_choices(name):
    with pytest.raises(DeviceError, match="unknown device; choose one of auto, cpu, cuda or cuda:N"):
        resolve_device(name)


def test_a_device_failure_while_running_becomes_a_device_error():
    with pytest.raises(DeviceError, match=r"'cuda:0'.*illegal memory access.*--device cpu"):
        with device_errors(torch.device("cuda:0")):
            raise RuntimeError("CUDA error: an illegal memory access was encountered\nCUDA kernel errors might ...")
    with pytest.raises(DeviceError, match="out of memory"):
        with device_errors(torch.device("cuda")):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_other_errors_pass_through_unchanged():
    with pytest.raises(ValueError, match="bad data"):
        with device_errors(torch.device("cuda")):
            raise ValueError("bad data")
    with pytest.raises(RuntimeError, match="CUDA"):  # on the CPU a message naming CUDA is not the device's fault
        with device_errors(torch.device("cpu")):
            raise RuntimeError("CUDA mentioned on the CPU")


def test_training_on_a_missing_gpu_fails_before_reading_anything(no_cuda, music):
    from core.model.config import ModelConfig
    from core.model.setup import build_setup
    from core.training.loop import TrainConfig, train

    pair, _ = music
    config = ModelConfig(hidden=8, name_dim=8)
    with pytest.raises(DeviceError, match="--device cpu"):
        train(build_setup(pair.dataset, config), config, TrainConfig(device="cuda"))
