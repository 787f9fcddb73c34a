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
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, func, insert, select, tuple_
from sqlalchemy.orm import Session, aliased

from db.decisions import LABEL_DECISIONS, Decision
from label_rules import latest_standing
from db.models import LabelEventRow, PairLeaseRow
from db.session import lock_analyst

HISTORY_COLUMNS = (
    "event_id", "created_at", "project", "left_id", "right_id", "type", "decision",
    "analyst", "model_version", "score", "note", "undoes_id", "resolution", "batch_id",
)


@dataclass(frozen=True)
class LabelEvent:
    """One row of the append-only log: a label (accept/reject/skip) or an undo of one.

    ``resolution`` is True when the decision was recorded from the conflict queue to settle a
    disagreement between analysts, so agreement figures can tell a settled conflict from two
    analysts who agreed on their own. It defaults to False, the value every event recorded
    before the field existed carries (migration 0002). ``batch_id`` is shared by the events of
    one analyst action that decided several pairs at once (``record_batch``), and ``None`` on a
    single decision; undo takes a batch back whole.
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
    batch_id: str | None = None

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


@dataclass(frozen=True)
class BatchDecision:
    """One pair's decision inside a batch (see ``record_batch``)."""

    left_id: str
    right_id: str
    type: str
    decision: Decision
    score: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "decision", Decision.parse(self.decision))


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
    parsed, score = _checked_label(project=project, left_id=left_id, right_id=right_id, type=type,
                                   decision=decision, analyst=analyst, score=score)
    if not isinstance(resolution, bool):
        raise ValueError(f"resolution must be True or False, got {resolution!r}")
    lock_analyst(session, project=project, analyst=analyst.strip())
    row = LabelEventRow(
        project=project, left_id=left_id, right_id=right_id, type=type, decision=parsed.value,
        analyst=analyst.strip(), created_at=_utcnow(), model_version=model_version, score=score,
        note=note, undoes_id=None, resolution=resolution, batch_id=None,
    )
    session.add(row)
    session.flush()  # assigns row.id
    _release_decided(session, project, [(left_id, right_id)])
    return _to_event(row)


def record_batch(
    session: Session,
    *,
    project: str,
    analyst: str,
    decisions: Sequence[BatchDecision],
    model_version: str | None = None,
    note: str | None = None,
) -> tuple[LabelEvent, ...]:
    """Append the decisions of one analyst action as one batch, in the given order; return the events.

    Every event gets the same new ``batch_id``, so ``undo_last`` takes the whole action back in one
    step. Use it for "this candidate matches" (accept one pair, reject the entity's other
    candidates) and for bulk accepts. Like ``record_decision`` it releases the leases of the
    decided pairs. The caller's transaction makes the batch all or nothing.

    Raises
    ------
    ValueError
        If ``decisions`` is empty, names a pair twice, or holds anything ``record_decision`` would
        refuse (an undo, a blank id, a score that is not finite). Nothing is written then.
    """
    _require_text("project", project)
    _require_text("analyst", analyst)
    decisions = list(decisions)
    if not decisions:
        raise ValueError("a batch needs at least one decision")
    pairs = [(d.left_id, d.right_id) for d in decisions]
    repeated = sorted({p for p in pairs if pairs.count(p) > 1}) if len(set(pairs)) < len(pairs) else []
    if repeated:
        raise ValueError(f"a batch decides each pair once; repeated: {repeated[:5]}")
    checked = [_checked_label(project=project, left_id=d.left_id, right_id=d.right_id, type=d.type,
                              decision=d.decision, analyst=analyst, score=d.score) for d in decisions]
    lock_analyst(session, project=project, analyst=analyst.strip())
    batch_id, now = uuid.uuid4().hex, _utcnow()
    rows = [dict(
        project=project, left_id=d.left_id, right_id=d.right_id, type=d.type, decision=parsed.value,
        analyst=analyst.strip(), created_at=now, model_version=model_version, score=score, note=note,
        undoes_id=None, resolution=False, batch_id=batch_id,
    ) for d, (parsed, score) in zip(decisions, checked)]
    # One multi-row INSERT (a bulk accept can hold thousands of pairs); ids come back in the
    # given order, so the log keeps the order the caller chose (the accept before its rejects).
    ids = session.scalars(insert(LabelEventRow).returning(LabelEventRow.id, sort_by_parameter_order=True),
                          rows).all()
    _release_decided(session, project, pairs)
    return tuple(LabelEvent(id=i, **{k: v for k, v in row.items() if k != "decision"},
                            decision=Decision.parse(row["decision"])) for i, row in zip(ids, rows, strict=True))


def undo_last(session: Session, *, project: str, analyst: str) -> LabelEvent | None:
    """Undo ``analyst``'s most recent action in ``project`` that is not yet undone.

    An action is one label event, or every event of a batch (``record_batch``). Appends an
    ``undo`` event per undone event (same pair and type, ``undoes_id`` = the undone event's id;
    the undos of a batch share a batch id of their own) and returns the *undone* event, for a
    batch its first one (the pair the analyst chose), or ``None`` when the analyst has nothing
    left to undo. ``undo_last_step`` returns every undone event. Calling it again walks further
    back through the analyst's own actions, across pairs; other analysts' events are never
    touched. Nothing is deleted.
    """
    undone = undo_last_step(session, project=project, analyst=analyst)
    return undone[0] if undone else None


def undo_last_step(session: Session, *, project: str, analyst: str) -> tuple[LabelEvent, ...]:
    """Like ``undo_last``, but return every event the step undid, oldest first (empty: nothing to undo).

    A batch comes back whole: its events that are not yet undone (normally all of them) each get
    an undo event, in one transaction with the caller's.
    """
    _require_text("project", project)
    _require_text("analyst", analyst)
    lock_analyst(session, project=project, analyst=analyst.strip())  # racing undos take turns
    undo = aliased(LabelEventRow)
    already_undone = select(undo.id).where(undo.undoes_id == LabelEventRow.id).exists()
    not_undone_labels = (
        LabelEventRow.project == project,
        LabelEventRow.analyst == analyst.strip(),
        LabelEventRow.decision.in_([d.value for d in LABEL_DECISIONS]),
        ~already_undone,
    )
    target = session.scalars(
        select(LabelEventRow).where(*not_undone_labels).order_by(LabelEventRow.id.desc()).limit(1)
    ).first()
    if target is None:
        return ()
    targets = [target]
    undo_batch = None
    if target.batch_id is not None:
        targets = list(session.scalars(
            select(LabelEventRow).where(*not_undone_labels, LabelEventRow.batch_id == target.batch_id)
            .order_by(LabelEventRow.id)))
        undo_batch = uuid.uuid4().hex
    now = _utcnow()
    for row in targets:
        session.add(LabelEventRow(
            project=row.project, left_id=row.left_id, right_id=row.right_id, type=row.type,
            decision=Decision.UNDO.value, analyst=row.analyst, created_at=now, model_version=None,
            score=None, note=None, undoes_id=row.id, resolution=False, batch_id=undo_batch,
        ))
    session.flush()  # a second undo of the same event fails here (unique undoes_id)
    return tuple(_to_event(row) for row in targets)


def derive_current(events: Iterable[LabelEvent]) -> list[PairLabel]:
    """Current label per pair from a log: the latest label event that was not undone.

    Pure function (no database), so the rule is tested directly. Pairs are keyed by
    (project, left_id, right_id); a pair whose every label was undone has no current label.
    The result is ordered by ``decided_at``, then event id.

    Examples
    --------
    Accept (id 1), reject (id 2), then undo of 2 (id 3): the pair is back to accept.
    """
    latest = latest_standing(events, key=lambda e: (e.project, e.left_id, e.right_id))  # the rule: label_rules
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


def decisions_per_hour(session: Session, *, project: str, analyst: str, now: datetime | None = None,
                       window: timedelta = timedelta(hours=1)) -> float:
    """The analyst's pace: label events (accept, reject, skip) in the last ``window``, per hour.

    Measured from the first event inside the window (at least one minute), not over the whole
    window, so an analyst who started ten minutes ago and made 20 decisions reads 120 per hour,
    not 20. Undos are not counted; a decision that was later undone still took the analyst's time
    and is.
    """
    now = now or _utcnow()
    since = now - window
    count, first = session.execute(select(func.count(LabelEventRow.id), func.min(LabelEventRow.created_at)).where(
        LabelEventRow.project == project, LabelEventRow.analyst == analyst.strip(),
        LabelEventRow.decision != Decision.UNDO.value, LabelEventRow.created_at > since)).one()
    if not count:
        return 0.0
    first = first if isinstance(first, datetime) else since
    elapsed = max((now - first).total_seconds(), 60.0)
    return count * 3600.0 / elapsed


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
        text = [_formula_safe(v) for v in (e.project, e.left_id, e.right_id, e.type)]
        writer.writerow([
            e.id, e.created_at.isoformat(), *text, e.decision.value,
            _formula_safe(e.analyst), _formula_safe(_blank(e.model_version)),
            _blank(None if e.score is None else repr(e.score)),
            _formula_safe(_blank(e.note)), _blank(e.undoes_id), "true" if e.resolution else "false", _blank(e.batch_id),
        ])
    return buffer.getvalue()


#: Text a spreadsheet runs as a formula starts with one of these (OWASP "CSV Injection": = + - @
#: tab CR, and the full-width forms). The same rule as core.formats.export.spreadsheet_safe,
#: repeated here because db never imports core; tests/core/formats/test_export_formulas.py checks both.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def _formula_safe(cell: str) -> str:
    """A text cell with a leading ``'`` when a spreadsheet would read it as a formula."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def _load(session: Session, *conditions) -> list[LabelEvent]:
    rows = session.scalars(select(LabelEventRow).where(*conditions).order_by(LabelEventRow.id))
    return [_to_event(row) for row in rows]


def _to_event(row: LabelEventRow) -> LabelEvent:
    return LabelEvent(
        id=row.id, project=row.project, left_id=row.left_id, right_id=row.right_id, type=row.type,
        decision=Decision.parse(row.decision), analyst=row.analyst, created_at=row.created_at,
        model_version=row.model_version, score=row.score, note=row.note, undoes_id=row.undoes_id,
        resolution=bool(row.resolution), batch_id=row.batch_id,
    )


def _checked_label(*, project, left_id, right_id, type, decision, analyst, score) -> tuple[Decision, float | None]:
    """The parsed decision and score of one label to record; ValueError if anything is unfit."""
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
    return parsed, score


def _release_decided(session: Session, project: str, pairs: Sequence[tuple[str, str]]) -> None:
    """A decided pair needs no reservation any more, whoever held it (``db.leases``)."""
    for start in range(0, len(pairs), 500):  # bounded IN lists
        chunk = pairs[start:start + 500]
        session.execute(delete(PairLeaseRow).where(
            PairLeaseRow.project == project,
            tuple_(PairLeaseRow.left_id, PairLeaseRow.right_id).in_(chunk)))


def _require_text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    if "\x00" in value:  # SQLite's length() stops at a NUL and PostgreSQL text cannot hold one
        raise ValueError(f"{name} must not contain a NUL character, got {value!r}")


def _blank(value: object) -> object:
    return "" if value is None else value


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)
