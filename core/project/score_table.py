"""The score of every candidate pair under one model version, computed once and kept on disk.

The review queue, the search page and the retrain comparison all read this table. Scoring all
candidates of a project takes seconds to minutes, so the table is stored as ``scores.tsv``
(tagged with the model version) for the active model and as ``scores-<version>.tsv`` for the
others, and recomputed only when the version or the candidate set changes.

Without a trained model the table holds the name-only TF-IDF similarity (``model_version``
``name-tfidf``, no probability), so a fresh project can be reviewed before any training.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from core.data.candidates import CandidatePairs
from core.data.dataset import AlignmentDataset

NAME_ONLY = "name-tfidf"
COLUMNS = ["left_id", "right_id", "type", "name_score", "score", "distance", "probability", "rank", "model_version"]
#: Columns that must read back as numbers (``distance`` and ``probability`` may be blank: NaN).
NUMERIC_COLUMNS = ("name_score", "score", "distance", "probability", "rank")


def scores_path(project: str | Path, version: str) -> Path:
    return Path(project) / "scores" / f"scores-{version}.tsv"


def name_only_scores(dataset: AlignmentDataset, candidates: CandidatePairs) -> pd.DataFrame:
    """Name TF-IDF cosine of every candidate: the similarity blocking ranked them by."""
    frame = candidates.to_frame(dataset.left.entity_ids, dataset.right.entity_ids, dataset.schema.type_names)
    return _finish(frame, frame["name_score"].to_numpy(dtype=np.float64), None, None, NAME_ONLY)


def model_scores(dataset: AlignmentDataset, candidates: CandidatePairs, scorer, version: str) -> pd.DataFrame:
    """-distance, distance and calibrated probability of every candidate under ``scorer``."""
    frame = candidates.to_frame(dataset.left.entity_ids, dataset.right.entity_ids, dataset.schema.type_names)
    distance = scorer.distances(candidates.left, candidates.right)
    probability = scorer.probability_of_score(-distance) if scorer.calibration else None
    return _finish(frame, -distance, distance, probability, version)


def _finish(frame: pd.DataFrame, score: np.ndarray, distance, probability, version: str) -> pd.DataFrame:
    frame = frame.assign(score=np.round(score, 6),
                         distance=np.nan if distance is None else np.round(distance, 6),
                         probability=np.nan if probability is None else np.round(probability, 6))
    frame["rank"] = frame.groupby("left_id")["score"].rank(ascending=False, method="first").astype(int)
    frame["model_version"] = version
    return frame.sort_values(["type", "left_id", "rank"], kind="stable").reset_index(drop=True)[COLUMNS]


def read_scores(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype={"left_id": str, "right_id": str, "type": str, "model_version": str},
                       keep_default_na=False, na_values={"probability": [""], "distance": [""]})


def write_scores(frame: pd.DataFrame, path: Path) -> Path:
    from core.formats.textio import atomic_write_text

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, frame.to_csv(sep="\t", index=False, lineterminator="\n"))
    return path


def _same_pairs(frame: pd.DataFrame, dataset: AlignmentDataset, candidates: CandidatePairs) -> bool:
    """Whether a stored table covers exactly the current candidates (re-blocking changes them)."""
    if len(frame) != len(candidates):
        return False
    stored = frame["left_id"].astype(str) + "\x1f" + frame["right_id"].astype(str)
    current = (pd.Series(dataset.left.entity_ids[candidates.left]).astype(str) + "\x1f"
               + pd.Series(dataset.right.entity_ids[candidates.right]).astype(str))
    return bool(np.array_equal(np.sort(stored.to_numpy()), np.sort(current.to_numpy())))


def _numbers_throughout(frame: pd.DataFrame) -> bool:
    """Whether every score column holds numbers, and ``score`` and ``rank`` finite ones.

    A text cell (``abc`` typed into the file) makes pandas read its whole column as text, and a
    page formatting the score as a number would fail on it long after the file was read.
    """
    if not all(pd.api.types.is_numeric_dtype(frame[column]) for column in NUMERIC_COLUMNS):
        return False
    return bool(np.isfinite(frame[["score", "rank"]].to_numpy(dtype=np.float64)).all())


def stored_or_scored(project: str | Path, dataset: AlignmentDataset, candidates: CandidatePairs, scorer,
                     version: str) -> pd.DataFrame:
    """The stored table of ``version`` if it covers exactly these candidates, else score and store.

    The table is a cache of what the model computes: a stored file that cannot be read is
    replaced, never trusted and never an error.
    """
    path = scores_path(project, version)
    if path.exists():
        try:
            frame = read_scores(path)
            usable = (set(COLUMNS) <= set(frame.columns) and (frame["model_version"] == version).all()
                      and _numbers_throughout(frame) and _same_pairs(frame, dataset, candidates))
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError):
            usable = False  # a damaged cache file (cut by a crash, edited by hand): compute it anew
        if usable:
            return frame
    frame = model_scores(dataset, candidates, scorer, version)
    write_scores(frame, path)
    return frame
