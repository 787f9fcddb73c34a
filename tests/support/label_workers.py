"""Label writers that run in processes of their own, for the concurrency and crash-safety tests.

Separate processes, not threads, because that is how a label store is really shared: several
app servers (or an app and a CLI import) open one SQLite file, each with its own connection and
locks, and a process can die at any instruction. Two entry points:

- ``record_decisions``: the target of a ``multiprocessing`` (spawn) process; records decisions
  in one transaction each and reports the event ids it got back, or the error that stopped it.
- ``python -m tests.support.label_workers URL ANALYST`` (from the repository root): records batches of
  ``BATCH`` decisions, one transaction per batch, forever, and prints each batch's event ids on
  one line, flushed, only after the commit returned. A test SIGKILLs it at a random moment; every
  id printed must then be in the store, and every batch must be whole or absent.
"""

from __future__ import annotations

import random
import sys
import time
import traceback
from typing import Any

BATCH = 3


def note_for(run: str, batch: int, k: int, left_id: str, right_id: str, decision: str) -> str:
    """The note a crash-writer event carries: its own content, so a torn row would not match it."""
    return f"{run}|{batch}|{k}/{BATCH}|{left_id}|{right_id}|{decision}"


def record_decisions(url: str, analyst: str, decisions: int, pairs: int, seed: int, start: Any, results: Any) -> None:
    """Record ``decisions`` accept/reject/skip events on pairs drawn from a pool of ``pairs``.

    Waits at the ``start`` barrier so every process writes at the same time; puts
    ``(analyst, ids, None)`` or ``(analyst, ids so far, traceback)`` on ``results``.
    """
    ids: list[int] = []
    try:
        from db import make_engine, make_sessionmaker, record_decision

        engine = make_engine(url)
        Session = make_sessionmaker(engine)
        rng = random.Random(seed)
        words = ("accept", "reject", "skip")
        start.wait()
        for _ in range(decisions):
            pair = rng.randrange(pairs)
            with Session.begin() as session:
                event = record_decision(session, project="load", left_id=f"l{pair}", right_id=f"r{pair}", type="film",
                                        decision=rng.choice(words), analyst=analyst)
            ids.append(event.id)
        engine.dispose()
        results.put((analyst, ids, None))
    except BaseException:
        results.put((analyst, ids, traceback.format_exc()))


def crash_writer(url: str, analyst: str, run: str) -> None:
    """Write batches forever; print a batch's ids only once its transaction has committed."""
    from db import make_engine, make_sessionmaker, record_decision

    Session = make_sessionmaker(make_engine(url))
    rng = random.Random(f"{run}-{time.time_ns()}")
    for batch in range(1, 10**9):
        with Session.begin() as session:
            ids = []
            for k in range(1, BATCH + 1):
                left_id, right_id = f"l{rng.randrange(50)}", f"r{rng.randrange(50)}"
                decision = rng.choice(("accept", "reject", "skip"))
                event = record_decision(session, project="crash", left_id=left_id, right_id=right_id, type="film",
                                        decision=decision, analyst=analyst,
                                        note=note_for(run, batch, k, left_id, right_id, decision))
                ids.append(event.id)
        sys.stdout.write(" ".join(map(str, ids)) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    crash_writer(sys.argv[1], sys.argv[2], sys.argv[3])
