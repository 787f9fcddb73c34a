"""The labels store: analysts' match decisions, kept as an append-only log.

Why append-only: a label is evidence used to train and evaluate the aligner, so the store keeps
who decided what, when, and with which model version. Changing a decision or undoing one
appends a new event instead of updating or deleting a row; the current label of a pair is
derived from the log (``derive_current``). Mistakes are therefore reversible, the full history
can be exported for audit (``history_csv``), and two analysts writing at once only ever add
rows, never overwrite each other's.

Usage (each analyst action is one transaction)::

    engine = make_engine(default_url(project_dir))
    Session = make_sessionmaker(engine)
    with Session.begin() as session:
        record_decision(session, project="films", left_id="f1", right_id="m10",
                        type="film", decision=Decision.ACCEPT, analyst="ana")

This package imports only SQLAlchemy and the standard library (no torch, dgl, pandas or
streamlit), so labels load and are tested without the model; pages build DataFrames themselves.
"""

from db.decisions import LABEL_DECISIONS, Decision
from db.labels import (
    HISTORY_COLUMNS,
    BatchDecision,
    LabelEvent,
    PairLabel,
    ProgressRow,
    current_labels,
    decisions_per_hour,
    derive_current,
    events,
    history_csv,
    label_of,
    progress,
    record_batch,
    record_decision,
    undo_last,
    undo_last_step,
)
from db.leases import DEFAULT_LEASE, Lease, acquire_lease, active_leases, held_by_others, lease_of, release_leases
from db.models import Base, LabelEventRow, PairLeaseRow
from db.session import LABELS_FILENAME, default_url, make_engine, make_sessionmaker

__all__ = [
    "DEFAULT_LEASE",
    "HISTORY_COLUMNS",
    "LABELS_FILENAME",
    "LABEL_DECISIONS",
    "Base",
    "BatchDecision",
    "Decision",
    "LabelEvent",
    "LabelEventRow",
    "Lease",
    "PairLabel",
    "PairLeaseRow",
    "ProgressRow",
    "acquire_lease",
    "active_leases",
    "current_labels",
    "decisions_per_hour",
    "default_url",
    "derive_current",
    "events",
    "held_by_others",
    "history_csv",
    "label_of",
    "lease_of",
    "make_engine",
    "make_sessionmaker",
    "progress",
    "record_batch",
    "record_decision",
    "release_leases",
    "undo_last",
    "undo_last_step",
]
