"""A retrain killed at any moment leaves whole models, a valid active pointer and untouched labels.

Retraining runs for minutes from the review app, so it gets killed: the browser tab's server
restarted, the machine out of memory, Ctrl+C twice. The test SIGKILLs real training processes
(the Retrain page's work in a forked worker, and ``mualign train``) at chosen moments, each
reached deterministically through ``tests/support/retrain_worker.py``'s pauses, and a few at random
times; after every kill it checks the project:

- ``models/`` holds only complete checkpoints, each of which loads against the project, plus
  temporary files of dead processes, which no listing takes for a model;
- ``ACTIVE`` names one of those loadable versions;
- the labels database passes SQLite's integrity check and holds exactly the same events.

The moments are ordered like the store's writes, so the test also pins the order itself: a
checkpoint is complete under its final name before ``ACTIVE`` may point at it. A final
uninterrupted retrain then succeeds, becomes active, and removes the dead processes' leftovers.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.formats.errors import DataError
from core.project.model_versions import (ACTIVE, TEMP_PATTERN, active_version, remove_stale_temp_files, set_active,
                              versions)
from tests.support.broken_inputs import train_tiny_checkpoint
from tests.conftest import REPO
from tests.support.retrain_worker import PROJECT_KEY

PAUSE_TIMEOUT = 240  # seconds a worker may take to reach its pause on a busy 2-core machine


@pytest.fixture(scope="module")
def labelled_project(tmp_path_factory) -> Path:
    """The tiny project, blocked, with one active model version and a few analyst labels."""
    from db import Decision, default_url, make_engine, make_sessionmaker, record_decision, undo_last

    from core.project.checkpoint import load_scorer
    from core.formats.native import load_candidates, load_project
    from core.project.lifecycle import score_candidates

    project, checkpoint = train_tiny_checkpoint(tmp_path_factory.mktemp("crash") / "tiny")
    dataset = load_project(project)
    scorer, info = load_scorer(checkpoint, dataset)
    # the active version's score table, as `mualign score` leaves it: a retrain then writes
    # only its own version's table (the scores-torn pause point relies on that)
    score_candidates(project, dataset, load_candidates(dataset, project), scorer, info.version)
    engine = make_engine(default_url(project))
    with make_sessionmaker(engine).begin() as session:
        record_decision(session, project=PROJECT_KEY, left_id="f3", right_id="m12", type="film",
                        decision=Decision.ACCEPT, analyst="ana")
        record_decision(session, project=PROJECT_KEY, left_id="p3", right_id="q11", type="person",
                        decision=Decision.REJECT, analyst="bo")
        record_decision(session, project=PROJECT_KEY, left_id="f2", right_id="m10", type="film",
                        decision=Decision.ACCEPT, analyst="bo")
        undo_last(session, project=PROJECT_KEY, analyst="bo")
    engine.dispose()
    return project


@pytest.fixture(scope="module")
def forkserver():
    """Workers forked from a server that imported torch once: a kill round costs seconds, not an import."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.support.retrain_worker", "core.project.retrain", "core.project.lifecycle", "core.project.checkpoint",
                                    "core.training.loop", "db"])
    return context


def _label_events(project: Path):
    from db import default_url, events, make_engine, make_sessionmaker

    engine = make_engine(default_url(project))
    try:
        with make_sessionmaker(engine).begin() as session:
            return events(session, project=PROJECT_KEY)
    finally:
        engine.dispose()


def _integrity(project: Path) -> str:
    connection = sqlite3.connect(project / "labels.sqlite")
    try:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        connection.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def check_project(project: Path, labels_before) -> dict:
    """The invariants of the module docstring; returns what ``models/`` holds."""
    from core.project.checkpoint import load_scorer
    from core.formats.native import load_project

    dataset = load_project(project)
    folder = project / "models"
    names = sorted(p.name for p in folder.iterdir())
    models = [n for n in names if n.startswith("model-") and n.endswith(".pt")]
    temps = [n for n in names if TEMP_PATTERN.fullmatch(n)]
    # version directories (the matcher of issue 15): each belongs to a whole checkpoint and holds a
    # whole matcher, since it is renamed into place only once written
    matchers = [n for n in names if (folder / n).is_dir() and not TEMP_PATTERN.fullmatch(n)]
    assert set(names) == set(models) | set(temps) | set(matchers) | {ACTIVE}, f"unexpected files in models/: {names}"
    from core.matching.matcher import load_matcher

    for name in matchers:
        assert f"model-{name}.pt" in models, f"{name}/: a matcher without its checkpoint"
        load_matcher(folder / name / "matcher")
    for name in temps:
        assert not _alive(int(TEMP_PATTERN.fullmatch(name).group(1))), f"{name}: its writer still runs"
    assert sorted(versions(project)) == sorted(n.removeprefix("model-").removesuffix(".pt") for n in models)
    for name in models:  # complete: the version hash over metadata and weights checks out
        _, info = load_scorer(folder / name, dataset)
        assert name == f"model-{info.version}.pt"
    assert active_version(project) in versions(project)
    assert _integrity(project) == "ok"
    assert _label_events(project) == labels_before
    return {"models": models, "temps": temps, "active": active_version(project)}


def _read_events(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def _wait_for(events: Path, prefix: str, is_running) -> str:
    deadline = time.monotonic() + PAUSE_TIMEOUT
    while time.monotonic() < deadline:
        lines = _read_events(events)
        for line in lines:
            if line.startswith(prefix):
                return line
            if line.startswith(("ERROR", "DONE")):
                pytest.fail(f"the worker stopped before {prefix!r}: {line[:3000]}")
        if not is_running():
            pytest.fail(f"the worker exited before {prefix!r}; events: {lines}")
        time.sleep(0.02)
    pytest.fail(f"the worker did not reach {prefix!r} in {PAUSE_TIMEOUT}s; events: {_read_events(events)}")


def _run_worker(forkserver, project: Path, events: Path, point: str | None, seed: int):
    from tests.support.retrain_worker import retrain_from_label_store

    process = forkserver.Process(target=retrain_from_label_store, args=(str(project), point, str(events), seed))
    process.start()
    return process


def _kill(process, *, may_have_finished: bool = False) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.join(timeout=60)  # reaped: its pid no longer counts as a live writer
    # a worker killed at a random moment may finish between is_alive() and the signal
    assert process.exitcode == -signal.SIGKILL or (may_have_finished and process.exitcode == 0)


def test_sigkilled_retrains_leave_whole_models_a_valid_pointer_and_untouched_labels(
        labelled_project, forkserver, tmp_path):
    project = Path(shutil.copytree(labelled_project, tmp_path / "tiny"))
    labels_before = _label_events(project)
    assert len(labels_before) == 4
    state = check_project(project, labels_before)
    first = state["active"]

    # 1. Mid-training: nothing of the new version exists yet.
    events = tmp_path / "events-step"
    worker = _run_worker(forkserver, project, events, "step", seed=1)
    _wait_for(events, "PAUSED step", worker.is_alive)
    _kill(worker)
    state = check_project(project, labels_before)
    assert state["models"] == [f"model-{first}.pt"] and state["active"] == first

    # 2. While the checkpoint is written: a torn temporary file, never taken for a model.
    events = tmp_path / "events-checkpoint"
    worker = _run_worker(forkserver, project, events, "checkpoint-torn", seed=2)
    _wait_for(events, "PAUSED checkpoint-torn", worker.is_alive)
    _kill(worker)
    state = check_project(project, labels_before)
    assert state["models"] == [f"model-{first}.pt"] and state["active"] == first
    torn = [name for name in state["temps"] if name.startswith(".model-")]
    assert len(torn) == 1 and (project / "models" / torn[0]).stat().st_size > 0

    # 3. Checkpoint in place, pointer not yet replaced: a complete but inactive version.
    events = tmp_path / "events-placed"
    worker = _run_worker(forkserver, project, events, "checkpoint-placed", seed=3)
    _wait_for(events, "PAUSED checkpoint-placed", worker.is_alive)
    _kill(worker)
    state = check_project(project, labels_before)
    assert len(state["models"]) == 2 and state["active"] == first

    # 4. While ACTIVE is written: the old pointer stays whole.
    events = tmp_path / "events-active"
    worker = _run_worker(forkserver, project, events, "active-torn", seed=4)
    _wait_for(events, "PAUSED active-torn", worker.is_alive)
    _kill(worker)
    state = check_project(project, labels_before)
    assert len(state["models"]) == 3 and state["active"] == first
    assert any(name.startswith(".ACTIVE.tmp-") for name in state["temps"])

    # 5. While the new version's scores are written: the new version is already active.
    events = tmp_path / "events-scores"
    worker = _run_worker(forkserver, project, events, "scores-torn", seed=5)
    _wait_for(events, "PAUSED scores-torn", worker.is_alive)
    _kill(worker)
    state = check_project(project, labels_before)
    assert len(state["models"]) == 4 and state["active"] != first
    assert [p.name for p in (project / "scores").iterdir() if p.name.startswith(".scores-")]  # torn, left behind

    # 6. `mualign train` itself, killed while writing its checkpoint.
    events = tmp_path / "events-cli"
    cli = subprocess.Popen([sys.executable, "-m", "tests.support.retrain_worker", str(events), "checkpoint-torn", "train",
                            "--project", str(project), "--epochs", "1", "--hidden", "8", "--layers", "1",
                            "--cap", "3", "--seed", "6", "--device", "cpu"],
                           cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(events, "PAUSED checkpoint-torn", lambda: cli.poll() is None)
    cli.kill()
    assert cli.wait(timeout=60) == -signal.SIGKILL
    active_before_cli = state["active"]
    state = check_project(project, labels_before)
    assert len(state["models"]) == 4 and state["active"] == active_before_cli

    # 7. At random moments (seeded): whatever was hit, the invariants hold.
    rng = random.Random(0)
    for round_number in range(2):
        events = tmp_path / f"events-random-{round_number}"
        worker = _run_worker(forkserver, project, events, None, seed=10 + round_number)
        time.sleep(rng.uniform(0.5, 4.0))
        if worker.is_alive():
            _kill(worker, may_have_finished=True)
        else:
            worker.join()
        check_project(project, labels_before)

    # 8. An uninterrupted retrain: it becomes active and clears the dead workers' leftovers.
    events = tmp_path / "events-final"
    worker = _run_worker(forkserver, project, events, None, seed=20)
    done = _wait_for(events, "DONE", worker.is_alive)
    worker.join(timeout=60)
    state = check_project(project, labels_before)
    assert state["active"] == done.split()[1]
    assert state["temps"] == []
    assert not [p.name for p in (project / "scores").iterdir() if TEMP_PATTERN.fullmatch(p.name)]


# ------------------------------------------------------------------------------ the store ----
def test_a_damaged_active_pointer_is_a_clear_error(labelled_project, tmp_path):
    project = Path(shutil.copytree(labelled_project, tmp_path / "tiny"))
    pointer = project / "models" / ACTIVE
    for content in (b"\xff\xfe\x00garbage", b"../../etc/passwd\n", b"", b"two\nlines\n"):
        pointer.write_bytes(content)
        with pytest.raises(DataError, match=rf"{pointer}:1: expected one model version id"):
            active_version(project)
    with pytest.raises(ValueError, match="is not a model version id"):
        set_active(project, "../escape")
    with pytest.raises(FileNotFoundError, match="no model version 'abc123'"):
        set_active(project, "abc123")


def test_stale_temporary_files_are_ignored_then_removed_but_a_live_writer_is_left_alone(labelled_project, tmp_path):
    project = Path(shutil.copytree(labelled_project, tmp_path / "tiny"))
    folder = project / "models"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    stale = [folder / f".model-abc.pt.tmp-{dead_pid}-x1y2", folder / f".ACTIVE.tmp-{dead_pid}",
             project / "scores" / f".scores-abc.tsv.tmp-{dead_pid}-k3"]
    live = folder / f".model-def.pt.tmp-{os.getpid()}-z9"
    for path in stale + [live]:
        path.write_bytes(b"PK\x03\x04 half a zip")
    before = versions(project)
    assert len(before) == 1  # the temporary files are not listed as versions
    assert sorted(remove_stale_temp_files(project)) == sorted(stale)
    assert live.exists() and versions(project) == before


def test_the_active_pointer_is_replaced_whole_even_by_concurrent_writers(labelled_project, tmp_path):
    """Two analysts switching versions at once in one app server (threads): ACTIVE is always one id."""
    project = Path(shutil.copytree(labelled_project, tmp_path / "tiny"))
    first = active_version(project)
    second = "0123456789ab"
    shutil.copy(project / "models" / f"model-{first}.pt", project / "models" / f"model-{second}.pt")
    errors, seen = [], set()

    def switch(version: str) -> None:
        try:
            for _ in range(200):
                set_active(project, version)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=switch, args=(v,)) for v in (first, second, first, second)]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        seen.add(active_version(project))
    for thread in threads:
        thread.join()
    assert errors == [] and seen <= {first, second}
    assert not [p for p in (project / "models").iterdir() if TEMP_PATTERN.fullmatch(p.name)]
