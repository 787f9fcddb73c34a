"""Record, undo, read and export analysts' match decisions.

Every function takes an open ``Session`` and leaves the transaction to the caller, who frames
one analyst action with ``with SessionFactory.begin() as session:``; if anything in the block
raises, the whole action rolls back. Functions return frozen dataclasses, never ORM rows, so
nothing handed to a page can lazy-load or be written back by accident.

"Latest" always means highest event id: ids are the log's insertion order, while wall clocks
on different servers can disagree or step back.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from db.decisions import LABEL_DECISIONS, Decision
from db.models import LabelEventRow
from db.session import lock_analyst

HISTORY_COLUMNS = (
    "event_id", "created_at", "project", "left_id", "right_id", "type", "decision",
    "analyst", "model_version", "score", "note", "undoes_id", "resolution",
)


@dataclass(frozen=True)
class LabelEvent:
    """One row of the append-only log: a label (accept/reject/skip) or an undo of one.

    ``resolution`` is True when the decision was recorded from the conflict queue to settle a
    disagreement between analysts, so agreement figures can tell a settled conflict from two
    analysts who agreed on their own. It defaults to False, the value every event recorded
    before the field existed carries (migration 0002).
    """

    id: int
    project: str
    left_id: str
    right_id: str
    type: str
    decision: Decision
    analyst: str
    created_at: datetime
    model_version: str | None
    score: float | None
    note: str | None
    undoes_id: int | None
    resolution: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "decision", Decision.parse(self.decision))
        if not isinstance(self.resolution, bool):
            raise ValueError(f"event {self.id}: resolution must be True or False, got {self.resolution!r}")
        if (self.decision is Decision.UNDO) != (self.undoes_id is not None):
            raise ValueError(
                f"event {self.id}: undoes_id must be set exactly on undo events "
                f"(got decision={self.decision.value!r}, undoes_id={self.undoes_id!r})"
            )


@dataclass(frozen=True)
class PairLabel:
    """The current label of a pair: its latest accept/reject/skip event that was not undone."""

    project: str
    left_id: str
    right_id: str
    type: str
    decision: Decision
    analyst: str
    decided_at: datetime
    model_version: str | None
    note: str | None
    event_id: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "decision", Decision.parse(self.decision))
        if not self.decision.is_label:
            raise ValueError(f"a pair's current label cannot be {self.decision.value!r}")


@dataclass(frozen=True)
class ProgressRow:
    """How many pairs of one type currently carry one analyst's decision."""

    type: str
    analyst: str
    decision: Decision
    count: int


def record_decision(
    session: Session,
    *,
    project: str,
    left_id: str,
    right_id: str,
    type: str,
    decision: Decision | str,
    analyst: str,
    model_version: str | None = None,
    score: float | None = None,
    note: str | None = None,
    resolution: bool = False,
) -> LabelEvent:
    """Append one accept/reject/skip event for the pair and return it.

    The analyst name is stripped of surrounding spaces, so "ana " and "ana" are one analyst
    (undo and progress group by it). Ids and type are stored exactly as given. Pass
    ``resolution=True`` when the decision settles a disagreement from the conflict queue; it
    is stored with the event and does not change how the current label is derived (the
    latest event still wins).

    Raises
    ------
    ValueError
        If ``decision`` is not accept/reject/skip (undo has its own function, ``undo_last``),
        if the project, an id, the type or the analyst is blank, if ``score`` is not a
        finite number, or if ``resolution`` is not a bool. Nothing is written in that case.
    """
    parsed = Decision.parse(decision)
    if not parsed.is_label:
        raise ValueError(f"record_decision takes accept, reject or skip, got {parsed.value!r}; use undo_last to undo")
    for name, value in (("project", project), ("left_id", left_id), ("right_id", right_id),
                        ("type", type), ("analyst", analyst)):
        _require_text(name, value)
    if score is not None:
        score = float(score)
        if not math.isfinite(score):
            raise ValueError(f"score must be a finite number or None, got {score!r}")
    if not isinstance(resolution, bool):
        raise ValueError(f"resolution must be True or False, got {resolution!r}")
    lock_analyst(session, project=project, analyst=analyst.strip())
    row = LabelEventRow(
        project=project, left_id=left_id, right_id=right_id, type=type, decision=parsed.value,
        analyst=analyst.strip(), created_at=_utcnow(), model_version=model_version, score=score,
        note=note, undoes_id=None, resolution=resolution,
    )
    session.add(row)
    session.flush()  # assigns row.id
    return _to_event(row)


def undo_last(session: Session, *, project: str, analyst: str) -> LabelEvent | None:
    """Undo ``analyst``'s most recent label event in ``project`` that is not yet undone.

    Appends an ``undo`` event (same pair and type, ``undoes_id`` = the undone event's id) and
    returns the *undone* event, or ``None`` when the analyst has nothing left to undo. Calling
    it again walks further back through the analyst's own events, across pairs; other
    analysts' events are never touched. Nothing is deleted.
    """
    _require_text("project", project)
    _require_text("analyst", analyst)
    lock_analyst(session, project=project, analyst=analyst.strip())  # racing undos take turns
    undo = aliased(LabelEventRow)
    already_undone = select(undo.id).where(undo.undoes_id == LabelEventRow.id).exists()
    target = session.scalars(
        select(LabelEventRow)
        .where(
            LabelEventRow.project == project,
            LabelEventRow.analyst == analyst.strip(),
            LabelEventRow.decision.in_([d.value for d in LABEL_DECISIONS]),
            ~already_undone,
        )
        .order_by(LabelEventRow.id.desc())
        .limit(1)
    ).first()
    if target is None:
        return None
    session.add(LabelEventRow(
        project=target.project, left_id=target.left_id, right_id=target.right_id, type=target.type,
        decision=Decision.UNDO.value, analyst=target.analyst, created_at=_utcnow(),
        model_version=None, score=None, note=None, undoes_id=target.id, resolution=False,
    ))
    session.flush()  # a second undo of the same event fails here (unique undoes_id)
    return _to_event(target)


def derive_current(events: Iterable[LabelEvent]) -> list[PairLabel]:
    """Current label per pair from a log: the latest label event that was not undone.

    Pure function (no database), so the rule is tested directly. Pairs are keyed by
    (project, left_id, right_id); a pair whose every label was undone has no current label.
    The result is ordered by ``decided_at``, then event id.

    Examples
    --------
    Accept (id 1), reject (id 2), then undo of 2 (id 3): the pair is back to accept.
    """
    events = list(events)
    undone = {e.undoes_id for e in events if e.decision is Decision.UNDO}
    latest: dict[tuple[str, str, str], LabelEvent] = {}
    for e in events:
        if e.decision.is_label and e.id not in undone:
            key = (e.project, e.left_id, e.right_id)
            if key not in latest or e.id > latest[key].id:
                latest[key] = e
    labels = [
        PairLabel(project=e.project, left_id=e.left_id, right_id=e.right_id, type=e.type,
                  decision=e.decision, analyst=e.analyst, decided_at=e.created_at,
                  model_version=e.model_version, note=e.note, event_id=e.id)
        for e in latest.values()
    ]
    return sorted(labels, key=lambda label: (label.decided_at, label.event_id))


def current_labels(session: Session, *, project: str) -> list[PairLabel]:
    """Current label of every labelled pair in ``project`` (see ``derive_current``)."""
    return derive_current(_load(session, LabelEventRow.project == project))


def label_of(session: Session, *, project: str, left_id: str, right_id: str) -> PairLabel | None:
    """Current label of one pair, or ``None`` if it has none (never labelled, or all undone)."""
    labels = derive_current(_load(
        session, LabelEventRow.project == project, LabelEventRow.left_id == left_id,
        LabelEventRow.right_id == right_id,
    ))
    return labels[0] if labels else None


def events(session: Session, *, project: str, analyst: str | None = None, limit: int | None = None) -> list[LabelEvent]:
    """The log of ``project``, newest first, optionally one analyst's and at most ``limit`` events."""
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be None or >= 0, got {limit}")
    query = select(LabelEventRow).where(LabelEventRow.project == project).order_by(LabelEventRow.id.desc())
    if analyst is not None:
        query = query.where(LabelEventRow.analyst == analyst.strip())
    if limit is not None:
        query = query.limit(limit)
    return [_to_event(row) for row in session.scalars(query)]


def progress(session: Session, *, project: str) -> list[ProgressRow]:
    """Count current labels by (type, analyst, decision), sorted by those three.

    Counts current labels, not events: a pair relabelled five times counts once, under the
    analyst and decision that stand now.
    """
    counts = Counter((label.type, label.analyst, label.decision) for label in current_labels(session, project=project))
    return [
        ProgressRow(type=t, analyst=a, decision=d, count=n)
        for (t, a, d), n in sorted(counts.items())
    ]


def history_csv(session: Session, *, project: str) -> str:
    """Every event of ``project`` as CSV text, oldest first, for download and audit.

    Columns are ``HISTORY_COLUMNS``; times are ISO-8601 UTC (``2024-05-01T12:00:00.123456+00:00``);
    empty cells mean ``None``; ``resolution`` is ``true`` or ``false``. The csv module quotes
    notes containing commas, quotes or newlines.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HISTORY_COLUMNS)
    for e in reversed(events(session, project=project)):
        writer.writerow([
            e.id, e.created_at.isoformat(), e.project, e.left_id, e.right_id, e.type, e.decision.value,
            e.analyst, _blank(e.model_version), _blank(None if e.score is None else repr(e.score)),
            _blank(e.note), _blank(e.undoes_id), "true" if e.resolution else "false",
        ])
    return buffer.getvalue()


def _load(session: Session, *conditions) -> list[LabelEvent]:
    rows = session.scalars(select(LabelEventRow).where(*conditions).order_by(LabelEventRow.id))
    return [_to_event(row) for row in rows]


def _to_event(row: LabelEventRow) -> LabelEvent:
    return LabelEvent(
        id=row.id, project=row.project, left_id=row.left_id, right_id=row.right_id, type=row.type,
        decision=Decision.parse(row.decision), analyst=row.analyst, created_at=row.created_at,
        model_version=row.model_version, score=row.score, note=row.note, undoes_id=row.undoes_id,
        resolution=bool(row.resolution),
    )


def _require_text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    if "\x00" in value:  # SQLite's length() stops at a NUL and PostgreSQL text cannot hold one
        raise ValueError(f"{name} must not contain a NUL character, got {value!r}")


def _blank(value: object) -> object:
    return "" if value is None else value


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)
