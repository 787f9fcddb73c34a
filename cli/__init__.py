"""The ``mualign`` command line (:mod:`cli.main`).

Set here, before anything imports NumPy: NumPy's OpenBLAS keeps its threads spinning for about a
tenth of a second after every matrix product (``OPENBLAS_THREAD_TIMEOUT`` 28: 2^28 cycles), read
when the library loads. ``mualign block``'s label propagation alternates products with
single-threaded top-k selection, so the idle thread spun through each selection: 4 (2^4 cycles,
the least) took DBLP-ACM's ``mualign block`` from 7.8-8.1 to 6.3-6.9 CPU-s at the same wall time.
A value the user set is kept.
"""

import os

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
