"""Blocking, scoring and training on a Ray cluster, with the results of a local run.

mualign runs on one machine by default (``--engine local``). ``--engine ray [--address ADDR]``
hands the three batch stages to Ray, an existing distributed engine installed with pip:

- :mod:`core.distributed.blocking`: each aligned type's left entities in shards, each shard's top-k
  against the whole right side ranked by a task; the union is the local candidate set exactly;
- :mod:`core.distributed.scoring`: candidate pairs in batches through actors that hold the model
  and both graphs once (the graphs are put in Ray's object store and read zero-copy); every score
  is bit-identical to a local run with the same batch size and torch thread count;
- :mod:`core.distributed.training`: data-parallel CG-MuAlign with Ray Train's ``TorchTrainer``
  (gloo on CPU), gradients averaged across workers, the sparse name-table rows included.

Ray is imported only here and only when asked for: nothing outside this package imports it, and
:mod:`core.distributed.cluster` connects (or starts a local, 127.0.0.1-only Ray) on demand.
"""
