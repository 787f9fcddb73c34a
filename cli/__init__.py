"""The ``mualign`` command line (:mod:`cli.main`).

Set here, before anything imports NumPy: NumPy's OpenBLAS keeps its threads spinning for about a
tenth of a second after every matrix product (``OPENBLAS_THREAD_TIMEOUT`` 28: 2^28 cycles), read
when the library loads. ``mualign block``'s label propagation alternates products with
single-threaded top-k selection, so the idle thread spun through each selection: 4 (2^4 cycles,
the least) took DBLP-ACM's ``mualign block`` from 7.8-8.1 to 6.3-6.9 CPU-s at the same wall time.
A value the user set is kept.

And glibc's allocator is told to keep what is freed (:func:`keep_freed_memory`).
"""

import ctypes
import os

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

#: mallopt's parameter numbers (glibc's malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
#: blocks up to this size come from the heap (glibc's largest allowed mmap threshold)
MMAP_THRESHOLD_BYTES = 32 << 20
#: freed memory at the top of the heap is given back to the system only above this
TRIM_THRESHOLD_BYTES = 1 << 30


def keep_freed_memory() -> bool:
    """Have glibc serve blocks up to 32 MiB from the heap and keep freed memory (up to 1 GiB) for reuse.

    Why: a command allocates and frees the same large temporaries over and over (a training
    step's gathered rows, the matcher's feature columns, a scoring chunk). glibc's defaults map a
    block above its threshold fresh from the system and give freed heap memory back, so every
    reuse page-faults again, and on this machine a fault costs microseconds: DBLP-ACM's
    ``mualign train`` took 0.75-1.17 million minor faults and 4.8-5.4 s of system time; with
    these settings 0.27 million and 3.6 s, the same results. Peak memory barely moves (what is
    kept was in use already; the 100K demo pair's ``train``: 5.33 -> 5.38 GB). Does nothing where
    the C library has no ``mallopt`` (not glibc) or where the user set ``MALLOC_MMAP_THRESHOLD_``
    or ``MALLOC_TRIM_THRESHOLD_``; returns whether the settings were applied.
    """
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and \
        bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))


keep_freed_memory()
