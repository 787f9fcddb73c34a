"""Model versions of a project: ``PROJECT/models/model-<version>.pt`` plus the active one.

Retraining adds a version and never overwrites one, so every stored score or label can name the
model that produced it; ``ACTIVE`` (a one-line file, replaced atomically) says which version the
app and ``mualign score`` use.
"""

from __future__ import annotations

from pathlib import Path

from core.textio import atomic_write_text

MODELS = "models"
ACTIVE = "ACTIVE"


def model_path(project: str | Path, version: str) -> Path:
    return Path(project) / MODELS / f"model-{version}.pt"


def versions(project: str | Path) -> list[str]:
    """Stored versions, oldest first (by file time)."""
    folder = Path(project) / MODELS
    files = sorted(folder.glob("model-*.pt"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
    return [p.stem.removeprefix("model-") for p in files]


def set_active(project: str | Path, version: str) -> None:
    if not model_path(project, version).exists():
        raise FileNotFoundError(f"no model version {version!r} in {Path(project) / MODELS}; have {versions(project)}")
    atomic_write_text(Path(project) / MODELS / ACTIVE, version + "\n")


def active_version(project: str | Path) -> str | None:
    path = Path(project) / MODELS / ACTIVE
    return path.read_text(encoding="utf-8").strip() if path.exists() else None


def active_model_path(project: str | Path) -> Path:
    version = active_version(project)
    if version is None:
        raise FileNotFoundError(f"no trained model in {project}: run `mualign train --project {project}` first")
    return model_path(project, version)
