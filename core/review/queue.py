"""Which candidate pair an analyst sees next.

The queue is the scored candidates minus what is already known: pairs with a current label and
the seed TRAIN links. Strategies, as in active-learning labelling tools:

- ``uncertain``: probability closest to the decision threshold first; the labels that teach the
  model most per click.
- ``highest``: best score first; fast confirmation of the obvious matches.
- ``random``: a seeded shuffle that does not change as labels are added; the only order that gives
  an unbiased gold sample for estimating precision.

Uncertain and highest look only at each left entity's ``max_rank`` best candidates: the 20th
candidate of an entity is rarely worth a click. Random looks at all of them.

At the paper's scale (13.6M candidates) ordering the queue takes seconds, and the app would do it
at every click. :class:`OrderedQueue` orders once (per model version, strategy and type) and then,
per click, only looks up the few decided pairs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

import numpy as np
import pandas as pd


class QueueStrategy(str, Enum):
    UNCERTAIN = "uncertain"
    HIGHEST = "highest"
    RANDOM = "random"

    @property
    def label(self) -> str:
        return {"uncertain": "Most uncertain first", "highest": "Highest score first",
                "random": "Random (unbiased sample)"}[self.value]


def pair_key(left_id, right_id) -> str:
    """One string per pair, for set lookups across the label store and the score table."""
    return f"{left_id}\x1f{right_id}"


def _frame_keys(frame: pd.DataFrame) -> pd.Series:
    """:func:`pair_key` of every row of a frame with ``left_id`` and ``right_id``, vectorised."""
    return frame["left_id"].astype(str) + "\x1f" + frame["right_id"].astype(str)


def keyed_in(frame: pd.DataFrame, keys) -> np.ndarray:
    """Whether each row's :func:`pair_key` is in the set ``keys``.

    A Python set lookup per row: on the 2.7M rows of a large project's table, with 590K seed
    links to leave out, 0.6 s where pandas' ``isin`` on its string column takes 2.8 s.
    """
    return _in_set(_frame_keys(frame).to_numpy(dtype=object), keys)


def _in_set(values: np.ndarray, keys) -> np.ndarray:
    """Whether each of ``values`` (pair keys) is in ``keys``, one set lookup each."""
    keys = keys if isinstance(keys, (set, frozenset)) else set(keys)
    return np.fromiter((value in keys for value in values), dtype=bool, count=len(values))


def seed_link_keys(dataset) -> set[str]:
    """:func:`pair_key` of the TRAIN links: pairs whose answer is already known."""
    from core.data.links import Split

    train = dataset.links.in_split(Split.TRAIN)
    return {pair_key(a, b) for a, b in zip(dataset.left.entity_ids[train.left], dataset.right.entity_ids[train.right])}


def review_queue(scores: pd.DataFrame, *, strategy: QueueStrategy, exclude: set[str] = frozenset(),
                 entity_type: str | None = None, threshold: float = 0.5, max_rank: int = 3,
                 seed: int = 0) -> pd.DataFrame:
    """The undecided candidates in review order.

    ``scores``: one row per candidate with ``left_id, right_id, type, score, rank`` and optionally
    ``probability`` (NaN or absent without a calibrated model; then ``score`` is compared with
    ``threshold``). ``exclude``: :func:`pair_key` of pairs not to show.
    """
    rows, _ = _queue_rows(scores, strategy=strategy, exclude=exclude, entity_type=entity_type, threshold=threshold,
                          max_rank=max_rank, seed=seed)
    return scores.iloc[rows].reset_index(drop=True)


def _queue_rows(scores: pd.DataFrame, *, strategy: QueueStrategy, exclude: set[str] = frozenset(),
                entity_type: str | None = None, threshold: float = 0.5, max_rank: int = 3,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """(table positions in review order, every row's pair key when they were computed).

    Positions, not a reordered frame: taking 2.7M rows of string columns costs more than the
    ordering itself. A stable sort of the whole table then filtered keeps the order that sorting
    the filtered rows gives (ties stay in table order either way).
    """
    strategy = QueueStrategy(strategy)
    n = len(scores)
    rows = np.random.default_rng(seed).permutation(n) if strategy is QueueStrategy.RANDOM else np.arange(n)
    keep = np.ones(n, dtype=bool)
    if entity_type is not None:
        keep &= (scores["type"] == entity_type).to_numpy(dtype=bool)
    if strategy is not QueueStrategy.RANDOM:
        keep &= scores["rank"].to_numpy() <= max_rank
    keys = None
    if exclude:
        keys = _frame_keys(scores).to_numpy(dtype=object)
        candidates = np.flatnonzero(keep)
        keep[candidates] = ~_in_set(keys[candidates], exclude)
    if strategy is QueueStrategy.HIGHEST:
        rows = sorted_positions(scores, ["score", "left_id", "right_id"], ascending=[False, True, True])
    elif strategy is QueueStrategy.UNCERTAIN:
        margin = (decision_value(scores) - threshold).abs()
        rows = sorted_positions(scores.assign(_margin=margin.to_numpy()), ["_margin", "left_id", "right_id"],
                                ascending=[True, True, True])
    return rows[keep[rows]], keys


def sorted_positions(frame: pd.DataFrame, columns: list[str], *, ascending: list[bool]) -> np.ndarray:
    """The positions ``frame.sort_values(columns, ascending=ascending, kind="stable")`` puts in order.

    Through Arrow's stable multi-key sort when it can: pandas factorizes every string column
    before sorting, which on the 2.7M-row table of a big project was 2.2 s of the app's opening,
    where Arrow takes 0.3 s for the same order (UTF-8 bytes sort as code points do). A key with
    NaN goes through pandas, which puts NaN last either way (Arrow puts it first when descending).
    """
    def by_pandas() -> np.ndarray:
        ordered = frame.reset_index(drop=True).sort_values(columns, ascending=ascending, kind="stable")
        return ordered.index.to_numpy()

    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # streamlit brings pyarrow; a core-only install may lack it
        return by_pandas()
    keys = {}
    for i, column in enumerate(columns):
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values):
            values = values.to_numpy(dtype=np.float64)
            if np.isnan(values).any():
                return by_pandas()
            keys[f"k{i}"] = pa.array(values)
            continue
        try:  # pandas' str columns are Arrow arrays already: no copy
            array = pa.array(values)
        except (pa.ArrowException, TypeError, ValueError):
            array = pa.array(values.astype(str).to_numpy(dtype=object), type=pa.large_string())
        if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)) or array.null_count:
            return by_pandas()
        keys[f"k{i}"] = array
    order = pc.sort_indices(pa.table(keys), sort_keys=[(f"k{i}", "ascending" if up else "descending")
                                                       for i, up in enumerate(ascending)])
    return order.to_numpy().astype(np.int64)


def decision_value(frame: pd.DataFrame) -> pd.Series:
    """The number compared with the threshold: the calibrated probability where there is one."""
    if "probability" in frame and frame["probability"].notna().all():
        return frame["probability"].astype(float)
    return frame["score"].astype(float)


def predicted_matches(frame: pd.DataFrame, threshold: float = 0.5) -> pd.Series:
    """Boolean per row: the matcher's decision where the table holds one, else the model's at ``threshold``.

    A table written from a matcher (issue 15) carries ``decided``: its threshold chosen on VALID,
    then the 1-to-1 step where a type is one-to-one, which a probability cut alone cannot say.
    """
    if "decided" in frame and frame["decided"].notna().all():
        return frame["decided"].astype(int) == 1
    return decision_value(frame) >= threshold


def changed_decisions(before: pd.DataFrame, after: pd.DataFrame, *, threshold: float = 0.5,
                      exclude: set[str] = frozenset()) -> pd.DataFrame:
    """Pairs scored by both models whose match/non-match decision flipped (labelled pairs excluded)."""
    columns = ["left_id", "right_id", "type"]
    a = before[columns].assign(before=predicted_matches(before, threshold).to_numpy(),
                               score_before=before["score"].to_numpy())
    b = after[columns].assign(after=predicted_matches(after, threshold).to_numpy(),
                              score_after=after["score"].to_numpy())
    both = a.merge(b, on=columns, how="inner")
    if exclude:
        both = both[~keyed_in(both, exclude)]
    return both[both["before"] != both["after"]].reset_index(drop=True)


@dataclass(frozen=True, eq=False)
class OrderedQueue:
    """A review queue ordered once; the pairs decided since are skipped when it is read.

    ``rows`` are positions in the score table, in review order; ``keys`` their :func:`pair_key`.
    """

    rows: np.ndarray
    keys: pd.Index

    @classmethod
    def build(cls, scores: pd.DataFrame, **options) -> "OrderedQueue":
        """:func:`review_queue` of ``scores`` (same options), kept as positions and keys."""
        rows, keys = _queue_rows(scores, **options)
        keys = _frame_keys(scores).to_numpy(dtype=object) if keys is None else keys
        return cls(rows, pd.Index(keys[rows], dtype=object))  # as objects: no 1 s conversion to Arrow strings

    def pending(self, decided: Iterable[str], n: int = 1) -> tuple[np.ndarray, int]:
        """Score-table positions of the first ``n`` pairs not in ``decided``, and how many are not.

        Costs O(len(decided)): the decided pairs are looked up, the queue is not scanned.
        """
        decided = list(decided)
        # no decision yet: the keys' hash table (built on the first lookup) is not needed either
        found = self.keys.get_indexer(decided) if len(self.keys) and decided else np.zeros(0, dtype=np.int64)
        found = np.unique(found[found >= 0])
        window = np.arange(min(len(self.rows), len(found) + n))
        first = window[~np.isin(window, found)][:n]
        return self.rows[first], len(self.rows) - len(found)
