"""A process killed (SIGKILL) while it writes labels loses nothing it committed and tears nothing.

The writer (``python -m tests.support.label_workers``) records batches of three decisions, one
transaction per batch, and prints a batch's ids only after its commit returned. The test kills
it at a random moment, several rounds on one file, and after each kill checks what an analyst
relies on: the file is intact (``PRAGMA integrity_check``), every id the writer reported is
stored, every batch is whole or absent (a transaction is atomic), every row is whole (its note
repeats its content), and the store takes new writes. SIGKILL gives the process no chance to
clean up: only SQLite's journal (WAL) stands between a half-written transaction and the log.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections import defaultdict

from sqlalchemy import text

from db import default_url, events, make_engine, make_sessionmaker, record_decision
from tests.conftest import REPO
from tests.support.label_workers import BATCH, note_for

ROUNDS = 4


def test_sigkill_mid_write_loses_no_committed_label(tmp_path):
    url = default_url(tmp_path)
    make_engine(url).dispose()
    rng = random.Random(0)
    reported: set[int] = set()
    for round_ in range(ROUNDS):
        run = f"run{round_}"
        writer = subprocess.Popen([sys.executable, "-m", "tests.support.label_workers", url, f"writer{round_}", run],
                                  cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  bufsize=0)  # unbuffered: communicate() must see every line readline() did not
        first = writer.stdout.readline()  # it is in its write loop now
        assert first.endswith(b"\n"), writer.stderr.read().decode()
        time.sleep(rng.uniform(0.0, 0.4))
        writer.send_signal(signal.SIGKILL)
        rest, _ = writer.communicate(timeout=30)
        assert writer.returncode == -signal.SIGKILL
        output = first + rest
        complete = output[: output.rfind(b"\n") + 1]  # a line cut by the kill is not trusted
        batches = [[int(i) for i in line.split()] for line in complete.decode().splitlines()]
        assert batches and all(len(b) == BATCH for b in batches)
        reported.update(i for b in batches for i in b)

        engine = make_engine(url)  # a fresh process opening the file after the crash
        try:
            with engine.connect() as connection:
                assert connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"
                assert connection.execute(text("PRAGMA foreign_key_check")).all() == []
            Session = make_sessionmaker(engine)
            with Session.begin() as session:
                log = events(session, project="crash")
            stored = {e.id for e in log}
            assert reported <= stored, f"committed but lost: {sorted(reported - stored)}"
            parts = defaultdict(list)
            for e in log:
                run_of, batch, k = e.note.split("|")[:3]
                assert e.note == note_for(run_of, int(batch), int(k[0]), e.left_id, e.right_id, e.decision.value)
                parts[(run_of, batch)].append(int(k[0]))
            assert all(sorted(ks) == list(range(1, BATCH + 1)) for ks in parts.values())  # no partial batch
            # at most one batch per kill committed without being reported (killed between commit and print)
            assert len(stored) - len(reported) <= BATCH * (round_ + 1)
            with Session.begin() as session:  # the store takes new writes
                event = record_decision(session, project="after", left_id="l0", right_id="r0", type="film",
                                        decision="accept", analyst="check")
            assert event.id > max(stored)
        finally:
            engine.dispose()
