"""Label store under load: N processes writing decisions at once, and writers killed mid-write.

    python bench/label_store.py                                # 4 x 1000 decisions, 50 kill runs
    python bench/label_store.py --processes 8 --decisions 500 --kill-runs 0
    eval "$(bash .ci/postgres.sh start)" && python bench/label_store.py; bash .ci/postgres.sh stop

**Throughput.** ``--processes`` spawned processes (each its own interpreter and connection, like
several app servers on one store) wait at a barrier, then each records ``--decisions`` decisions,
one transaction each (as the review page does), on pairs drawn from a shared pool so that
analysts overlap. Printed per backend: decisions/s over the wall time from the first writer's
start to the last one's end, the median and p99 time of one transaction, the events lost
(reported committed by a writer but not in the store afterwards; must be 0) and the writers that
failed (e.g. "database is locked"; must be 0). SQLite always (a temporary file, WAL, the
pragmas of ``db.session``); PostgreSQL too when ``MUALIGN_TEST_POSTGRES_URL`` is set, each run in
a schema of its own that is dropped afterwards. Note that ``.ci/postgres.sh`` starts its server
with ``fsync=off`` and ``synchronous_commit=off``: its figure is an upper bound, not what a
durable server gives.

**Kill runs** (SQLite). ``--kill-runs`` times: this script starts itself as a writer that
records batches of 3 decisions per transaction and prints each batch's ids after the commit;
once the writer is in its loop it is sent SIGKILL at a random moment (0-300 ms later). A run is
survived when a fresh process then finds ``PRAGMA integrity_check`` ok, no foreign-key
violation, every reported id stored, every batch whole or absent, every row whole (its note
repeats its content), and the store takes a new write. All runs share one file, so each run
also starts from the state the previous crash left.

Prints, e.g.::

    backend=sqlite processes=4 decisions_each=1000 decisions=4000 seconds=9.1 decisions_per_second=440
        commit_ms_median=3.1 commit_ms_p99=40.2 lost_events=0 failed_writers=0
    kill-mid-write runs survived: 50/50 (sqlite; 1,234 batches committed before the kills)

and writes ``bench/results/label_store.json`` (``--results NAME`` for another name).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections import defaultdict
from pathlib import Path

from _common import REPO, record, write_results

POSTGRES_URL_VARIABLE = "MUALIGN_TEST_POSTGRES_URL"
BATCH = 3
KILL_AFTER_S = 0.3


# --------------------------------------------------------------------------- throughput ---
def _writer(url: str, analyst: str, decisions: int, pairs: int, seed: int, start, results) -> None:
    """One spawned analyst: ``decisions`` transactions; reports ids, start/end times and commit times."""
    ids: list[int] = []
    seconds: list[float] = []
    began = time.time()
    try:
        from db import make_engine, make_sessionmaker, record_decision

        engine = make_engine(url)
        Session = make_sessionmaker(engine)
        rng = random.Random(seed)
        start.wait()
        began = time.time()
        for _ in range(decisions):
            pair = rng.randrange(pairs)
            t0 = time.perf_counter()
            with Session.begin() as session:
                event = record_decision(session, project="bench", left_id=f"l{pair}", right_id=f"r{pair}",
                                        type="film", decision=rng.choice(("accept", "reject", "skip")),
                                        analyst=analyst)
            seconds.append(time.perf_counter() - t0)
            ids.append(event.id)
        ended = time.time()
        engine.dispose()
        results.put((analyst, ids, seconds, began, ended, None))
    except BaseException:
        results.put((analyst, ids, seconds, began, time.time(), traceback.format_exc()))


def throughput(url: str, processes: int, decisions: int, pairs: int, seed: int) -> dict:
    """Run the writers against ``url`` (an empty store) and count what the store holds afterwards."""
    from sqlalchemy import func, select

    from db import LabelEventRow, make_engine, make_sessionmaker

    engine = make_engine(url)  # migrate once, before the writers open it
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(processes), context.Queue()
    workers = [context.Process(target=_writer, args=(url, f"analyst{i}", decisions, pairs, seed * 1000 + i,
                                                     start, results))
               for i in range(processes)]
    for w in workers:
        w.start()
    reports = [results.get(timeout=3600) for _ in workers]
    for w in workers:
        w.join()
    failures = [error for *_, error in reports if error]
    for error in failures:
        print(error, file=sys.stderr)
    reported = {i for _, ids, *_ in reports for i in ids}
    with make_sessionmaker(engine).begin() as session:
        stored = set(session.scalars(select(LabelEventRow.id).where(LabelEventRow.project == "bench")))
        pairs_multi = session.execute(
            select(func.count()).select_from(
                select(LabelEventRow.left_id).where(LabelEventRow.project == "bench")
                .group_by(LabelEventRow.left_id, LabelEventRow.right_id)
                .having(func.count(func.distinct(LabelEventRow.analyst)) > 1).subquery())).scalar()
    engine.dispose()
    seconds = [s for _, _, times, *_ in reports for s in times]
    wall = max(r[4] for r in reports) - min(r[3] for r in reports)
    return {
        "decisions": len(reported), "seconds": wall, "decisions_per_second": len(reported) / wall,
        "commit_ms_median": 1000 * statistics.median(seconds) if seconds else float("nan"),
        "commit_ms_p99": 1000 * _percentile(seconds, 99) if seconds else float("nan"),
        "lost_events": len(reported - stored), "unreported_events": len(stored - reported),
        "failed_writers": len(failures), "pairs_with_several_analysts": pairs_multi,
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class PostgresSchema:
    """A schema of its own on the server named by ``MUALIGN_TEST_POSTGRES_URL``, dropped on exit."""

    def __init__(self, server_url: str):
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        self.server = create_engine(server_url, poolclass=NullPool)
        self.schema = f"mualign_bench_{uuid.uuid4().hex[:12]}"

    def __enter__(self) -> str:
        from sqlalchemy import text

        with self.server.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        url = self.server.url.update_query_dict({"options": f"-csearch_path={self.schema}"})
        return url.render_as_string(hide_password=False)

    def __exit__(self, *exc) -> None:
        from sqlalchemy import text

        with self.server.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))
        self.server.dispose()


# --------------------------------------------------------------------------- kill runs ---
def note_for(run: str, batch: int, k: int, left_id: str, right_id: str, decision: str) -> str:
    """A crash-writer event's note repeats its content, so a torn row would not match it."""
    return f"{run}|{batch}|{k}/{BATCH}|{left_id}|{right_id}|{decision}"


def crash_writer(url: str, run: str) -> None:
    """Batches of ``BATCH`` decisions forever; a batch's ids are printed only after its commit."""
    from db import make_engine, make_sessionmaker, record_decision

    Session = make_sessionmaker(make_engine(url))
    rng = random.Random(f"{run}-{time.time_ns()}")
    for batch in range(1, 10**9):
        with Session.begin() as session:
            ids = []
            for k in range(1, BATCH + 1):
                left_id, right_id = f"l{rng.randrange(50)}", f"r{rng.randrange(50)}"
                decision = rng.choice(("accept", "reject", "skip"))
                ids.append(record_decision(session, project="crash", left_id=left_id, right_id=right_id,
                                           type="film", decision=decision, analyst=run,
                                           note=note_for(run, batch, k, left_id, right_id, decision)).id)
        sys.stdout.write(" ".join(map(str, ids)) + "\n")
        sys.stdout.flush()


def kill_run(url: str, run: str, rng: random.Random, reported: set[int]) -> str | None:
    """One writer started and SIGKILLed; adds its reported ids to ``reported``; the problem found, or None."""
    from sqlalchemy import text

    from db import events, make_engine, make_sessionmaker, record_decision

    writer = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--crash-writer", url, run],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = writer.stdout.readline()
    if not first.endswith(b"\n"):
        writer.kill()
        return f"writer did not start: {writer.communicate()[1].decode()[-2000:]}"
    time.sleep(rng.uniform(0, KILL_AFTER_S))
    writer.send_signal(signal.SIGKILL)
    rest, _ = writer.communicate(timeout=60)
    output = first + rest
    complete = output[: output.rfind(b"\n") + 1]  # a line the kill cut short is not trusted
    reported.update(int(i) for line in complete.decode().splitlines() for i in line.split())

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            integrity = connection.execute(text("PRAGMA integrity_check")).scalar()
            if integrity != "ok":
                return f"integrity_check: {integrity}"
            if connection.execute(text("PRAGMA foreign_key_check")).all():
                return "foreign_key_check found violations"
        Session = make_sessionmaker(engine)
        with Session.begin() as session:
            log = events(session, project="crash")
        stored = {e.id for e in log}
        if not reported <= stored:
            return f"{len(reported - stored)} committed events lost: {sorted(reported - stored)[:10]}"
        parts = defaultdict(list)
        for e in log:
            run_of, batch, k = e.note.split("|")[:3]
            if e.note != note_for(run_of, int(batch), int(k[0]), e.left_id, e.right_id, e.decision.value):
                return f"event {e.id} is not whole: {e}"
            parts[(run_of, batch)].append(int(k[0]))
        partial = [key for key, ks in parts.items() if sorted(ks) != list(range(1, BATCH + 1))]
        if partial:
            return f"partial batches: {partial[:5]}"
        with Session.begin() as session:
            record_decision(session, project="after", left_id="l0", right_id="r0", type="film",
                            decision="accept", analyst="check")
    except Exception as exc:  # a store that cannot even be read did not survive
        return f"{type(exc).__name__}: {exc}"
    finally:
        engine.dispose()
    return None


# --------------------------------------------------------------------------------- main ---
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--decisions", type=int, default=1000, help="decisions per process (default 1000)")
    parser.add_argument("--pairs", type=int, default=300, help="pairs the decisions are drawn from (default 300)")
    parser.add_argument("--kill-runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", default="label_store", help="bench/results/NAME.json to write")
    parser.add_argument("--crash-writer", nargs=2, metavar=("URL", "RUN"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.crash_writer:
        crash_writer(*args.crash_writer)
        return
    if args.processes < 1 or args.decisions < 1 or args.kill_runs < 0:
        sys.exit("--processes and --decisions must be at least 1, --kill-runs at least 0")

    dataset = f"synthetic labels: {args.processes} processes x {args.decisions} decisions on {args.pairs} pairs"
    common = dict(processes=args.processes, decisions_each=args.decisions, pairs=args.pairs, cpus=os.cpu_count(),
                  load_average_1min=round(os.getloadavg()[0], 2))
    records = []
    backends = [("sqlite", None)]
    if os.environ.get(POSTGRES_URL_VARIABLE):
        backends.append(("postgresql", os.environ[POSTGRES_URL_VARIABLE]))
    else:
        print(f"PostgreSQL skipped: {POSTGRES_URL_VARIABLE} is not set (eval \"$(bash .ci/postgres.sh start)\")")
    with tempfile.TemporaryDirectory(prefix="label-store-") as work:
        for backend, server_url in backends:
            if backend == "sqlite":
                figures = throughput(f"sqlite:///{work}/throughput.sqlite", args.processes, args.decisions,
                                     args.pairs, args.seed)
                method = "sqlite file (WAL, synchronous=NORMAL, BEGIN IMMEDIATE), spawned processes, 1 txn/decision"
            else:
                with PostgresSchema(server_url) as url:
                    figures = throughput(url, args.processes, args.decisions, args.pairs, args.seed)
                method = ("postgresql (.ci/postgres.sh: fsync=off, synchronous_commit=off), spawned processes, "
                          "1 txn/decision")
            print(f"backend={backend} processes={args.processes} decisions_each={args.decisions} "
                  f"decisions={figures['decisions']} seconds={figures['seconds']:.1f} "
                  f"decisions_per_second={figures['decisions_per_second']:.0f} "
                  f"commit_ms_median={figures['commit_ms_median']:.1f} commit_ms_p99={figures['commit_ms_p99']:.1f} "
                  f"lost_events={figures['lost_events']} failed_writers={figures['failed_writers']} "
                  f"pairs_with_several_analysts={figures['pairs_with_several_analysts']} "
                  f"load_average={os.getloadavg()[0]:.1f}", flush=True)
            extra = dict(common, backend=backend, unreported_events=figures["unreported_events"],
                         pairs_with_several_analysts=figures["pairs_with_several_analysts"])
            records += [
                record(dataset, method, "decisions_per_second", round(figures["decisions_per_second"], 1),
                       "decisions/s", args.seed, **extra),
                record(dataset, method, "commit_ms_median", round(figures["commit_ms_median"], 2), "ms", args.seed,
                       **extra),
                record(dataset, method, "commit_ms_p99", round(figures["commit_ms_p99"], 2), "ms", args.seed, **extra),
                record(dataset, method, "lost_events", figures["lost_events"], "events", args.seed,
                       met=figures["lost_events"] == 0, **extra),
                record(dataset, method, "failed_writers", figures["failed_writers"], "processes", args.seed,
                       met=figures["failed_writers"] == 0, **extra),
            ]

        if args.kill_runs:
            url = f"sqlite:///{work}/crash.sqlite"
            rng = random.Random(args.seed)
            reported: set[int] = set()
            failures = []
            start = time.perf_counter()
            for run in range(args.kill_runs):
                problem = kill_run(url, f"run{run}", rng, reported)
                if problem:
                    failures.append(problem)
                    print(f"kill run {run + 1}: NOT survived: {problem}", flush=True)
            survived = args.kill_runs - len(failures)
            print(f"kill-mid-write runs survived: {survived}/{args.kill_runs} (sqlite; writer SIGKILLed "
                  f"0-{KILL_AFTER_S * 1000:.0f} ms into its loop; {len(reported) // BATCH:,} batches of {BATCH} reported "
                  f"committed, all checked; {time.perf_counter() - start:.0f} s)", flush=True)
            records.append(record(
                f"synthetic labels: a writer of {BATCH}-decision transactions SIGKILLed at a random moment",
                "sqlite file (WAL, synchronous=NORMAL); checks: integrity_check, foreign_key_check, every reported "
                "id stored, no partial batch or row, store writable", "kill_runs_survived", survived, "runs",
                args.seed, runs=args.kill_runs, met=survived == args.kill_runs, batches_reported=len(reported) // BATCH,
                cpus=os.cpu_count(), load_average_1min=round(os.getloadavg()[0], 2)))
    path = write_results(args.results, records)
    print(f"wrote {len(records)} records to {path}")


if __name__ == "__main__":
    main()
