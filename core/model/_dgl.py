"""Import DGL through this module only.

dgl 2.1.0 (the newest Linux wheel) ships its graphbolt C++ library only for torch <= 2.2.1, and
``import dgl`` fails on torch 2.13.0 while loading it. Only ``dgl.distributed`` needs graphbolt at
import time, so an empty placeholder module lets the rest of DGL (heterographs, sampling,
message passing, edge_softmax) import and work; see ../shared/DEPS.md for what was verified.

PyPI's dgl is also a CPU-only build: its kernels fail on CUDA tensors (``Operator SegmentMM does
not support cuda device``). Hand it CPU tensors only. The model itself calls no DGL kernel (its
per-relation matmul is torch, :func:`core.model.layers.typed_linear.grouped_matmul`), so it runs
the same code on every device; ``tests/core/model/test_device.py`` keeps it that way.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types

import torch

os.environ.setdefault("DGLBACKEND", "pytorch")  # otherwise DGL writes ~/.dgl/config.json

_spec = importlib.util.find_spec("dgl")
if _spec is None:  # pragma: no cover - dgl is a declared dependency
    raise ImportError("dgl is not installed; run the README's install command")
_version = torch.__version__.split("+")[0]
_graphbolt = os.path.join(os.path.dirname(_spec.origin), "graphbolt", f"libgraphbolt_pytorch_{_version}.so")
if "dgl" not in sys.modules and not os.path.exists(_graphbolt):
    sys.modules["dgl.graphbolt"] = types.ModuleType("dgl.graphbolt")

import dgl  # noqa: E402

__all__ = ["dgl"]
