"""Several processes write labels into one SQLite file at once; nothing is lost or refused.

``test_db_labels.py`` races two threads of one process; here four separate processes (spawned,
so each has its own interpreter, connection and file locks, like four app servers) record 1,000
decisions each at the same moment, on overlapping pairs. SQLite lets one writer in at a time;
``BEGIN IMMEDIATE`` and the 30 s busy timeout (``db.session``) must turn that into waiting, never
into a "database is locked" error, and every committed event must be there afterwards.
"""

from __future__ import annotations

import multiprocessing
import random
from collections import defaultdict

from sqlalchemy import text

from db import default_url, derive_current, events, make_engine, make_sessionmaker
from tests.support.label_workers import record_decisions

WRITERS = 4
DECISIONS = 1000
PAIRS = 300  # 4,000 decisions on 300 pairs: most pairs get several analysts


def test_processes_writing_at_once_lose_nothing(tmp_path):
    url = default_url(tmp_path)
    engine = make_engine(url)  # the store exists (migrated) before the writers start, as in the app
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(WRITERS), context.Queue()
    analysts = [f"analyst{i}" for i in range(WRITERS)]
    processes = [context.Process(target=record_decisions, args=(url, name, DECISIONS, PAIRS, i, start, results))
                 for i, name in enumerate(analysts)]
    for p in processes:
        p.start()
    try:
        reports = [results.get(timeout=240) for _ in processes]
    finally:
        for p in processes:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    errors = {name: error for name, _, error in reports if error}
    assert errors == {}, "\n".join(errors.values())  # no "database is locked" escaped a writer
    assert [p.exitcode for p in processes] == [0] * WRITERS
    reported = {name: ids for name, ids, _ in reports}
    assert sorted(reported) == analysts and all(len(ids) == DECISIONS for ids in reported.values())

    with make_sessionmaker(engine).begin() as session:
        log = events(session, project="load")
    by_id = {e.id: e for e in log}
    assert len(log) == WRITERS * DECISIONS == len(by_id)
    for name, ids in reported.items():  # every committed event is present, under its analyst
        assert {by_id[i].analyst for i in ids} == {name}
    assert set(by_id) == {i for ids in reported.values() for i in ids}

    # Pairs labelled by several analysts have one current label: the event with the highest id.
    analysts_of = defaultdict(set)
    latest_of = {}
    for e in log:
        key = (e.left_id, e.right_id)
        analysts_of[key].add(e.analyst)
        latest_of[key] = max(latest_of.get(key, 0), e.id)
    shared = {key for key, names in analysts_of.items() if len(names) > 1}
    assert len(shared) > PAIRS // 2
    current = derive_current(log)
    assert {(lab.left_id, lab.right_id): lab.event_id for lab in current} == latest_of
    shuffled = list(log)
    random.Random(0).shuffle(shuffled)
    assert derive_current(shuffled) == current  # defined by the log, not by reading order
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    engine.dispose()
