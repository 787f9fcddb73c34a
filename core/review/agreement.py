"""How far analysts agree, and which pairs they disagree on, from the label log alone.

Several analysts label the same project at once. The project-wide label of a pair stays the
latest event (``db.labels.derive_current``: whoever clicked last wins), so this module keeps
each analyst's own word apart and makes disagreement visible instead of letting the last click
hide it. It reads plain :class:`LogEntry` values (no database import), so the rules below are
tested on hand-written logs. The decision words and which events stand (label events no undo
names; latest = highest event id) are the label log's rules, owned by :mod:`label_rules` and shared
with the store (``db``), which this module may not import.

Rules
-----
- **An analyst's current label** of a pair is their latest (highest event id) accept, reject or
  skip event on it that was not undone. Resolution events are not part of it: settling a
  conflict is a judgement about other analysts' labels, and counting it as the settler's own
  vote would pull the agreement figures towards whoever settles.
- **Judged** means accept or reject. A skip says "I cannot tell", so it is counted per analyst
  but never enters agreement, kappa or conflicts.
- **Pairwise agreement** of two analysts is computed on the pairs both judged: the number of
  such shared pairs, the share on which they gave the same label (raw agreement) and Cohen's
  kappa (``sklearn.metrics.cohen_kappa_score``), which discounts the agreement expected by
  chance. Kappa is undefined (NaN) when there is no shared pair or when both analysts used one
  and the same label throughout (one shared pair they agree on, say): chance agreement is then
  1 and kappa is 0/0. One shared pair they disagree on gives kappa 0.
- **A conflict** is a pair on which one analyst's current label is accept and another's is
  reject.
- **A conflict is settled** once a resolution event (``record_decision(..., resolution=True)``,
  an accept or reject) exists on the pair, was not undone, and is newer (higher event id) than
  every conflicting accept/reject label. A later relabel that keeps the disagreement reopens
  it: the resolution answered a disagreement that has since changed. Being the latest event,
  the resolution is also the pair's project-wide label, so settling needs no other rule.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations

from label_rules import Decision, latest_standing, standing

DECISIONS = tuple(d.value for d in Decision)  # accept, reject, skip, undo
JUDGEMENTS = tuple(d.value for d in Decision if d.is_judgement)  # accept, reject


@dataclass(frozen=True)
class LogEntry:
    """One event of the label log, as agreement needs it (see :func:`log_entries`).

    ``decision`` is ``"accept"``, ``"reject"``, ``"skip"`` or ``"undo"`` (a ``str`` enum member
    such as ``db.Decision.ACCEPT`` is taken as its word); ``undoes_id`` is set exactly on undo
    events; ``resolution`` marks a label that settles a conflict.
    """

    id: int
    left_id: str
    right_id: str
    type: str
    decision: str
    analyst: str
    undoes_id: int | None = None
    resolution: bool = False

    def __post_init__(self) -> None:
        decision = str(getattr(self.decision, "value", self.decision))
        if decision not in DECISIONS:
            raise ValueError(f"event {self.id}: decision must be one of {', '.join(DECISIONS)}, got {decision!r}")
        object.__setattr__(self, "decision", decision)
        if (decision == "undo") != (self.undoes_id is not None):
            raise ValueError(f"event {self.id}: undoes_id must be set exactly on undo events "
                             f"(got decision={decision!r}, undoes_id={self.undoes_id!r})")
        if self.resolution and decision not in JUDGEMENTS:
            raise ValueError(f"event {self.id}: a resolution is an accept or a reject, got {decision!r}")

    @property
    def pair(self) -> tuple[str, str]:
        return self.left_id, self.right_id


@dataclass(frozen=True)
class Vote:
    """One analyst's current label of one pair, and the event that set it."""

    analyst: str
    decision: str
    event_id: int


@dataclass(frozen=True)
class AnalystCounts:
    """How many pairs one analyst currently labels accept, reject and skip (resolutions excluded)."""

    analyst: str
    accepts: int
    rejects: int
    skips: int

    @property
    def total(self) -> int:
        return self.accepts + self.rejects + self.skips


@dataclass(frozen=True)
class PairwiseAgreement:
    """Agreement of two analysts on the pairs both judged (accept/reject); NaN where undefined."""

    analyst_a: str
    analyst_b: str
    shared_pairs: int
    agreed: int
    raw_agreement: float  # agreed / shared_pairs; NaN without shared pairs
    kappa: float  # Cohen's kappa; NaN without shared pairs or with a single label used by both

    @property
    def kappa_defined(self) -> bool:
        return not math.isnan(self.kappa)


@dataclass(frozen=True)
class Conflict:
    """A pair that analysts judged differently: every current vote, and the resolution if settled."""

    left_id: str
    right_id: str
    type: str
    votes: tuple[Vote, ...]  # every analyst's current label of the pair, skips included, by analyst
    resolution: LogEntry | None  # the latest resolution that settles it, or None while it is open

    @property
    def settled(self) -> bool:
        return self.resolution is not None

    @property
    def raised_at(self) -> int:
        """Event id of the newest judgement in the conflict: the queue shows oldest conflicts first."""
        return max(v.event_id for v in self.votes if v.decision in JUDGEMENTS)


def log_entries(events: Iterable[object]) -> list[LogEntry]:
    """:class:`LogEntry` values from any events with the same attribute names (``db.LabelEvent``).

    Sorted by event id.
    """
    entries = [LogEntry(id=int(e.id), left_id=e.left_id, right_id=e.right_id, type=e.type, decision=e.decision,
                        analyst=e.analyst, undoes_id=e.undoes_id, resolution=bool(e.resolution))
               for e in events]
    return sorted(entries, key=lambda e: e.id)


def votes_by_pair(log: Iterable[LogEntry]) -> dict[tuple[str, str], dict[str, Vote]]:
    """{(left_id, right_id): {analyst: their current :class:`Vote`}} (resolutions excluded).

    An analyst's current label is the label log's current-label rule (:func:`label_rules.latest_standing`)
    keyed by pair and analyst instead of by pair alone.
    """
    votes: dict[tuple[str, str], dict[str, Vote]] = {}
    current = latest_standing((e for e in log if not e.resolution), key=lambda e: (e.pair, e.analyst))
    for e in current.values():  # in order of each pair's, then each analyst's, first standing label
        votes.setdefault(e.pair, {})[e.analyst] = Vote(e.analyst, e.decision, e.id)
    return votes


def pair_votes(log: Iterable[LogEntry], left_id: str, right_id: str) -> tuple[Vote, ...]:
    """Every analyst's current label of one pair, by analyst name (empty if nobody labelled it)."""
    found = votes_by_pair(e for e in log if e.pair == (left_id, right_id)).get((left_id, right_id), {})
    return tuple(found[a] for a in sorted(found))


def analyst_counts(log: Iterable[LogEntry]) -> list[AnalystCounts]:
    """Per analyst (by name), how many pairs their current labels accept, reject and skip."""
    tally: dict[str, dict[str, int]] = {}
    for by_analyst in votes_by_pair(log).values():
        for vote in by_analyst.values():
            counts = tally.setdefault(vote.analyst, {"accept": 0, "reject": 0, "skip": 0})
            counts[vote.decision] += 1
    return [AnalystCounts(a, tally[a]["accept"], tally[a]["reject"], tally[a]["skip"]) for a in sorted(tally)]


def kappa_score(labels_a: list[str], labels_b: list[str]) -> float:
    """Cohen's kappa of two analysts' accept/reject labels of the same pairs; NaN where undefined.

    Examples
    --------
    Four shared pairs, three agreed: observed 0.75, chance 0.5, kappa (0.75 - 0.5) / 0.5 = 0.5.

    >>> kappa_score(["accept", "accept", "reject", "reject"], ["accept", "accept", "reject", "accept"])
    0.5
    >>> kappa_score(["accept"], ["accept"])  # one label throughout: chance agreement 1, 0/0
    nan
    """
    if len(labels_a) != len(labels_b):
        raise ValueError(f"both analysts must label the same pairs: got {len(labels_a)} and {len(labels_b)} labels")
    if not labels_a:
        return math.nan
    from sklearn.exceptions import UndefinedMetricWarning
    from sklearn.metrics import cohen_kappa_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)  # the undefined case is NaN by design
        kappa = cohen_kappa_score(labels_a, labels_b, labels=list(JUDGEMENTS), replace_undefined_by=math.nan)
    return float(kappa)


def pairwise_agreement(log: Iterable[LogEntry]) -> list[PairwiseAgreement]:
    """Agreement of every two analysts who judged at least one pair, by analyst names."""
    judged: dict[str, dict[tuple[str, str], str]] = {}
    for pair, by_analyst in votes_by_pair(log).items():
        for vote in by_analyst.values():
            if vote.decision in JUDGEMENTS:
                judged.setdefault(vote.analyst, {})[pair] = vote.decision
    rows = []
    for a, b in combinations(sorted(judged), 2):
        shared = sorted(judged[a].keys() & judged[b].keys())
        labels_a, labels_b = [judged[a][p] for p in shared], [judged[b][p] for p in shared]
        agreed = sum(x == y for x, y in zip(labels_a, labels_b))
        rows.append(PairwiseAgreement(a, b, len(shared), agreed, agreed / len(shared) if shared else math.nan,
                                      kappa_score(labels_a, labels_b)))
    return rows


def conflicts(log: Iterable[LogEntry], *, include_settled: bool = False) -> list[Conflict]:
    """Pairs judged accept by one analyst and reject by another, oldest conflict first.

    Settled conflicts (see the module docstring) are left out unless ``include_settled``.
    """
    log = list(log)
    latest_resolution: dict[tuple[str, str], LogEntry] = {}
    types: dict[tuple[str, str], str] = {}
    for e in standing(log):  # oldest first, so the last one seen is the newest
        types[e.pair] = e.type
        if e.resolution:
            latest_resolution[e.pair] = e
    found = []
    for pair, by_analyst in votes_by_pair(log).items():
        if not set(JUDGEMENTS) <= {v.decision for v in by_analyst.values()}:
            continue
        votes = tuple(by_analyst[a] for a in sorted(by_analyst))
        conflict = Conflict(pair[0], pair[1], types[pair], votes, None)
        resolution = latest_resolution.get(pair)
        if resolution is not None and resolution.id > conflict.raised_at:
            conflict = Conflict(pair[0], pair[1], types[pair], votes, resolution)
        if include_settled or not conflict.settled:
            found.append(conflict)
    return sorted(found, key=lambda c: (c.raised_at, c.left_id, c.right_id))
