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
    LabelEvent,
    PairLabel,
    ProgressRow,
    current_labels,
    derive_current,
    events,
    history_csv,
    label_of,
    progress,
    record_decision,
    undo_last,
)
from db.models import Base, LabelEventRow
from db.session import LABELS_FILENAME, default_url, make_engine, make_sessionmaker

__all__ = [
    "HISTORY_COLUMNS",
    "LABELS_FILENAME",
    "LABEL_DECISIONS",
    "Base",
    "Decision",
    "LabelEvent",
    "LabelEventRow",
    "PairLabel",
    "ProgressRow",
    "current_labels",
    "default_url",
    "derive_current",
    "events",
    "history_csv",
    "label_of",
    "make_engine",
    "make_sessionmaker",
    "progress",
    "record_decision",
    "undo_last",
]
