"""Team queues: the pair on an analyst's screen is reserved for them for a few minutes.

Why: two analysts who open one review queue at once compute the same order and would both be
shown its first pair; one of the two labels is wasted work, and if they disagree a conflict is
made out of nothing. A lease is a row in ``pair_leases`` naming the pair, the analyst and when
the reservation ends. The review page takes a lease on the pair it shows and skips pairs other
analysts hold; a decision on the pair deletes its lease (``db.labels``), and an analyst who walks
away loses it when it expires.

Taking a lease is **one atomic statement** on SQLite and PostgreSQL alike: an upsert keyed by the
pair that inserts a new lease, or takes over an existing one only if it has expired or already
belongs to the same analyst, and returns a row exactly when the caller won the pair::

    INSERT INTO pair_leases (...) VALUES (...)
    ON CONFLICT (project, left_id, right_id) DO UPDATE SET analyst = excluded.analyst, ...
    WHERE pair_leases.expires_at <= :now OR pair_leases.analyst = excluded.analyst
    RETURNING analyst

On PostgreSQL a second analyst racing for the same pair waits for the first one's row lock and
then finds the lease taken (READ COMMITTED re-reads the committed row), so it moves on to the next
pair; on SQLite the transaction holds the database's write lock from ``BEGIN IMMEDIATE``. No
backend other than these two is supported: there the function raises rather than race silently.

Times come from the caller's clock (``now``, UTC; default: this machine's), so tests can move
time forward; servers of one team should keep their clocks in sync (NTP), as they do for the
label log's timestamps.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import case, delete, select
from sqlalchemy.orm import Session

from db.models import PairLeaseRow

DEFAULT_LEASE = timedelta(minutes=5)
"""How long a pair stays reserved without the holder's page touching it: long enough to read a
hard pair, short enough that a pair left on an idle screen returns to the queue soon."""


@dataclass(frozen=True)
class Lease:
    """One reserved pair: who holds it, since when, and until when."""

    project: str
    left_id: str
    right_id: str
    analyst: str
    acquired_at: datetime
    expires_at: datetime


def acquire_lease(
    session: Session,
    *,
    project: str,
    analyst: str,
    candidates: Iterable[tuple[str, str]],
    duration: timedelta = DEFAULT_LEASE,
    now: datetime | None = None,
) -> Lease | None:
    """Reserve the first pair of ``candidates`` that nobody else holds; return the lease, or ``None``.

    ``candidates`` are (left_id, right_id) in queue order; each is tried with one atomic upsert
    (module docstring) until one is won, so two analysts starting together end up with different
    pairs. A pair the analyst already holds is won again, with its expiry pushed back (the page
    renews its lease on every run). On success the analyst's other leases in the project are
    released: one analyst, one pair on screen.

    Raises
    ------
    ValueError
        If the project or analyst is blank or ``duration`` is not positive.
    NotImplementedError
        On a database other than SQLite or PostgreSQL (no atomic upsert is used there).
    """
    analyst = _text("analyst", analyst).strip()
    _text("project", project)
    if duration <= timedelta(0):
        raise ValueError(f"a lease must last a positive time, got {duration}")
    now = _now(now)
    insert = _dialect_insert(session)
    for left_id, right_id in candidates:
        statement = insert(PairLeaseRow).values(
            project=project, left_id=left_id, right_id=right_id, analyst=analyst, acquired_at=now,
            expires_at=now + duration)
        statement = statement.on_conflict_do_update(
            index_elements=[PairLeaseRow.project, PairLeaseRow.left_id, PairLeaseRow.right_id],
            set_={"analyst": statement.excluded.analyst, "expires_at": statement.excluded.expires_at,
                  # a renewal keeps the time the analyst first got the pair
                  "acquired_at": _renewal_keeps(statement)},
            where=(PairLeaseRow.expires_at <= now) | (PairLeaseRow.analyst == statement.excluded.analyst),
        ).returning(PairLeaseRow.acquired_at)
        won = session.execute(statement).first()
        if won is None:
            continue
        session.execute(delete(PairLeaseRow).where(
            PairLeaseRow.project == project, PairLeaseRow.analyst == analyst,
            (PairLeaseRow.left_id != left_id) | (PairLeaseRow.right_id != right_id)))
        return Lease(project, left_id, right_id, analyst, _as_utc(won[0]), now + duration)
    return None


def release_leases(session: Session, *, project: str, analyst: str) -> int:
    """Give back every pair ``analyst`` holds in ``project`` (e.g. leaving the review page); return how many."""
    result = session.execute(delete(PairLeaseRow).where(
        PairLeaseRow.project == project, PairLeaseRow.analyst == _text("analyst", analyst).strip()))
    return int(result.rowcount or 0)


def active_leases(session: Session, *, project: str, now: datetime | None = None) -> list[Lease]:
    """Every lease of ``project`` that has not expired at ``now``, oldest first."""
    rows = session.scalars(select(PairLeaseRow).where(
        PairLeaseRow.project == project, PairLeaseRow.expires_at > _now(now)).order_by(PairLeaseRow.acquired_at))
    return [Lease(r.project, r.left_id, r.right_id, r.analyst, r.acquired_at, r.expires_at) for r in rows]


def held_by_others(session: Session, *, project: str, analyst: str, now: datetime | None = None) -> set[tuple[str, str]]:
    """(left_id, right_id) of the live leases of analysts other than ``analyst``: pairs to skip."""
    analyst = _text("analyst", analyst).strip()
    return {(lease.left_id, lease.right_id) for lease in active_leases(session, project=project, now=now)
            if lease.analyst != analyst}


def lease_of(session: Session, *, project: str, analyst: str, now: datetime | None = None) -> Lease | None:
    """The live lease ``analyst`` holds in ``project`` (the pair on their screen), or ``None``."""
    analyst = _text("analyst", analyst).strip()
    for lease in active_leases(session, project=project, now=now):
        if lease.analyst == analyst:
            return lease
    return None


def purge_expired(session: Session, *, now: datetime | None = None) -> int:
    """Delete expired leases of every project; return how many. Optional housekeeping: an expired
    lease is already free (``acquire_lease`` takes it over), this only keeps the table small."""
    result = session.execute(delete(PairLeaseRow).where(PairLeaseRow.expires_at <= _now(now)))
    return int(result.rowcount or 0)


def _renewal_keeps(statement):
    """acquired_at after the upsert: kept when the same analyst renews, ``now`` when taken over."""
    return case((PairLeaseRow.analyst == statement.excluded.analyst, PairLeaseRow.acquired_at),
                else_=statement.excluded.acquired_at)


def _dialect_insert(session: Session):
    name = session.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise NotImplementedError(f"pair leases need SQLite or PostgreSQL (an atomic upsert); this store is {name}")
    return insert


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now!r}: lease times must be timezone-aware")
    return now.astimezone(timezone.utc)


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value
