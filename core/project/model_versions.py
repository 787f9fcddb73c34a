"""Model versions of a project: ``PROJECT/models/model-<version>.pt`` plus the active one.

Retraining adds a version and never overwrites one, so every stored score or label can name the
model that produced it; ``ACTIVE`` (a one-line file) says which version the app and ``mualign
score`` use.

Crash safety. A training run can be killed at any moment (the analyst closes the app, the
machine runs out of memory), so storing a version is two atomic steps in a fixed order: the
checkpoint is written to a temporary file, synced and renamed to ``model-<version>.pt``; only
then is ``ACTIVE`` replaced the same way. A kill before the first rename leaves a
``.<name>.tmp-<pid>`` file, which :func:`versions` never lists and the next store removes; a kill
between the two leaves a complete but inactive version. ``ACTIVE`` therefore always names a
whole checkpoint (or is absent).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from core.formats.errors import DataError, Problem
from core.formats.textio import atomic_write_bytes, atomic_write_text

MODELS = "models"
ACTIVE = "ACTIVE"
#: What a version id may look like: a file-name part (the ids we write are 12 hex digits).
VERSION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: Temporary files of an interrupted write: ``.<name>.tmp-<pid>`` or ``.<name>.tmp-<pid>-<suffix>``.
TEMP_PATTERN = re.compile(r"\..+\.tmp-(\d+)(?:-[^/]*)?")


def model_path(project: str | Path, version: str) -> Path:
    return Path(project) / MODELS / f"model-{version}.pt"


def versions(project: str | Path) -> list[str]:
    """Stored versions, oldest first (by file time). Temporary files are never listed."""
    folder = Path(project) / MODELS
    if not folder.is_dir():
        return []
    stamped = []
    for path in folder.glob("model-*.pt"):
        try:
            stamped.append((path.stat().st_mtime, path.stem.removeprefix("model-")))
        except FileNotFoundError:  # removed while we listed
            continue
    return [version for _, version in sorted(stamped)]


def set_active(project: str | Path, version: str) -> None:
    """Make ``version`` the active one; replaces ``ACTIVE`` atomically (temp file, fsync, rename)."""
    if not VERSION_PATTERN.fullmatch(version or ""):
        raise ValueError(f"{version!r} is not a model version id")
    if not model_path(project, version).exists():
        raise FileNotFoundError(f"no model version {version!r} in {Path(project) / MODELS}; have {versions(project)}")
    atomic_write_text(Path(project) / MODELS / ACTIVE, version + "\n")


def active_version(project: str | Path) -> str | None:
    """The active version id, or None when no model has been stored.

    Raises
    ------
    DataError
        ``ACTIVE`` exists but does not hold a version id (edited by hand, or damaged).
    """
    path = Path(project) / MODELS / ACTIVE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        version = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        version = None
    if version is None or not VERSION_PATTERN.fullmatch(version):
        shown = raw[:40].decode("utf-8", errors="replace")
        raise DataError([Problem(str(path), 1, f"expected one model version id, found {shown!r}; "
                                               f"make a stored version active again (stored: {versions(project)})")])
    return version


def active_model_path(project: str | Path) -> Path:
    version = active_version(project)
    if version is None:
        raise FileNotFoundError(f"no trained model in {project}: run `mualign train --project {project}` first")
    return model_path(project, version)


def store_version(project: str | Path, scorer, *, train_config: dict, metrics: dict | None = None,
                  activate: bool = True) -> tuple[str, Path]:
    """Store the scorer's model as a new version and make it active; returns (version, path).

    The checkpoint is complete under its final name before ``ACTIVE`` points at it (see the
    module docstring), and temporary files left by killed runs are removed first. With
    ``activate=False`` the version is only stored (a retrain that must first prove it is better,
    see ``core.project.retrain.activation``).
    """
    from core.project.checkpoint import checkpoint_bytes

    remove_stale_temp_files(project)
    version, data = checkpoint_bytes(scorer, train_config=train_config, metrics=metrics)
    path = model_path(project, version)
    atomic_write_bytes(path, data)
    if activate:
        set_active(project, version)
    return version, path


#: Folders of a project whose files a killed run may leave half-written (score tables too).
TEMP_FOLDERS = (MODELS, "scores")


def remove_stale_temp_files(project: str | Path) -> list[Path]:
    """Delete temporary files in ``models/`` and ``scores/`` whose writing process is gone; returns them.

    A file whose process still runs is being written right now and is left alone.
    """
    removed = []
    for name in TEMP_FOLDERS:
        folder = Path(project) / name
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            match = TEMP_PATTERN.fullmatch(path.name)
            if match and path.is_file() and not _process_alive(int(match.group(1))):
                try:
                    path.unlink()
                    removed.append(path)
                except FileNotFoundError:
                    pass
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return pid > 0  # alive under another user; an absurd pid is not ours to judge
    return True
