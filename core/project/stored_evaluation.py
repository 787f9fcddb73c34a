"""A version's evaluation figures, kept so that ``mualign evaluate`` reads them instead of scoring again.

``mualign train`` evaluates the new version's matcher on TEST before it returns; ``mualign
evaluate`` then asked the very same scorer for the very same pairs, and to do so it started torch
and scikit-learn, loaded the checkpoint and the matcher, and scored the labelled pairs that
blocking did not propose (DBLP-ACM: 3.5 of the command's 4.2 CPU-seconds were imports). The
figures cannot have changed while the version, its graphs, links and candidates are the same.

So an evaluation of the matcher is *recorded*: :class:`RecordingScorer` wraps the real scorer
and keeps every pair the harness asked about with the probability (and the decision) it got.
A later evaluation of the same split *replays* them through :class:`StoredScorer`, which answers
those pairs only: the harness reads exactly the pairs it read before, so the report is the same,
number for number. The record is a cache entry (``.cache/evaluation-<version>-<split>``, the
project cache's format: content-hashed, never trusted when damaged) keyed by the version, the
split, the project's source files, the links and the candidates (digests of their arrays, so an
in-memory dataset with other links, as a retrain builds, never matches). Any pair the record
lacks raises :class:`NotStored`, and the caller scores from the model as before.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.data.candidates import CandidatePairs, pair_keys
from core.data.dataset import AlignmentDataset
from core.data.sets import locate

__all__ = ["NotStored", "RecordingScorer", "StoredScorer", "load_evaluation", "save_evaluation"]

_UNKNOWN = -1  # a pair whose probability was asked, but not its decision


class NotStored(KeyError):
    """A pair the record does not hold: the evaluation must be scored from the model."""


class RecordingScorer:
    """``scorer`` as the harness sees it, keeping every pair asked and what it got.

    Only ``score_pairs`` and ``match_scores`` are recorded (what :func:`~core.evaluation.harness.evaluate`
    and :func:`~core.project.lifecycle.decided_metrics` call); anything else goes to the scorer.
    """

    def __init__(self, scorer, n_right: int):
        self.scorer, self.n_right = scorer, int(n_right)
        self._keys: list[np.ndarray] = []
        self._probability: list[np.ndarray] = []
        self._decided: list[np.ndarray] = []

    def __getattr__(self, name):  # name, threshold, calibration, distances, ...
        return getattr(self.scorer, name)

    def _keep(self, left, right, probability, decided) -> None:
        self._keys.append(pair_keys(np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64), self.n_right))
        self._probability.append(np.asarray(probability, dtype=np.float64).copy())
        self._decided.append(decided)

    def score_pairs(self, left, right, types=None) -> np.ndarray:
        probability = self.scorer.score_pairs(left, right, types)
        self._keep(left, right, probability, np.full(len(probability), _UNKNOWN, dtype=np.int8))
        return probability

    def match_scores(self, left, right, types=None):
        scores = self.scorer.match_scores(left, right, types)
        self._keep(left, right, scores.probability, np.asarray(scores.decided).astype(np.int8))
        return scores

    def recorded(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(sorted distinct pair keys, probability, decided: 1, 0 or -1 where never asked)."""
        if not self._keys:
            return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=np.int8)
        keys, probability = np.concatenate(self._keys), np.concatenate(self._probability)
        decided = np.concatenate(self._decided)
        order = np.lexsort((-decided, keys))  # per key, a known decision first
        keys, probability, decided = keys[order], probability[order], decided[order]
        first = np.r_[True, keys[1:] != keys[:-1]] if len(keys) else np.zeros(0, dtype=bool)
        return keys[first], probability[first], decided[first]


@dataclass(frozen=True, eq=False)
class StoredDecisions:
    """What :meth:`StoredScorer.match_scores` gives: the recorded probability and decision of each pair."""

    probability: np.ndarray
    decided: np.ndarray


@dataclass(frozen=True, eq=False)
class StoredScorer:
    """A recorded evaluation replayed: the probability and decision of each pair it holds, nothing else."""

    name: str
    threshold: float
    n_right: int
    keys: np.ndarray  # sorted distinct pair keys
    probability: np.ndarray
    decided: np.ndarray  # 1, 0, or -1 (not recorded)

    def _rows(self, left, right) -> np.ndarray:
        keys = pair_keys(np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64), self.n_right)
        found, where = locate(self.keys, keys)
        if not found.all():
            raise NotStored(f"{int((~found).sum())} pairs were not part of the recorded evaluation")
        return where

    def score_pairs(self, left, right, types=None) -> np.ndarray:
        return self.probability[self._rows(left, right)]

    def match_scores(self, left, right, types=None) -> StoredDecisions:
        rows = self._rows(left, right)
        decided = self.decided[rows]
        if (decided == _UNKNOWN).any():
            raise NotStored(f"{int((decided == _UNKNOWN).sum())} pairs have no recorded decision")
        return StoredDecisions(self.probability[rows], decided.astype(bool))


def _stem(version: str, split) -> str:
    return f"evaluation-{version}-{getattr(split, 'value', split)}"


def _sources(project: str | Path, version: str, split, dataset: AlignmentDataset,
             candidates: CandidatePairs) -> dict | None:
    """What a record must have been made from; None for graphs not opened from a project's cache."""
    from core.features import FEATURE_STORES
    from core.project.cache import FeatureStore, arrays_digest

    store = FEATURE_STORES.get(dataset.left)
    if not isinstance(store, FeatureStore) or Path(store.directory).resolve() != Path(project).resolve():
        return None
    scorer = _scorer_digest(project, version)
    if scorer is None:
        return None
    links = dataset.links  # equal-length arrays one after another: the concatenation is unambiguous
    return {"graph": store.graph_digest, "version": str(version), "split": str(getattr(split, "value", split)),
            "scorer": scorer, "links": arrays_digest(links.left, links.right, links.type, links.label, links.split),
            "candidates": arrays_digest(candidates.left, candidates.right, candidates.type)}


def _scorer_digest(project: str | Path, version: str) -> str | None:
    """One hash of the version's checkpoint, matcher files and ``version.json`` (the labels it reads);
    None when it has no matcher: only a matcher's evaluation is recorded."""
    from core.project.cache import file_digest
    from core.project.model_versions import has_matcher, matcher_dir, model_path, version_dir

    if not has_matcher(project, version):
        return None
    files = [model_path(project, version), version_dir(project, version) / "version.json",
             *sorted(matcher_dir(project, version).iterdir())]
    try:
        return hashlib.sha256("|".join(f"{f.name}:{file_digest(f)}" for f in files).encode("utf-8")).hexdigest()
    except OSError:
        return None


def save_evaluation(project: str | Path, version: str, split, dataset: AlignmentDataset, candidates: CandidatePairs,
                    recording: RecordingScorer) -> bool:
    """Keep what ``recording`` saw (after a whole evaluation) as ``version``'s record of ``split``.

    False when nothing was written (graphs not from this project's cache, a read-only project).
    """
    from core.project.cache import CACHE_DIR, write_entry

    sources = _sources(project, version, split, dataset, candidates)
    if sources is None:
        return False
    keys, probability, decided = recording.recorded()
    return write_entry(Path(project) / CACHE_DIR, _stem(version, split),
                       {"keys": keys, "probability": probability, "decided": decided},
                       {"sources": sources, "name": str(recording.name), "threshold": float(recording.threshold)})


def load_evaluation(project: str | Path, version: str, split, dataset: AlignmentDataset,
                    candidates: CandidatePairs) -> StoredScorer | None:
    """``version``'s record of ``split`` as a scorer, or None when there is none it can be trusted for."""
    from core.project.cache import CACHE_DIR, read_entry

    sources = _sources(project, version, split, dataset, candidates)
    if sources is None:
        return None
    arrays, manifest = read_entry(Path(project) / CACHE_DIR, _stem(version, split), sources)
    if arrays is None:
        return None
    try:
        keys, probability, decided = arrays["keys"], arrays["probability"], arrays["decided"]
        if not (len(keys) == len(probability) == len(decided)) or (len(keys) > 1 and (np.diff(keys) <= 0).any()):
            return None
        return StoredScorer(str(manifest["name"]), float(manifest["threshold"]), dataset.right.n_entities,
                            keys, probability, decided)
    except (KeyError, TypeError, ValueError):
        return None
