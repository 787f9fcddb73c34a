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
    keys = keys if isinstance(keys, (set, frozenset)) else set(keys)
    values = _frame_keys(frame).to_numpy(dtype=object)
    return np.fromiter((key in keys for key in values), dtype=bool, count=len(values))


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
    strategy = QueueStrategy(strategy)
    frame = scores
    if strategy is QueueStrategy.RANDOM:
        order = np.random.default_rng(seed).permutation(len(frame))
        frame = frame.iloc[order]
    if entity_type is not None:
        frame = frame[frame["type"] == entity_type]
    if strategy is not QueueStrategy.RANDOM:
        frame = frame[frame["rank"] <= max_rank]
    if exclude:
        frame = frame[~keyed_in(frame, exclude)]
    if strategy is QueueStrategy.HIGHEST:
        frame = frame.sort_values(["score", "left_id", "right_id"], ascending=[False, True, True], kind="stable")
    elif strategy is QueueStrategy.UNCERTAIN:
        margin = (decision_value(frame) - threshold).abs()
        frame = frame.assign(_margin=margin).sort_values(["_margin", "left_id", "right_id"], kind="stable")
        frame = frame.drop(columns="_margin")
    return frame.reset_index(drop=True)


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
        ordered = review_queue(scores.assign(_row=np.arange(len(scores))), **options)
        return cls(ordered["_row"].to_numpy(), pd.Index(_frame_keys(ordered)))

    def pending(self, decided: Iterable[str], n: int = 1) -> tuple[np.ndarray, int]:
        """Score-table positions of the first ``n`` pairs not in ``decided``, and how many are not.

        Costs O(len(decided)): the decided pairs are looked up, the queue is not scanned.
        """
        found = self.keys.get_indexer(list(decided)) if len(self.keys) else np.zeros(0, dtype=np.int64)
        found = np.unique(found[found >= 0])
        window = np.arange(min(len(self.rows), len(found) + n))
        first = window[~np.isin(window, found)][:n]
        return self.rows[first], len(self.rows) - len(found)
