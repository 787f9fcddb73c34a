"""The score of every candidate pair under one model version, computed once and kept on disk.

The review queue, the search page and the retrain comparison all read this table. Scoring all
candidates of a project takes seconds to minutes, so the table is stored as ``scores.tsv``
(tagged with the model version) for the active model and as ``scores-<version>.tsv`` for the
others, and recomputed only when the version or the candidate set changes.

Without a trained model the table holds the name-only TF-IDF similarity (``model_version``
``name-tfidf``, no probability), so a fresh project can be reviewed before any training.

A model version with a matcher (issue 15) fills the table from the matcher: ``probability`` is
its calibrated match probability, ``score`` its log-odds (what ``rank`` orders by), ``distance``
still the GNN's, and four more kinds of columns follow the nine above: ``decided`` (1 where the
matcher decides a match: its threshold, then the 1-to-1 step where it applies), ``baseline`` (the
log-odds before any evidence) and one ``contribution:<group>`` per comparison group, which add up
with ``baseline`` to ``score`` (the waterfall the review page and ``mualign explain`` draw). A
version without a matcher writes the nine columns as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from core.data.candidates import CandidatePairs, pair_keys
from core.data.dataset import AlignmentDataset
from core.explanations.waterfall import Waterfall, build_waterfall

NAME_ONLY = "name-tfidf"
COLUMNS = ["left_id", "right_id", "type", "name_score", "score", "distance", "probability", "rank", "model_version"]
#: Columns that must read back as numbers (``distance`` and ``probability`` may be blank: NaN).
NUMERIC_COLUMNS = ("name_score", "score", "distance", "probability", "rank")
#: The matcher's columns (after COLUMNS); ``contribution:<group>`` columns follow them.
DECIDED, BASELINE, CONTRIBUTION = "decided", "baseline", "contribution:"


def scores_path(project: str | Path, version: str) -> Path:
    return Path(project) / "scores" / f"scores-{version}.tsv"


def name_only_scores(dataset: AlignmentDataset, candidates: CandidatePairs) -> pd.DataFrame:
    """Name TF-IDF cosine of every candidate: the similarity blocking ranked them by."""
    frame = candidates.to_frame(dataset.left.entity_ids, dataset.right.entity_ids, dataset.schema.type_names)
    return _finish(frame, frame["name_score"].to_numpy(dtype=np.float64), None, None, NAME_ONLY)


def model_scores(dataset: AlignmentDataset, candidates: CandidatePairs, scorer, version: str) -> pd.DataFrame:
    """Every candidate under ``scorer``: the matcher's figures (a ``MatcherScorer``), else the model's.

    The model's: -distance, distance and calibrated probability.
    """
    frame = candidates.to_frame(dataset.left.entity_ids, dataset.right.entity_ids, dataset.schema.type_names)
    distance = scorer.distances(candidates.left, candidates.right)
    if hasattr(scorer, "all_candidates"):
        matched = scorer.all_candidates()
        extra = {DECIDED: np.asarray(matched.decided).astype(np.int8),
                 BASELINE: np.full(len(frame), round(float(matched.baseline), 6))}
        contributions = np.asarray(matched.contributions, dtype=np.float64).reshape(len(frame), -1)
        for j, group in enumerate(matched.group_names):
            extra[CONTRIBUTION + group] = np.round(contributions[:, j], 6)
        return _finish(frame.assign(**extra), np.asarray(matched.log_odds, dtype=np.float64), distance,
                       np.asarray(matched.probability, dtype=np.float64), version, extra=list(extra))
    probability = scorer.probability_of_score(-distance) if scorer.calibration else None
    return _finish(frame, -distance, distance, probability, version)


def _finish(frame: pd.DataFrame, score: np.ndarray, distance, probability, version: str,
            extra: list[str] = ()) -> pd.DataFrame:
    # The distance keeps the model's float32 precision (written as float32's shortest text, which reads
    # back to the same float32): a quick refit of the matcher reads it from this table instead of
    # running the GNN, and must see the numbers a fresh scoring would give (rounded ones can move a
    # pair across one of the matcher's tree splits).
    # Score and probability are float64 (a float32 -distance is widened first), as read_scores reads them.
    frame = frame.assign(score=np.round(np.asarray(score, dtype=np.float64), 6),
                         distance=np.nan if distance is None else np.asarray(distance, dtype=np.float32),
                         probability=np.nan if probability is None
                         else np.round(np.asarray(probability, dtype=np.float64), 6))
    frame["rank"] = frame.groupby("left_id")["score"].rank(ascending=False, method="first").astype(int)
    frame["model_version"] = version
    return frame.sort_values(["type", "left_id", "rank"], kind="stable").reset_index(drop=True)[COLUMNS + list(extra)]


def has_matcher_columns(frame: pd.DataFrame) -> bool:
    """Whether a score table was written from a matcher (decisions and contributions present)."""
    return DECIDED in frame.columns and BASELINE in frame.columns


def contribution_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c.startswith(CONTRIBUTION)]


def decided_pairs(frame: pd.DataFrame) -> pd.DataFrame:
    """The pairs the scores decide are matches: the matcher's ``decided`` column, else probability >= 0.5.

    A table without probabilities (name similarity only) decides nothing.
    """
    if has_matcher_columns(frame):
        return frame[frame[DECIDED].astype(int) == 1].reset_index(drop=True)
    if "probability" in frame and frame["probability"].notna().all() and len(frame):
        return frame[frame["probability"] >= 0.5].reset_index(drop=True)
    return frame.iloc[0:0]


def read_scores(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, sep="\t", dtype={"left_id": str, "right_id": str, "type": str, "model_version": str},
                        keep_default_na=False, na_values={"probability": [""], "distance": [""]})
    # A column of whole numbers (every contribution of a group 0) may be written as "0": read it as the float it is.
    for column in [*("name_score", "score", "distance", "probability", BASELINE), *contribution_columns(frame)]:
        if column in frame and pd.api.types.is_integer_dtype(frame[column]):
            frame[column] = frame[column].astype(np.float64)
    # The distance was written as float32's shortest text: read back as float32 it is bit-identical to
    # what model_scores computed, so a table read from the cache has the dtype of one freshly scored.
    if "distance" in frame and pd.api.types.is_float_dtype(frame["distance"]):
        frame["distance"] = frame["distance"].astype(np.float32)
    return frame


def write_scores(frame: pd.DataFrame, path: Path) -> Path:
    """Write the table as TSV in one atomic step (:func:`core.formats.textio.atomic_write_tsv`)."""
    from core.formats.textio import atomic_write_tsv

    atomic_write_tsv(path, frame)
    return path


def _same_pairs(frame: pd.DataFrame, dataset: AlignmentDataset, candidates: CandidatePairs) -> bool:
    """Whether a stored table covers exactly the current candidates (re-blocking changes them)."""
    if len(frame) != len(candidates):
        return False
    # ids to indices (one hash lookup each), then sorted integer pair keys: on the 2.7M-pair table of
    # a large project this is seconds faster than joining and sorting the id strings
    left = dataset.left.indices_of(frame["left_id"].astype(str).to_numpy(dtype=object))
    right = dataset.right.indices_of(frame["right_id"].astype(str).to_numpy(dtype=object))
    if (left < 0).any() or (right < 0).any():
        return False  # an id the graphs do not hold: the table is of another project
    n_right = dataset.right.n_entities
    return bool(np.array_equal(np.sort(pair_keys(left, right, n_right)), np.sort(candidates.pair_keys(n_right))))


def _numbers_throughout(frame: pd.DataFrame) -> bool:
    """Whether every score column holds numbers, and ``score`` and ``rank`` finite ones.

    A text cell (``abc`` typed into the file) makes pandas read its whole column as text, and a
    page formatting the score as a number would fail on it long after the file was read.
    """
    if not all(pd.api.types.is_numeric_dtype(frame[column]) for column in NUMERIC_COLUMNS):
        return False
    return bool(np.isfinite(frame[["score", "rank"]].to_numpy(dtype=np.float64)).all())


def _matcher_columns_fit(frame: pd.DataFrame, matcher: bool) -> bool:
    """A matcher's table must hold its numeric columns; a bare model's table must not claim them."""
    if not matcher:
        return not has_matcher_columns(frame)
    columns = [DECIDED, BASELINE, *contribution_columns(frame)]
    return (has_matcher_columns(frame) and len(columns) > 2
            and all(pd.api.types.is_numeric_dtype(frame[c]) for c in columns)
            and bool(np.isfinite(frame[columns].to_numpy(dtype=np.float64)).all()))


def current_scores(project: str | Path, version: str, dataset: AlignmentDataset, candidates: CandidatePairs, *,
                   matcher: bool) -> pd.DataFrame | None:
    """The stored table of ``version`` if it covers exactly these candidates, else None.

    ``matcher``: whether the version scores with a matcher (its table must then carry the
    matcher's columns). The table is a cache of what the model computes: a file that cannot be
    read, or that holds another version's or another blocking's pairs, is never trusted. A
    binary copy keyed by the TSV's, the candidates' and the graphs' content is read instead of
    the TSV when it is fresh (it was written from a table that passed these checks).
    """
    path = scores_path(project, version)
    if not path.exists():
        return None
    key = _binary_key(path, dataset, candidates)
    frame = _read_binary(project, version, key) if key is not None else None
    if frame is not None:  # the same table as the TSV, already checked: only the kind of version is left
        return frame if _matcher_columns_fit(frame, matcher) else None
    try:
        frame = read_scores(path)
        usable = (set(COLUMNS) <= set(frame.columns) and (frame["model_version"] == version).all()
                  and _numbers_throughout(frame) and _same_pairs(frame, dataset, candidates)
                  and _matcher_columns_fit(frame, matcher))
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError):
        usable = False  # a damaged cache file (cut by a crash, edited by hand): compute it anew
    if usable and key is not None:
        _write_binary(project, version, key, frame)
    return frame if usable else None


def store_scores(frame: pd.DataFrame, project: str | Path, version: str, dataset: AlignmentDataset,
                 candidates: CandidatePairs) -> Path:
    """Write ``version``'s table (``frame``, scored over ``candidates``) and its binary copy.

    The binary copy holds the table as :func:`read_scores` reads the TSV back, so both give the same
    numbers: the frame with read_scores' dtypes (:func:`as_read_back`; the values survive the text
    exactly: floats are written as their shortest round-trip text). Reading the file back instead
    cost 11 s and gigabytes of memory on a 26.4M-row table.
    """
    path = write_scores(frame, scores_path(project, version))
    key = _binary_key(path, dataset, candidates)
    if key is not None:
        _write_binary(project, version, key, as_read_back(frame))
    return path


#: Columns :func:`read_scores` reads as float64 even when every value is a whole number.
_FLOAT_COLUMNS = ("name_score", "score", "distance", "probability", BASELINE)


def as_read_back(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the dtypes :func:`read_scores` gives the TSV :func:`write_scores` writes from it.

    Text columns as ``str``, ``distance`` as float32, the float columns and every contribution as
    float64, other whole numbers (``rank``, ``decided``) as int64. The values are unchanged: the
    table's floats are rounded to 6 decimals or float32 before writing, and their shortest text
    reads back to the same number.
    """
    columns = {}
    for name in frame.columns:
        values = frame[name]
        if name == "distance":
            columns[name] = values.astype(np.float32)
        elif name in _FLOAT_COLUMNS or name.startswith(CONTRIBUTION) or pd.api.types.is_float_dtype(values):
            columns[name] = values.astype(np.float64)
        elif pd.api.types.is_integer_dtype(values) or pd.api.types.is_bool_dtype(values):
            columns[name] = values.astype(np.int64)
        else:
            columns[name] = values.astype("str")
    return pd.DataFrame(columns, index=pd.RangeIndex(len(frame)))


#: Text columns stored as codes into a short list (a type, a version), not one string per row.
_CODED_COLUMNS = ("type", "model_version")


def _binary_key(path: Path, dataset: AlignmentDataset, candidates: CandidatePairs) -> dict | None:
    """What a binary copy must have been written from; None for graphs not opened from a project's cache."""
    from core.features import FEATURE_STORES
    from core.project.cache import FeatureStore, arrays_digest, file_digest

    store = FEATURE_STORES.get(dataset.left)
    if not isinstance(store, FeatureStore):
        return None
    return {"graph": store.graph_digest, "candidates": arrays_digest(candidates.left, candidates.right, candidates.type),
            "table": file_digest(path)}


def _write_binary(project: str | Path, version: str, key: dict, frame: pd.DataFrame) -> None:
    from core.project.cache import CACHE_DIR, encode_strings, write_entry

    arrays, columns = {}, []
    for j, name in enumerate(frame.columns):
        values = frame[name]
        if name in _CODED_COLUMNS:
            codes, distinct = pd.factorize(values.astype(str))
            arrays[f"c{j}"] = codes.astype(np.int32)
            columns.append({"name": name, "kind": "coded", "values": [str(v) for v in distinct]})
        elif pd.api.types.is_numeric_dtype(values):
            arrays[f"c{j}"] = values.to_numpy()
            columns.append({"name": name, "kind": "number"})
        else:
            arrays[f"c{j}"] = encode_strings(values.astype(str).to_numpy(dtype=object))
            columns.append({"name": name, "kind": "text"})
    write_entry(Path(project) / CACHE_DIR, f"scores-{version}", arrays,
                {"sources": key, "rows": len(frame), "columns": columns})


def _read_binary(project: str | Path, version: str, key: dict) -> pd.DataFrame | None:
    """The binary copy as the frame :func:`read_scores` gave when it was written, or None if not fresh."""
    from core.project.cache import CACHE_DIR, decode_strings, read_entry

    arrays, manifest = read_entry(Path(project) / CACHE_DIR, f"scores-{version}", key)
    if arrays is None:
        return None
    try:
        n, data = int(manifest["rows"]), {}
        for j, column in enumerate(manifest["columns"]):
            raw = arrays[f"c{j}"]
            if column["kind"] == "coded":
                values = np.asarray(column["values"], dtype=object)
                if len(raw) != n or (len(raw) and (raw.min() < 0 or raw.max() >= len(values))):
                    return None
                data[column["name"]] = pd.Series(values[raw], dtype="str")
            elif column["kind"] == "text":
                data[column["name"]] = pd.Series(decode_strings(raw, n), dtype="str")
            elif len(raw) == n:
                data[column["name"]] = raw
            else:
                return None
        frame = pd.DataFrame(data)
    except (KeyError, ValueError, TypeError):
        return None
    usable = set(COLUMNS) <= set(frame.columns) and (frame["model_version"] == version).all()
    return frame if usable else None


def stored_or_scored(project: str | Path, dataset: AlignmentDataset, candidates: CandidatePairs, scorer,
                     version: str) -> pd.DataFrame:
    """The stored table of ``version`` if it covers exactly these candidates, else score and store."""
    frame = current_scores(project, version, dataset, candidates, matcher=hasattr(scorer, "all_candidates"))
    if frame is not None:
        return frame
    frame = model_scores(dataset, candidates, scorer, version)
    store_scores(frame, project, version, dataset, candidates)
    return frame


def waterfall_of_row(row: Mapping, *, threshold: float | None = None) -> Waterfall | None:
    """The waterfall of one score-table row (a row of this table), or None without a matcher.

    The row's ``score`` is the matcher's log-odds and ``probability`` its probability; rounding to
    six decimals in the stored table keeps the parts within about 1e-5 of the total.
    """
    keys = list(row.keys())
    if BASELINE not in keys:
        return None
    groups = [k.removeprefix(CONTRIBUTION) for k in keys if str(k).startswith(CONTRIBUTION)]
    values = [row[CONTRIBUTION + g] for g in groups]
    decided = row.get(DECIDED)
    return build_waterfall(float(row[BASELINE]), groups, values, log_odds=float(row["score"]),
                           probability=float(row["probability"]),
                           decided=None if decided is None else bool(int(decided)), threshold=threshold)
