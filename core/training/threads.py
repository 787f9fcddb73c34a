"""How many CPU threads a training step gets: few for small batches, where threads cost more than they give.

A step of the paper's model at batch 32 is a few hundred small tensor operations (gathers of ~10
neighbours, 100-wide matmuls). Each parallel region wakes torch's OpenMP threads and waits for the
slowest; at that size the wake-ups cost more than the split work saves. Measured on this project's
2-core machine (``bench/training_speed.py --threads 1`` / ``--threads 2``, 30K-entity demo pair):

=========  ==============  ==============
batch      1 thread        2 threads
=========  ==============  ==============
32         427 pairs/s     342 pairs/s
64         550             340
128        618             589
256        785             977
=========  ==============  ==============

and a DBLP-ACM ``mualign train`` took 33.0 CPU-s in 33.0 s on one thread against 37.9 CPU-s in
33.4 s on two (the extra was system time: futex wake-ups). So the steps run on one thread per
:data:`PAIRS_PER_THREAD` positive pairs of a batch, within what torch was given (``--threads``);
scoring and validation, whose operations are large, keep every thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

#: Positive pairs of a batch per CPU thread of its training step (the crossover measured above).
PAIRS_PER_THREAD = 128


def threads_for_batch(batch_size: int, available: int) -> int:
    """Threads for a training step of ``batch_size`` positives: one per 128 pairs, 1 to ``available``."""
    if batch_size < 1 or available < 1:
        raise ValueError(f"batch_size and available must be >= 1, got {batch_size} and {available}")
    return max(1, min(available, batch_size // PAIRS_PER_THREAD))


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n)``; the previous count is restored after it."""
    previous = torch.get_num_threads()
    if n == previous:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
