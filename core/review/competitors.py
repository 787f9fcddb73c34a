"""The other candidates of the pair on screen, and "this one matches" as one decision.

An analyst judging (film f1, movie m10) is really choosing among f1's candidates: m10, m11, m12.
Seeing them side by side with their probabilities turns a yes/no on one pair into a pick among a
few, which is faster and catches the case where the model ranked the right answer second
(Splink's comparison viewer and dedupe's labelling loop show the same). So for a pair we list:

- the candidates of its **left** entity (each a different right entity), and
- the candidates of its **right** entity (each a different left entity),

each with the other entity's name, the model's probability (or score) and its current label.

Picking one of them ("this one matches") is one analyst action: the chosen pair is accepted and,
when the type is one-to-one (an entity matches at most one entity on the other side), every other
candidate of the same entity is rejected. :func:`this_one_matches` returns those decisions; the
page records them as one batch in the label store, so a single undo takes the whole pick back.

:class:`CandidateIndex` finds an entity's candidates in O(its candidates), not by scanning the
score table (13.6M rows at the paper's scale).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.data.dataset import AlignmentDataset
from core.data.sets import unique

SIDES = ("left", "right")


@dataclass(frozen=True)
class Candidate:
    """One candidate pair of an entity, as the competitor list shows it.

    ``other_id``/``other_name`` are the entity on the far side from the one whose candidates these
    are (the right entity for the left entity's list). ``probability`` is ``None`` without a
    calibrated model; ``label`` is the pair's current decision (``accept``/``reject``/``skip``)
    or ``None``; ``on_screen`` marks the pair the analyst is looking at.
    """

    left_id: str
    right_id: str
    type: str
    other_id: str
    other_name: str
    score: float
    probability: float | None
    rank: int
    label: str | None = None
    on_screen: bool = False

    @property
    def pair(self) -> tuple[str, str]:
        return self.left_id, self.right_id


@dataclass(frozen=True)
class Competitors:
    """Both entities' candidate lists for the pair on screen, best first, the pair itself included."""

    left_id: str
    right_id: str
    type: str
    of_left: tuple[Candidate, ...]  # the left entity's candidates (one per right entity)
    of_right: tuple[Candidate, ...]  # the right entity's candidates (one per left entity)

    def side(self, side: str) -> tuple[Candidate, ...]:
        if side not in SIDES:
            raise ValueError(f"side must be 'left' or 'right', got {side!r}")
        return self.of_left if side == "left" else self.of_right

    @property
    def has_competition(self) -> bool:
        """True when either entity has a candidate other than the pair on screen."""
        return len(self.of_left) > 1 or len(self.of_right) > 1


@dataclass(frozen=True)
class PairDecision:
    """One decision to record (the page turns these into a label-store batch)."""

    left_id: str
    right_id: str
    type: str
    decision: str  # "accept" or "reject"
    score: float | None


@dataclass(frozen=True, eq=False)
class CandidateIndex:
    """Row positions of each entity's candidates in a score table (built once per table)."""

    scores: pd.DataFrame
    by_left: "RowsById"
    by_right: "RowsById"

    @classmethod
    def build(cls, scores: pd.DataFrame) -> CandidateIndex:
        """Index ``scores`` (columns ``left_id, right_id, type, score, rank`` and optionally ``probability``)."""
        scores = scores.reset_index(drop=True)
        return cls(scores, _positions(scores["left_id"]), _positions(scores["right_id"]))

    def rows_of(self, side: str, entity_id: str) -> pd.DataFrame:
        """The score-table rows of one entity's candidates (empty if it has none)."""
        if side not in SIDES:
            raise ValueError(f"side must be 'left' or 'right', got {side!r}")
        found = (self.by_left if side == "left" else self.by_right).get(str(entity_id))
        return self.scores.iloc[found if found is not None else np.zeros(0, dtype=np.int64)]


def competing_candidates(index: CandidateIndex, dataset: AlignmentDataset, left_id: str, right_id: str, *,
                         labels: Mapping[tuple[str, str], str] | None = None, limit: int = 9) -> Competitors:
    """Both entities' candidates for the pair (``left_id``, ``right_id``), best first.

    Parameters
    ----------
    index : the score table's :class:`CandidateIndex`.
    dataset : for the entities' names.
    labels : current decision per (left_id, right_id), shown beside each candidate.
    limit : at most this many per list (one key per candidate on the page: 1-9); the pair on
        screen is always kept, in its place if it is among the best, else last.

    Returns
    -------
    Competitors
        Lists sorted by probability (score where there is none), then id. The pair on screen is
        in both lists even when it is not in the score table (a pair opened from search).
    """
    labels = labels or {}
    lists = {}
    pair_type = None
    for side in SIDES:
        rows = index.rows_of(side, left_id if side == "left" else right_id)
        far = "right" if side == "left" else "left"
        kg = dataset.right if far == "right" else dataset.left
        entries = []
        for row in rows.itertuples(index=False):
            other = str(getattr(row, f"{far}_id"))
            entries.append(_candidate(row, other, _name(kg, other), labels, (left_id, right_id)))
            if entries[-1].on_screen:
                pair_type = entries[-1].type
        lists[side] = entries
    if pair_type is None:  # a pair outside the score table: show it anyway, with no score
        pair_type = next((e.type for entries in lists.values() for e in entries), "")
    for side in SIDES:
        entries = sorted(lists[side], key=_best_first)
        if not any(e.on_screen for e in entries):
            other = right_id if side == "left" else left_id
            kg = dataset.right if side == "left" else dataset.left
            entries.append(Candidate(left_id, right_id, pair_type, other, _name(kg, other), float("nan"), None, 0,
                                     labels.get((left_id, right_id)), True))
        if len(entries) > limit:
            screen = next(e for e in entries if e.on_screen)
            entries = entries[:limit] if screen in entries[:limit] else entries[:limit - 1] + [screen]
        lists[side] = tuple(entries)
    return Competitors(left_id, right_id, pair_type, lists["left"], lists["right"])


def this_one_matches(competitors: Competitors, chosen: tuple[str, str], *, side: str,
                     one_to_one: bool) -> tuple[PairDecision, ...]:
    """The decisions that "``chosen`` matches" means, the accept first.

    ``side`` says whose list the analyst picked from: ``"left"`` means ``chosen`` is one of the left
    entity's candidates. The chosen pair is accepted; when ``one_to_one``, every other candidate in
    that list is rejected too, except those already labelled reject (nothing to change). Pairs are
    never rejected in the other list: they were not the question.

    Raises
    ------
    ValueError
        If ``chosen`` is not in the list of ``side``.
    """
    candidates = competitors.side(side)
    picked = next((c for c in candidates if c.pair == tuple(chosen)), None)
    if picked is None:
        raise ValueError(f"{chosen} is not a candidate in the {side} entity's list "
                         f"({', '.join(str(c.pair) for c in candidates) or 'empty'})")
    decisions = [PairDecision(picked.left_id, picked.right_id, picked.type, "accept", _finite(picked.score))]
    if one_to_one:
        decisions += [PairDecision(c.left_id, c.right_id, c.type, "reject", _finite(c.score))
                      for c in candidates if c.pair != picked.pair and c.label != "reject"]
    return tuple(decisions)


def one_to_one_types(dataset: AlignmentDataset) -> frozenset[str]:
    """The aligned types whose known matches pair each entity with at most one entity.

    Read from the positive links (any split): a type where some entity has two known matches
    is many-to-many (e.g. a person recorded twice on one side); a type with no known matches is
    taken as one-to-one, the usual case for two knowledge graphs that each hold an entity once.
    """
    links = dataset.links
    positive = links.label == 1
    names = dataset.schema.type_names
    result = set(names)
    for t, name in enumerate(names):
        of_type = positive & (links.type == t)
        left, right = links.left[of_type], links.right[of_type]
        if len(unique(left)) < len(left) or len(unique(right)) < len(right):  # by sorting: NumPy's hashing is slow
            result.discard(name)
    return frozenset(result)


@dataclass(frozen=True, eq=False)
class RowsById:
    """The table rows of each id: rows sorted by id once, and where each id's run starts.

    A dict of one array per id (pandas' ``groupby().indices``) costs a Python object per entity:
    on the 2.7M-row table of a 1.35M-entity side that took 7 s of the app's opening; this is two
    integer arrays and an index of the distinct ids, built in about a second.
    """

    ids: pd.Index  # the distinct ids, in order of first appearance
    rows: np.ndarray  # row positions, grouped by id (table order within an id)
    starts: np.ndarray  # ids[k]'s rows are rows[starts[k]:starts[k + 1]]

    def get(self, entity_id: str) -> np.ndarray | None:
        """The rows of ``entity_id`` in table order, or None when it has none."""
        k = self.ids.get_indexer([str(entity_id)])[0]
        return None if k < 0 else self.rows[self.starts[k]:self.starts[k + 1]]

    def __len__(self) -> int:
        return len(self.ids)


def _positions(ids: pd.Series) -> RowsById:
    codes, distinct = pd.factorize(ids.astype(str).to_numpy(dtype=object))
    rows = np.argsort(codes, kind="stable").astype(np.int64)
    starts = np.r_[0, np.cumsum(np.bincount(codes, minlength=len(distinct)))].astype(np.int64)
    return RowsById(pd.Index(distinct, dtype=object), rows, starts)


def _candidate(row, other: str, other_name: str, labels, on_screen: tuple[str, str]) -> Candidate:
    probability = getattr(row, "probability", None)
    probability = None if probability is None or pd.isna(probability) else float(probability)
    pair = (str(row.left_id), str(row.right_id))
    return Candidate(pair[0], pair[1], str(row.type), other, other_name, float(row.score), probability,
                     int(row.rank), labels.get(pair), pair == tuple(on_screen))


def _best_first(c: Candidate):
    value = c.probability if c.probability is not None else c.score
    return (-value if value == value else np.inf, c.other_id)  # NaN (no score) last


def _name(kg, entity_id: str) -> str:
    found = kg.indices_of([entity_id])
    return str(kg.names[int(found[0])]) if len(found) and found[0] >= 0 else entity_id


def _finite(value: float) -> float | None:
    return float(value) if value == value and np.isfinite(value) else None
