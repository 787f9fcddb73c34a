"""The review page's parts: entity cards, decision callbacks, the drawing, progress, last decisions."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages.label_state import sessions
from pages.project_state import project_key

DRAWING_HEIGHT = 640


def entity_column(column, title: str, kg, entity_id: str) -> None:
    from core.entity_card import entity_card

    (index,) = kg.indices_of([entity_id])
    card = entity_card(kg, int(index))
    with column:
        st.caption(f"{title} · {card.type} · `{card.entity_id}` · {card.degree} links")
        st.subheader(card.name, anchor=False)
        if card.attributes:
            st.table(pd.DataFrame(card.attributes, columns=["attribute", "value"]).set_index("attribute"))


def _claim_shown_pair(pair: tuple[str, str]) -> bool:
    """Take the one decision the pair on screen allows; False (and a toast) while the page is changing.

    The review page sets ``shown_pair`` as the last thing a run does, when the pair is fully on
    screen. A decision clears it, so a second key press that reaches the server before the next
    pair is drawn (the browser may still show the old buttons, or both) records nothing instead
    of deciding a pair the analyst has not seen, or deciding twice.
    """
    if st.session_state.get("shown_pair") != pair:
        st.session_state["flash"] = "The page was still changing: nothing recorded. Press again."
        return False
    st.session_state["shown_pair"] = None
    return True


def record(decision: str, **context) -> None:
    """Button callback: store one decision (its own transaction), then the page shows the next pair."""
    from db.labels import record_decision

    if not _claim_shown_pair((context["left_id"], context["right_id"])):
        return
    note = st.session_state.get("note", "").strip() or None
    with sessions().begin() as session:
        record_decision(session, project=project_key(), decision=decision, note=note, **context)
    st.session_state["note"] = ""
    st.session_state.pop("focus_pair", None)
    st.session_state["flash"] = f"{decision}: {context['left_id']} ↔ {context['right_id']}"


def undo_last_decision(analyst: str) -> None:
    """Undo is a new event; the undone pair comes back to the front of the review."""
    from db.labels import undo_last

    if not _claim_shown_pair(st.session_state.get("shown_pair") or ("", "")):
        return
    with sessions().begin() as session:
        undone = undo_last(session, project=project_key(), analyst=analyst)
    if undone is None:
        st.session_state["flash"] = "Nothing to undo."
        return
    st.session_state["focus_pair"] = (undone.left_id, undone.right_id)
    st.session_state["flash"] = f"undone: {undone.decision.value} of {undone.left_id} ↔ {undone.right_id}"


def change_decision(left_id: str, right_id: str, type_name: str, analyst: str, version: str | None) -> None:
    """Callback of the side list: the new choice is recorded as a new decision on that pair."""
    from db.labels import record_decision

    decision = st.session_state[f"edit:{left_id}:{right_id}"]
    with sessions().begin() as session:
        record_decision(session, project=project_key(), left_id=left_id, right_id=right_id, type=type_name,
                        decision=decision, analyst=analyst, model_version=version)
    st.session_state["flash"] = f"changed to {decision}: {left_id} ↔ {right_id}"


@st.cache_resource(show_spinner="Explaining the pair…", max_entries=256)
def _explanation(directory: str, version: str, left_id: str, right_id: str, _scorer, _dataset):
    from core.explain import explain_pair

    (left,), (right,) = _dataset.left.indices_of([left_id]), _dataset.right.indices_of([right_id])
    return explain_pair(_scorer, int(left), int(right), model_version=version)


def draw_attention(directory: str, version: str, scorer, dataset, left_id: str, right_id: str) -> None:
    """The two sampled neighbourhoods with the top layer's attention, and the same numbers as tables."""
    from core.drawing import AttentionMode, evidence_table, render_pair_html

    explanation = _explanation(directory, version, left_id, right_id, scorer, dataset)
    labels = {AttentionMode.COMBINED: "Combined w = α·β", AttentionMode.CROSS: "Cross-graph α",
              AttentionMode.SELF: "Self-attention β"}
    mode = st.radio("Edge width shows", list(labels), format_func=labels.get, horizontal=True, key="attention_mode")
    st.iframe(render_pair_html(explanation, mode=mode, height_px=DRAWING_HEIGHT), height=DRAWING_HEIGHT + 90)
    st.markdown("**The same evidence as tables** (top layer; hop-2 neighbours feed their hop-1 node by a mean)")
    left_table, right_table = st.columns(2)
    for column, side, title in ((left_table, "left", "Left neighbours"), (right_table, "right", "Right neighbours")):
        column.caption(title)
        table = evidence_table(explanation, side)
        if table.empty:
            column.write("No neighbours: the score rests on the entity's own name and attributes.")
        else:
            column.dataframe(table, hide_index=True, width="stretch")


def progress_panel(labels: pd.DataFrame, queue: pd.DataFrame) -> None:
    """How far the review is: decided pairs overall, per type and per analyst."""
    sidebar = st.sidebar
    decided = len(labels)
    sidebar.markdown(f"**Progress**: {decided:,} decided · {len(queue):,} left in this queue")
    sidebar.progress(decided / max(decided + len(queue), 1))
    if decided:
        counts = labels.pivot_table(index="type", columns="decision", values="left_id", aggfunc="count",
                                    fill_value=0)
        sidebar.dataframe(counts, width="stretch")
        sidebar.dataframe(labels.groupby("analyst").size().rename("decisions"), width="stretch")


def last_decisions(labels: pd.DataFrame, analyst: str, version: str | None, limit: int = 8) -> None:
    """The analyst's latest current labels (``labels`` oldest first), each still editable."""
    mine = labels[labels["analyst"] == analyst].tail(limit)
    st.sidebar.markdown("**Your last decisions**")
    if mine.empty:
        st.sidebar.caption("None yet.")
    for label in mine.iloc[::-1].itertuples(index=False):
        key = f"edit:{label.left_id}:{label.right_id}"
        st.session_state[key] = label.decision
        st.sidebar.selectbox(f"{label.left_id} ↔ {label.right_id}", ["accept", "reject", "skip"], key=key,
                             on_change=change_decision,
                             args=(label.left_id, label.right_id, label.type, analyst, version))
