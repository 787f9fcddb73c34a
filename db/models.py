"""ORM schema of the labels store: one append-only table of analyst events.

The table is a log, not a table of current labels: every accept/reject/skip is a new row and an
undo is a row that points at the event it cancels (``undoes_id``). Current labels are derived
from the log (``db.labels.derive_current``), so who decided what, when and with which model is
never lost, and undo cannot destroy data.

The database guards the invariants the code relies on, so a buggy caller or a hand-written
``INSERT`` cannot corrupt the log: decisions come from a closed set, the analyst is not blank,
exactly the undo events carry ``undoes_id``, that id must exist (foreign key; SQLite enforces
it because ``db.session.make_engine`` turns ``PRAGMA foreign_keys`` on), and an event is undone
at most once (unique ``undoes_id``), which also stops two racing undos cancelling the same event.

Events recorded together as one analyst action ("this candidate matches": accept it and reject
the entity's other candidates; a bulk accept) share a ``batch_id``, so undo takes the whole action
back in one step. A second table, ``pair_leases``, reserves the pair on an analyst's screen for a
few minutes, so analysts who review one queue at once are shown different pairs.

The schema changes only through the Alembic revisions in ``db/migrations/versions``; this module
describes the head revision, and a test checks that the two agree.

These ORM rows never leave a session: ``db.labels`` converts them to frozen dataclasses.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from db.decisions import Decision

# Deterministic constraint names, so a later Alembic migration can refer to them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    SQLite has no time-zone type: SQLAlchemy would silently drop the offset on the way in and
    return a naive datetime on the way out. This type stores UTC (naive text on SQLite,
    ``timestamptz`` elsewhere) and always returns an aware UTC datetime, so times compare and
    print the same whichever database a project uses. Naive datetimes are refused rather than
    guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the labels store only accepts timezone-aware times")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    """Declarative base; its metadata is what ``make_engine`` creates."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


_DECISION_WORDS = ", ".join(f"'{d.value}'" for d in Decision)
_UNDO = Decision.UNDO.value


class LabelEventRow(Base):
    """One analyst action on one candidate pair (ORM row; see ``db.labels.LabelEvent``).

    ``project`` is part of every key so one server database can hold several projects; the
    composite indexes start with it, which also serves queries on ``project`` alone.
    ``sqlite_autoincrement`` keeps ids strictly increasing and never reused, because the id is
    the log's order ("latest" means highest id; wall clocks can step backwards).
    """

    __tablename__ = "label_events"
    __table_args__ = (
        Index("ix_label_events_project_pair", "project", "left_id", "right_id"),
        Index("ix_label_events_project_analyst", "project", "analyst"),
        Index("ix_label_events_project_batch_id", "project", "batch_id"),
        CheckConstraint(f"decision IN ({_DECISION_WORDS})", name="decision_known"),
        CheckConstraint("length(trim(analyst)) > 0", name="analyst_not_blank"),
        CheckConstraint(
            f"(decision = '{_UNDO}' AND undoes_id IS NOT NULL) OR (decision <> '{_UNDO}' AND undoes_id IS NULL)",
            name="undoes_id_only_on_undo",
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(String, nullable=False)
    left_id: Mapped[str] = mapped_column(String, nullable=False)
    right_id: Mapped[str] = mapped_column(String, nullable=False)
    type: Mapped[str] = mapped_column(String, nullable=False)
    decision: Mapped[str] = mapped_column(String(16), nullable=False)
    analyst: Mapped[str] = mapped_column(String, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    model_version: Mapped[str | None] = mapped_column(String, nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    undoes_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("label_events.id"), nullable=True, unique=True
    )
    # True when the decision was recorded from the conflict queue to settle a disagreement
    # between analysts. The server default (not only the Python one) is what gives rows written
    # before migration 0002, or by a hand-written INSERT, a definite False.
    resolution: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    # Shared by the events of one analyst action that decides several pairs at once (migration
    # 0003); undo takes the whole batch back. NULL on single decisions and on every older event.
    batch_id: Mapped[str | None] = mapped_column(String(32), nullable=True)

    def __repr__(self) -> str:
        return (
            f"LabelEventRow(id={self.id!r}, project={self.project!r}, pair=({self.left_id!r}, "
            f"{self.right_id!r}), decision={self.decision!r}, analyst={self.analyst!r})"
        )


class PairLeaseRow(Base):
    """A pair reserved for one analyst until ``expires_at`` (ORM row; see ``db.leases.Lease``).

    At most one lease per pair (the primary key), so "is this pair free?" and "take it" are one
    upsert: an analyst wins a pair when no lease exists, when the lease expired, or when it is
    already theirs (``db.leases.acquire_lease``). The lease is a courtesy between analysts, not a
    lock on the labels: a decision is recorded whoever holds the pair, and deletes its lease.
    """

    __tablename__ = "pair_leases"
    __table_args__ = (
        Index("ix_pair_leases_project_analyst", "project", "analyst"),
        CheckConstraint("length(trim(analyst)) > 0", name="analyst_not_blank"),
    )

    project: Mapped[str] = mapped_column(String, primary_key=True)
    left_id: Mapped[str] = mapped_column(String, primary_key=True)
    right_id: Mapped[str] = mapped_column(String, primary_key=True)
    analyst: Mapped[str] = mapped_column(String, nullable=False)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)

    def __repr__(self) -> str:
        return (f"PairLeaseRow(project={self.project!r}, pair=({self.left_id!r}, {self.right_id!r}), "
                f"analyst={self.analyst!r}, expires_at={self.expires_at!r})")
