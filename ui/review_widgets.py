"""The review page's parts: entity cards, decision callbacks, the drawing, progress, last decisions.

Every name, id, type and value from the data goes through :func:`ui.plain_text.literal` before
it reaches a Markdown-rendering element (see that module: the data is shown as text, never as
markup).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui.failures import reported
from ui.label_state import ANALYST_PROMPT, sessions
from ui.plain_text import code, literal, shorten
from ui.project_state import project_key

DRAWING_HEIGHT = 640
NAME_CHARS = 200  # longer names are cut in the card's heading; the full text is one click away
VALUE_CHARS = 300  # the same for attribute values in the card's table


def entity_column(column, title: str, kg, entity_id: str) -> None:
    from core.review.entity_card import entity_card

    (index,) = kg.indices_of([entity_id])
    card = entity_card(kg, int(index))
    with column:
        st.caption(f"{title} · {literal(card.type)} · {code(card.entity_id)} · {card.degree} links")
        st.subheader(literal(shorten(card.name, NAME_CHARS)), anchor=False)
        if card.attributes:
            st.table(pd.DataFrame([(literal(a), literal(shorten(v, VALUE_CHARS))) for a, v in card.attributes],
                                  columns=["attribute", "value"]).set_index("attribute"))
        long = [("name", card.name)] * (len(card.name) > NAME_CHARS) + [
            (a, v) for a, v in card.attributes if len(v) > VALUE_CHARS]
        if long:
            with st.expander("Full text of long values"):
                for attribute, value in long:
                    st.caption(literal(attribute))
                    st.text(value)


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


def _has_analyst(analyst: str) -> bool:
    """False (and the prompt as a toast) when no analyst name is given: nothing is recorded then.

    The page disables its buttons without a name; this also covers a click or key press sent by
    a page drawn before the name was cleared.
    """
    if analyst.strip():
        return True
    st.session_state["flash"] = f"Nothing recorded. {ANALYST_PROMPT}"
    return False


@reported
def record(decision: str, **context) -> None:
    """Button callback: store one decision (its own transaction), then the page shows the next pair."""
    from db.labels import record_decision

    if not _has_analyst(context["analyst"]) or not _claim_shown_pair((context["left_id"], context["right_id"])):
        return
    note = st.session_state.get("note", "").strip() or None
    with sessions().begin() as session:
        record_decision(session, project=project_key(), decision=decision, note=note, **context)
    st.session_state["note"] = ""
    st.session_state.pop("focus_pair", None)
    st.session_state["flash"] = f"{decision}: {literal(context['left_id'])} ↔ {literal(context['right_id'])}"


@reported
def undo_last_decision(analyst: str) -> None:
    """Undo is a new event; the undone pair comes back to the front of the review."""
    from db.labels import undo_last

    if not _has_analyst(analyst) or not _claim_shown_pair(st.session_state.get("shown_pair") or ("", "")):
        return
    with sessions().begin() as session:
        undone = undo_last(session, project=project_key(), analyst=analyst)
    if undone is None:
        st.session_state["flash"] = "Nothing to undo."
        return
    st.session_state["focus_pair"] = (undone.left_id, undone.right_id)
    st.session_state["flash"] = (f"undone: {undone.decision.value} of {literal(undone.left_id)} ↔ "
                                 f"{literal(undone.right_id)}")


@reported
def change_decision(left_id: str, right_id: str, type_name: str, analyst: str, version: str | None) -> None:
    """Callback of the side list: the new choice is recorded as a new decision on that pair."""
    from db.labels import record_decision

    decision = st.session_state[f"edit:{left_id}:{right_id}"]
    if not _has_analyst(analyst):
        return
    with sessions().begin() as session:
        record_decision(session, project=project_key(), left_id=left_id, right_id=right_id, type=type_name,
                        decision=decision, analyst=analyst, model_version=version)
    st.session_state["flash"] = f"changed to {decision}: {literal(left_id)} ↔ {literal(right_id)}"


@st.cache_resource(show_spinner="Explaining the pair…", max_entries=256)
def _explanation(directory: str, version: str, left_id: str, right_id: str, _scorer, _dataset):
    from core.explanations.attention import explain_pair

    (left,), (right,) = _dataset.left.indices_of([left_id]), _dataset.right.indices_of([right_id])
    return explain_pair(_scorer, int(left), int(right), model_version=version)


def draw_attention(directory: str, version: str, scorer, dataset, left_id: str, right_id: str) -> None:
    """The two sampled neighbourhoods with the top layer's attention, and the same numbers as tables."""
    from core.explanations.drawing import AttentionMode, evidence_table, render_pair_html

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


def progress_panel(labels: pd.DataFrame, n_left: int) -> None:
    """How far the review is: decided pairs overall, per type and per analyst."""
    sidebar = st.sidebar
    decided = len(labels)
    sidebar.markdown(f"**Progress**: {decided:,} decided · {n_left:,} left in this queue")
    sidebar.progress(decided / max(decided + n_left, 1))
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
        # A widget label is Markdown on screen but verbatim in its accessible name (aria-label), so
        # an escaped label would read with backslashes: the label stays raw for assistive tools and
        # the caption shows the ids literally.
        st.sidebar.caption(f"{literal(label.left_id)} ↔ {literal(label.right_id)}")
        st.sidebar.selectbox(f"{label.left_id} ↔ {label.right_id}", ["accept", "reject", "skip"], key=key,
                             label_visibility="collapsed", on_change=change_decision,
                             args=(label.left_id, label.right_id, label.type, analyst, version))


def blind_mode_toggle() -> bool:
    """The sidebar switch for blind labelling: no score, probability, rank or score-ordered queue.

    Gold labels meant to measure the model must not be nudged by it, so in blind mode the page
    hides everything the model says about the pair (the drawing too: its edges are the model's
    attention and its legend states distance and probability), the queue is the seeded random
    order, and decisions are stored without a score. The choice is kept under ``blind_mode``, a
    key no widget owns: Streamlit forgets a widget's own state after a run of another page, and
    an analyst who came back from the search page would otherwise find the scores shown again.
    """
    st.session_state.setdefault("blind_mode", False)
    st.session_state["blind_toggle"] = st.session_state["blind_mode"]
    st.sidebar.toggle("Blind mode", key="blind_toggle", on_change=_remember_blind_mode,
                      help="Hide the model's score, probability, rank and drawing, and review in the seeded random "
                           "order: unbiased gold labels. Decisions are stored without a score.")
    return bool(st.session_state["blind_mode"])


def _remember_blind_mode() -> None:
    st.session_state["blind_mode"] = st.session_state["blind_toggle"]


def other_analysts_note(entries: list, pair: tuple[str, str], analyst: str, current) -> None:
    """Say so when other analysts labelled the pair on screen, and loudly when analysts disagree.

    The queue never shows a labelled pair, so this appears for pairs opened from search or
    brought back by undo. The project-wide label stays the latest event (``current``: the
    pair's row of the current-labels frame, or None); the note makes a disagreement that rule
    would hide visible, and points to the Agreement page's conflict queue.
    """
    from core.review.agreement import conflicts, pair_votes

    votes = pair_votes(entries, *pair)
    if not any(v.analyst != analyst for v in votes):
        return
    said = " · ".join(f"{literal(v.analyst)}: **{v.decision}**" for v in votes)
    found = conflicts([e for e in entries if e.pair == pair], include_settled=True)
    if not found:
        st.caption(f"Also labelled by another analyst: {said}")
    elif found[0].settled:
        resolution = found[0].resolution
        st.info(f"Analysts disagreed on this pair ({said}); {literal(resolution.analyst)} settled it as "
                f"**{resolution.decision}** on the Agreement page.")
    else:
        latest = "" if current is None else (f" The pair's current label is the latest one: "
                                              f"{literal(current['analyst'])}'s {current['decision']}.")
        st.warning(f"Analysts disagree on this pair: {said}.{latest} Settle it in the conflict queue on the "
                   f"**Agreement** page.")
