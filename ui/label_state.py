"""Who labels, and the label store as the pages use it: one engine per server, one transaction per action."""

from __future__ import annotations

import argparse
import os
import sys

import pandas as pd
import streamlit as st

from ui.plain_text import literal
from ui.project_state import database_url, project_key


@st.cache_resource(show_spinner=False)
def _sessions(url: str):
    from db.session import make_engine, make_sessionmaker

    return make_sessionmaker(make_engine(url))


def sessions():
    """The sessionmaker of the app's label database; callers use ``with sessions().begin() as s:``."""
    return _sessions(database_url())


ANALYST_PROMPT = ("Type your name in the **Analyst** box in the sidebar to label pairs: it is stored with every "
                  "decision, and kept in this tab's address, so a bookmark or a reload keeps it.")


def user_header() -> str | None:
    """The request header a trusted proxy names the analyst in, if the app was started with one.

    ``--user-header NAME`` after ``--`` on the streamlit command line (``mualign review
    --user-header X-Forwarded-User`` passes it), else ``MUALIGN_USER_HEADER``, else None (the
    analyst types their name).
    """
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--user-header")
    known, _ = parser.parse_known_args(sys.argv[1:])
    return (known.user_header or os.environ.get("MUALIGN_USER_HEADER") or "").strip() or None


def analyst_input() -> None:
    """The sidebar box with the analyst's name; ``app.py`` draws it on every page.

    The name lives under the session key ``analyst``, which no widget owns (Streamlit forgets a
    widget's own state on a page switch, and the name would be lost after *Find a pair*), and in
    the page address as ``?analyst=NAME``, which survives reloads, bookmarks and server restarts;
    a new session starts from the address. There is no fallback: until a name is given,
    :func:`analyst_name` is empty and the pages record nothing (the name of the account running
    the server is nobody's name, and decisions under it could not be told apart).

    Behind a proxy started with ``--user-header`` (see :func:`user_header`) the name is that
    request header's value, and the box only shows it: the proxy authenticated the analyst, and
    neither the box nor the address may claim another name. Typed names are not authenticated
    (see the README's team section).
    """
    header = user_header()
    if header is not None:
        name = (st.context.headers.get(header) or "").strip()
        st.session_state["analyst"] = st.session_state["analyst_box"] = name
        st.sidebar.text_input("Analyst", key="analyst_box", disabled=True,
                              help=f"Your name as the proxy in front of the app sends it ({header} header).")
        if not name:
            st.sidebar.warning(f"This request carries no {literal(header)} header, so nothing can be labelled: "
                               "open the app through the proxy that signs you in.")
        return
    if "analyst" not in st.session_state:
        st.session_state["analyst"] = str(st.query_params.get("analyst", "")).strip()
    st.session_state["analyst_box"] = st.session_state["analyst"]
    st.sidebar.text_input("Analyst", key="analyst_box", on_change=_remember_analyst, placeholder="your name",
                          help="Your name: stored with every decision you make, and kept in the page address.")
    _keep_in_address(st.session_state["analyst"])


def _remember_analyst() -> None:
    st.session_state["analyst"] = str(st.session_state["analyst_box"]).strip()


def _keep_in_address(name: str) -> None:
    """``?analyst=NAME`` in the address bar; page switches drop the query, so every run puts it back."""
    if name:
        if st.query_params.get("analyst") != name:
            st.query_params["analyst"] = name
    elif "analyst" in st.query_params:
        del st.query_params["analyst"]


def analyst_name() -> str:
    """Who is labelling (see :func:`analyst_input`); empty until a name is given."""
    return str(st.session_state.get("analyst", "")).strip()


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
