"""A retrain that pauses at a chosen moment, so a test can SIGKILL it exactly there.

Used by ``tests/core/project/test_retrain_crash_safety.py``. The worker does what the review app's Retrain
page does (read the current labels from the label store, load the active model as "previous",
retrain on seed links plus labels, store and activate the new version, score the candidates),
or runs ``mualign train`` itself. Before it starts, :func:`install_pause` wraps ``os.fsync`` /
``os.replace`` or the training-step callback: at the chosen point it writes ``PAUSED <point>``
to an events file and sleeps, and the test kills it there. Wrapping ``os.fsync`` catches a
file after its bytes are written and before it is renamed into place; the ``torn`` points also
cut the temporary file to half its length first, which is what a kill in the middle of
``write()`` leaves on disk.

Pause points:

``step``              inside training (the first step of the second epoch)
``checkpoint-torn``   the checkpoint's temporary file, half written
``checkpoint-placed`` right after the checkpoint was renamed to ``model-<version>.pt``,
                      before ``ACTIVE`` is replaced
``active-torn``       ``ACTIVE``'s temporary file, half written
``scores-torn``       the new version's score table, half written (``ACTIVE`` already replaced)
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path

POINTS = ("step", "checkpoint-torn", "checkpoint-placed", "active-torn", "scores-torn")
PROJECT_KEY = "tiny"


def _signal(events: Path, line: str) -> None:
    with open(events, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _wait_to_be_killed(events: Path, point: str) -> None:
    _signal(events, f"PAUSED {point} {os.getpid()}")
    while True:
        time.sleep(60)


def install_pause(point: str | None, events: Path):
    """Wrap os.fsync / os.replace for ``point``; returns the on_step callback to pass to training."""
    if point is None:
        return None
    if point not in POINTS:
        raise ValueError(f"unknown pause point {point!r}; choose one of {POINTS}")
    real_fsync, real_replace = os.fsync, os.replace
    torn_prefix = {"checkpoint-torn": ".model-", "active-torn": ".ACTIVE.tmp-", "scores-torn": ".scores-"}

    def fsync(fd):
        try:
            name = Path(os.readlink(f"/proc/self/fd/{fd}")).name
        except OSError:
            name = ""
        if point in torn_prefix and name.startswith(torn_prefix[point]):
            os.ftruncate(fd, os.fstat(fd).st_size // 2)
            _wait_to_be_killed(events, point)
        return real_fsync(fd)

    def replace(src, dst, *args, **kwargs):
        result = real_replace(src, dst, *args, **kwargs)
        name = Path(dst).name
        if point == "checkpoint-placed" and name.startswith("model-") and name.endswith(".pt"):
            _wait_to_be_killed(events, point)
        return result

    os.fsync, os.replace = fsync, replace

    def on_step(step) -> None:
        if point == "step" and step.epoch == 2:
            _wait_to_be_killed(events, point)

    return on_step


def retrain_from_label_store(project: str, point: str | None, events: str, seed: int) -> None:
    """The Retrain page's work, with a pause installed; reports DONE or ERROR to ``events``."""
    events_path = Path(events)
    try:
        on_step = install_pause(point, events_path)
        from core.review.labels_as_links import AnalystLabel
        from core.project.checkpoint import load_scorer
        from core.project.model_versions import active_model_path, active_version
        from core.formats.native import load_candidates, load_project
        from core.project.retrain import retrain
        from core.project.score_table import stored_or_scored
        from core.training.loop import TrainConfig
        from db import current_labels, default_url, make_engine, make_sessionmaker
        from tests.support.broken_inputs import tiny_model_config

        dataset = load_project(project)
        candidates = load_candidates(dataset, project)
        engine = make_engine(default_url(project))
        with make_sessionmaker(engine).begin() as session:
            labels = [AnalystLabel(p.left_id, p.right_id, p.decision.value == "accept")
                      for p in current_labels(session, project=PROJECT_KEY) if p.decision.value in ("accept", "reject")]
        engine.dispose()
        previous, _ = load_scorer(active_model_path(project), dataset)
        previous_scores = stored_or_scored(project, dataset, candidates, previous, active_version(project))
        result = retrain(project, dataset, candidates, labels,
                         TrainConfig(epochs=2, seed=seed, max_steps_per_epoch=3), model_config=tiny_model_config(),
                         previous=previous, previous_scores=previous_scores, on_step=on_step,
                         always_activate=True)  # the path that writes ACTIVE, whose crash safety is tested
        _signal(events_path, f"DONE {result.version}")
    except BaseException:  # noqa: BLE001 - the parent must see why the worker stopped
        _signal(events_path, "ERROR " + traceback.format_exc().replace("\n", " | "))
        raise


def main(argv: list[str]) -> int:
    """``python -m tests.support.retrain_worker EVENTS POINT train --project ...``: ``mualign`` with a pause."""
    events, point, *cli_args = argv
    install_pause(None if point == "none" else point, Path(events))
    from cli.main import main as mualign

    status = mualign(cli_args)
    _signal(Path(events), f"DONE status {status}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
