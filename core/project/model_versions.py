"""Model versions of a project: ``PROJECT/models/model-<version>.pt`` plus the active one.

A version is the GNN checkpoint and, since issue 15, the matcher fitted over its distances, kept in
the version's directory ``PROJECT/models/<version>/matcher/`` (``core.matching.matcher.MATCHER_DIR``)
with ``version.json`` beside it (how it was fitted, which analyst labels it read). A quick refit of
the matcher from labels keeps the GNN and makes a *matcher revision*: a version id
``<gnn version>.m<N>`` whose directory holds the new matcher and whose checkpoint is the GNN's
(:func:`model_path` strips the revision). Versions stored before the matcher have no directory;
they still load and score with the model's calibrated probability (:func:`has_matcher`). A version's
directory may also hold ``evidence.npz`` (:func:`evidence_path`): every candidate's feature block,
a cache that makes the quick refit take seconds (``core.matching.refit``); a revision shares its
version's file (a hard link).

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

import json
import os
import re
import shutil
from pathlib import Path

from core.formats.errors import DataError, Problem
from core.formats.textio import atomic_write_bytes, atomic_write_text

MODELS = "models"
ACTIVE = "ACTIVE"
#: What a version id may look like: a file-name part (the ids we write are 12 hex digits).
VERSION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: Temporary files of an interrupted write: ``.<name>.tmp-<pid>`` or ``.<name>.tmp-<pid>-<suffix>``.
TEMP_PATTERN = re.compile(r"\..+\.tmp-(\d+)(?:-[^/]*)?")


#: A matcher revision's id: the GNN version, ``.m`` and the revision number (``3f2a...9c.m2``).
REVISION_PATTERN = re.compile(r"(?P<gnn>[A-Za-z0-9][A-Za-z0-9_-]{0,56})\.m(?P<revision>[1-9][0-9]{0,5})")
MATCHER_DIR = "matcher"  # = core.matching.matcher.MATCHER_DIR (not imported: this module stays light)
VERSION_INFO = "version.json"


def gnn_version(version: str) -> str:
    """The GNN checkpoint a version uses: itself, or the version a matcher revision was refitted on.

    >>> gnn_version("0a1b2c3d4e5f.m2"), gnn_version("0a1b2c3d4e5f")
    ('0a1b2c3d4e5f', '0a1b2c3d4e5f')
    """
    match = REVISION_PATTERN.fullmatch(version)
    return match.group("gnn") if match else version


def model_path(project: str | Path, version: str) -> Path:
    """The GNN checkpoint of ``version`` (a matcher revision shares its GNN's checkpoint)."""
    return Path(project) / MODELS / f"model-{gnn_version(version)}.pt"


def version_dir(project: str | Path, version: str) -> Path:
    """The directory that holds ``version``'s matcher and ``version.json`` (absent for old versions)."""
    return Path(project) / MODELS / version


def matcher_dir(project: str | Path, version: str) -> Path:
    return version_dir(project, version) / MATCHER_DIR


def evidence_path(project: str | Path, version: str) -> Path:
    """The version's cached evidence for quick refits (``core.matching.refit``; absent until the first)."""
    return version_dir(project, version) / "evidence.npz"


def has_matcher(project: str | Path, version: str) -> bool:
    """Whether ``version`` carries a fitted matcher (versions stored before issue 15 do not)."""
    return (matcher_dir(project, version) / "matcher.json").is_file()


def version_info(project: str | Path, version: str) -> dict:
    """``version.json`` of a version's directory ({} when there is none or it cannot be read).

    It only describes the version (fit time, labels read, validation figures); a damaged file
    loses the description, never the version.
    """
    try:
        data = json.loads((version_dir(project, version) / VERSION_INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def versions(project: str | Path) -> list[str]:
    """Stored versions, oldest first (by file time): checkpoints, then matcher revisions of them.

    Temporary files are never listed, nor a revision whose GNN checkpoint is gone.
    """
    folder = Path(project) / MODELS
    if not folder.is_dir():
        return []
    stamped = []
    for path in folder.glob("model-*.pt"):
        try:
            stamped.append((path.stat().st_mtime, path.stem.removeprefix("model-")))
        except FileNotFoundError:  # removed while we listed
            continue
    for path in folder.glob("*.m*"):
        if REVISION_PATTERN.fullmatch(path.name) and has_matcher(project, path.name) \
                and model_path(project, path.name).exists():
            try:
                stamped.append((path.stat().st_mtime, path.name))
            except FileNotFoundError:
                continue
    return [version for _, version in sorted(stamped)]


def next_revision(project: str | Path, version: str) -> str:
    """A new matcher revision id for ``version``'s GNN (``<gnn>.m<N>``, N one above the highest)."""
    gnn = gnn_version(version)
    taken = [int(m.group("revision")) for p in (Path(project) / MODELS).glob(f"{gnn}.m*")
             if (m := REVISION_PATTERN.fullmatch(p.name)) and m.group("gnn") == gnn]
    return f"{gnn}.m{max(taken, default=0) + 1}"


def store_matcher(project: str | Path, version: str, matcher, *, info: dict) -> Path:
    """Write ``matcher`` and ``info`` as ``models/<version>/`` in one atomic step; returns the directory.

    The directory is written under a temporary name and renamed, so a killed run leaves either
    no matcher or a whole one (the temporary directory is cleared by
    :func:`remove_stale_temp_files`); a directory of the same version already there (the same
    checkpoint trained again) is replaced.
    """
    folder = Path(project) / MODELS
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{version}.tmp-{os.getpid()}-{os.urandom(4).hex()}"
    temporary.mkdir()
    try:
        matcher.save(temporary / MATCHER_DIR)
        (temporary / VERSION_INFO).write_text(json.dumps(info, indent=2, default=str) + "\n", encoding="utf-8")
        final = version_dir(project, version)
        if final.exists():
            old = folder / f".{version}.tmp-{os.getpid()}-old"
            final.rename(old)
            temporary.rename(final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            temporary.rename(final)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return final


def set_active(project: str | Path, version: str) -> None:
    """Make ``version`` the active one; replaces ``ACTIVE`` atomically (temp file, fsync, rename)."""
    if not VERSION_PATTERN.fullmatch(version or ""):
        raise ValueError(f"{version!r} is not a model version id")
    if not model_path(project, version).exists() or (REVISION_PATTERN.fullmatch(version)
                                                     and not has_matcher(project, version)):
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
                  activate: bool = True, matcher=None, matcher_info: dict | None = None) -> tuple[str, Path]:
    """Store the scorer's model (and its matcher) as a new version and make it active; returns (version, path).

    The checkpoint and the matcher's directory are complete under their final names before
    ``ACTIVE`` points at the version (see the module docstring), and temporary files left by
    killed runs are removed first. With ``activate=False`` the version is only stored (a retrain
    that must first prove it is better, see ``core.project.retrain.activation``).
    """
    from core.project.checkpoint import checkpoint_bytes

    remove_stale_temp_files(project)
    version, data = checkpoint_bytes(scorer, train_config=train_config, metrics=metrics)
    path = model_path(project, version)
    atomic_write_bytes(path, data)
    if matcher is not None:
        store_matcher(project, version, matcher, info={"gnn_version": version, "revision": 0,
                                                       **(matcher_info or {})})
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
            if match and not _process_alive(int(match.group(1))):
                try:
                    if path.is_dir():  # a matcher directory whose writing was cut (store_matcher)
                        shutil.rmtree(path)
                    else:
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
