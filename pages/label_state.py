"""The label store as the pages use it: one engine per server, one transaction per analyst action."""

from __future__ import annotations

import getpass

import pandas as pd
import streamlit as st

from pages.project_state import database_url, project_key


@st.cache_resource(show_spinner=False)
def _sessions(url: str):
    from db.session import make_engine, make_sessionmaker

    return make_sessionmaker(make_engine(url))


def sessions():
    """The sessionmaker of the app's label database; callers use ``with sessions().begin() as s:``."""
    return _sessions(database_url())


def analyst_name() -> str:
    """Who is labelling: asked once in the sidebar, kept in the analyst's own session."""
    if "analyst" not in st.session_state:
        try:
            st.session_state["analyst"] = getpass.getuser()
        except Exception:  # noqa: BLE001 - no login name in some containers
            st.session_state["analyst"] = "analyst"
    st.sidebar.text_input("Analyst", key="analyst", help="Your name: stored with every decision you make.")
    return st.session_state["analyst"].strip() or "analyst"


def current_labels_frame() -> pd.DataFrame:
    """Every pair's current label (one row per pair) as a frame, newest last."""
    from db.labels import current_labels

    with sessions().begin() as session:
        labels = current_labels(session, project=project_key())
    columns = ["left_id", "right_id", "type", "decision", "analyst", "decided_at", "model_version", "note"]
    return pd.DataFrame([{**{c: getattr(label, c) for c in columns if c != "decision"},
                          "decision": label.decision.value} for label in labels], columns=columns)


def decided_keys(labels: pd.DataFrame) -> set[str]:
    from core.review_queue import pair_key

    return {pair_key(a, b) for a, b in zip(labels["left_id"], labels["right_id"])}


def analyst_labels(labels: pd.DataFrame):
    """Accept/reject labels as training labels for :func:`core.analyst_labels.with_analyst_labels`."""
    from core.analyst_labels import AnalystLabel

    decided = labels[labels["decision"].isin(["accept", "reject"])]
    return [AnalystLabel(str(a), str(b), d == "accept")
            for a, b, d in zip(decided["left_id"], decided["right_id"], decided["decision"])]
