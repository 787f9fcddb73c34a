"""The label store as the pages use it: one engine per server, one transaction per analyst action."""

from __future__ import annotations

import getpass

import pandas as pd
import streamlit as st

from ui.project_state import database_url, project_key


@st.cache_resource(show_spinner=False)
def _sessions(url: str):
    from db.session import make_engine, make_sessionmaker

    return make_sessionmaker(make_engine(url))


def sessions():
    """The sessionmaker of the app's label database; callers use ``with sessions().begin() as s:``."""
    return _sessions(database_url())


def analyst_input() -> None:
    """The sidebar box where an analyst types their name; ``app.py`` draws it on every page.

    Drawn by the entry point rather than by a page because Streamlit drops a widget's state on a
    run that does not draw it: a name typed on the review page would be forgotten after a visit
    to a page without the box. The name is typed, not authenticated (see the README's team
    section).
    """
    if "analyst" not in st.session_state:
        try:
            st.session_state["analyst"] = getpass.getuser()
        except Exception:  # noqa: BLE001 - no login name in some containers
            st.session_state["analyst"] = "analyst"
    st.sidebar.text_input("Analyst", key="analyst", help="Your name: stored with every decision you make.")


def analyst_name() -> str:
    """Who is labelling, as typed in the sidebar box of :func:`analyst_input`."""
    return str(st.session_state.get("analyst", "")).strip() or "analyst"


def label_events() -> list:
    """The project's whole label log (``db.LabelEvent``, oldest first): one read per page run."""
    from db.labels import events

    with sessions().begin() as session:
        return events(session, project=project_key())[::-1]


def log_entries(events: list | None = None) -> list:
    """The log as :class:`core.review.agreement.LogEntry` values, for agreement and conflicts."""
    from core.review.agreement import log_entries as convert

    return convert(label_events() if events is None else events)


def current_labels_frame(events: list | None = None) -> pd.DataFrame:
    """Every pair's current label (one row per pair) as a frame, newest last.

    ``events``: the log from :func:`label_events` when the page already read it (else read here).
    """
    from db.labels import derive_current

    labels = derive_current(label_events() if events is None else events)
    columns = ["left_id", "right_id", "type", "decision", "analyst", "decided_at", "model_version", "note"]
    return pd.DataFrame([{**{c: getattr(label, c) for c in columns if c != "decision"},
                          "decision": label.decision.value} for label in labels], columns=columns)


def decided_keys(labels: pd.DataFrame) -> set[str]:
    from core.review.queue import pair_key

    return {pair_key(a, b) for a, b in zip(labels["left_id"], labels["right_id"])}


def analyst_labels(labels: pd.DataFrame):
    """Accept/reject labels as training labels for :func:`core.review.labels_as_links.with_analyst_labels`."""
    from core.review.labels_as_links import AnalystLabel

    decided = labels[labels["decision"].isin(["accept", "reject"])]
    return [AnalystLabel(str(a), str(b), d == "accept")
            for a, b, d in zip(decided["left_id"], decided["right_id"], decided["decision"])]
