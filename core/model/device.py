"""Which device the model runs on, and a clear error when that device cannot be used.

Everything the model computes is plain torch, the same code on every device (no DGL kernel: the
dgl wheels on PyPI are CPU-only builds), so the device changes speed, not the numbers beyond
float rounding. What can still go wrong is the device itself: ``cuda`` asked for on a machine
without one, a torch built without CUDA, a driver too old, a GPU out of memory. Each of those
becomes a :class:`DeviceError` that names the device and says how to choose another, never a
traceback from deep inside torch.

``auto`` is the safe default: CUDA only when torch sees a GPU *and* a small computation on it
succeeds; otherwise the CPU, with a warning that says why the GPU was passed over.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Iterator

import torch

CHOICES = "auto, cpu, cuda or cuda:N"
_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


class DeviceError(RuntimeError):
    """The chosen device cannot run the model; ``device`` names it and the message says what to choose.

    The CLI reports it as a usage error (exit 2): the fix is an option, ``--device cpu``.
    """

    def __init__(self, device: str, problem: str):
        self.device, self.problem = device, problem
        super().__init__(f"device {device!r} cannot be used: {problem}. "
                         f"Choose another device with --device cpu (device='cpu' from Python).")


def resolve_device(name: str | torch.device) -> torch.device:
    """The torch device for a device option: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.

    ``auto`` is CUDA when a probe computation succeeds there, else the CPU (with a
    ``RuntimeWarning`` when a GPU is visible but failed the probe). ``cuda`` and ``cuda:N`` are
    probed too, so a broken GPU fails here, before any data is read onto it.

    Raises
    ------
    DeviceError
        For an unknown name, ``cuda`` without a usable CUDA device, or an index past the last GPU.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    text = str(name).strip().lower()
    if not _PATTERN.match(text):
        raise DeviceError(str(name), f"unknown device; choose one of {CHOICES}")
    if text == "cpu":
        return torch.device("cpu")
    if text == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        problem = _cuda_problem(torch.device("cuda"))
        if problem is None:
            return torch.device("cuda")
        warnings.warn(f"--device auto: a CUDA device is visible but {problem}; using the CPU", RuntimeWarning,
                      stacklevel=2)
        return torch.device("cpu")
    device = torch.device(text)
    problem = _cuda_problem(device)
    if problem is not None:
        raise DeviceError(text, problem)
    return device


def _cuda_problem(device: torch.device) -> str | None:
    """Why ``device`` (a CUDA device) cannot run the model, or None when a probe computation worked."""
    if not torch.cuda.is_available():
        built = torch.version.cuda is not None
        return ("torch sees no CUDA device (torch.cuda.is_available() is False"
                + ("" if built else f"; this torch {torch.__version__} is a CPU-only build") + ")")
    count = torch.cuda.device_count()
    index = device.index if device.index is not None else 0
    if index >= count:
        return f"this machine has {count} CUDA device(s), numbered 0 to {count - 1}"
    try:
        _probe(device)
    except Exception as error:  # noqa: BLE001 - any failure of the probe means the device is unusable
        return f"a test computation failed there ({type(error).__name__}: {error})"
    return None


def _probe(device: torch.device) -> None:
    """A few of the operations the model runs (matmul, index_copy, sparse embedding), on ``device``."""
    x = torch.ones(4, 3, device=device)
    rows = torch.arange(4, device=device)
    y = (x @ torch.ones(3, 2, device=device)).index_copy(0, rows, x[:, :2])
    table = torch.nn.functional.embedding(rows, torch.ones(4, 2, device=device, requires_grad=True), sparse=True)
    (y.sum() + table.sum()).backward()
    torch.cuda.synchronize(device)


@contextlib.contextmanager
def device_errors(device: torch.device) -> Iterator[None]:
    """Turn a failure of a non-CPU device inside the block into a :class:`DeviceError` naming it.

    Out of memory, a CUDA launch failure or an illegal address are the device's, not the data's:
    the message then says which device failed and that ``--device cpu`` runs the same computation.
    Errors on the CPU, and errors that are not the device's, pass through unchanged.
    """
    try:
        yield
    except DeviceError:
        raise
    except Exception as error:
        if torch.device(device).type == "cpu" or not _is_device_failure(error):
            raise
        first_line = (str(error).strip().splitlines() or [""])[0]
        raise DeviceError(str(device), f"it failed while running the model ({type(error).__name__}: {first_line})") \
            from error


#: exceptions that are the device's own failures whatever their message (CUDA errors in torch >= 2.8)
_DEVICE_FAILURES = tuple(t for t in (torch.cuda.OutOfMemoryError, getattr(torch, "AcceleratorError", None)) if t)


def _is_device_failure(error: BaseException) -> bool:
    if isinstance(error, _DEVICE_FAILURES):
        return True
    return isinstance(error, RuntimeError) and any(word in str(error) for word in ("CUDA", "cuda", "cuDNN", "CUBLAS"))


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """torch's intra-op threads set to ``n`` inside the block, restored after; None changes nothing."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
