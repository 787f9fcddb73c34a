"""Review queue: one candidate pair at a time, decided with one key.

At 1280x720 everything needed to decide is on screen without scrolling: the two entities' names
with the decision buttons between them, their attributes aligned by the schema beside the
drawing (hop 1, evidence in words above it), and the competing candidates (keys 1-9: "this one
matches"). Counterfactuals and the attention numbers follow below.

Team queues: the pair on screen is reserved for this analyst for a few minutes (a lease in the
label store), so analysts working the same queue are shown different pairs. Blind mode (a
sidebar switch) hides what the model says about the pair and forces the seeded random order,
for unbiased gold labels; see ``review_widgets.blind_mode_toggle``.
"""

from __future__ import annotations

import zlib

import pandas as pd
import streamlit as st

from core.review.queue import QueueStrategy
from ui.label_state import (ANALYST_PROMPT, analyst_name, current_labels_frame, decided_keys, label_events,
                            log_entries)
from ui.navigation import ensure_app_navigation
from ui.plain_text import literal
from core.project.model_versions import gnn_version
from ui.project_state import (active_version, load_candidates, load_model, load_queue, load_scores, load_version_scorer,
                              open_project, score_types)
from ui.review_widgets import (aligned_attribute_table, blind_mode_toggle, claim_pair, compact_layout,
                               competitor_panel, counterfactual_panel, decisions_per_hour_of, draw_pair,
                               entity_heading, entity_name, evidence_words_panel, expert_tables, explanation_of,
                               last_decisions, next_pairs, other_analysts_note, prefetch, progress_panel, record,
                               release_my_pair, remembered_selectbox, undo_last_decision, waterfall_panel)

ensure_app_navigation()
directory, dataset = open_project()
compact_layout()
st.title("Review candidate pairs")
analyst = analyst_name()
version = active_version(str(directory))
if not len(load_candidates(str(directory))):
    st.info("This project has no candidate pairs: blocking found none (see the overview page).")
    st.stop()
scores = load_scores(str(directory), version)
events = label_events()  # read once: the current labels and the other analysts' note both come from it
labels = current_labels_frame(events)

blind = blind_mode_toggle()
if blind:
    strategy = QueueStrategy.RANDOM
    st.sidebar.caption("Blind mode: random order (seeded per analyst); no scores shown or stored.")
else:
    strategy = QueueStrategy(remembered_selectbox("Queue order", list(QueueStrategy), "strategy",
                                                  format_func=lambda s: QueueStrategy(s).label))
types = ["(all types)"] + score_types(str(directory), version)
chosen_type = remembered_selectbox("Entity type", types, "type_filter")
entity_type = None if chosen_type == types[0] else chosen_type
queue = load_queue(str(directory), version, QueueStrategy(strategy).value, entity_type, zlib.crc32(analyst.encode()))
decided = decided_keys(labels)
_, n_left = queue.pending(decided)

focus = st.session_state.get("focus_pair")
if focus is not None and scores[(scores["left_id"] == focus[0]) & (scores["right_id"] == focus[1])].empty:
    st.session_state.pop("focus_pair")
    focus = None
queue_in_force = (version, QueueStrategy(strategy).value, entity_type, blind)
shown_pair, leased = claim_pair(queue, scores, decided, analyst, focus,
                                keep_held=st.session_state.get("queue_in_force") == queue_in_force)
st.session_state["queue_in_force"] = queue_in_force
if shown_pair is None:
    release_my_pair(analyst)
    st.session_state["shown_pair"] = None
    if n_left:
        st.info(f"The {n_left:,} pairs left in this queue are on other analysts' screens right now; they come "
                "back here if they are not decided within a few minutes.")
    else:
        st.success("Nothing left to review here: every candidate pair in this queue has a decision.")
    progress_panel(labels, n_left, entity_type=entity_type, per_hour=decisions_per_hour_of(analyst))
    last_decisions(labels, analyst, version)
    st.stop()
row = scores[(scores["left_id"] == shown_pair[0]) & (scores["right_id"] == shown_pair[1])]
pair = row.iloc[0]
names = (entity_name(dataset.left, pair["left_id"]), entity_name(dataset.right, pair["right_id"]))

st.caption(f"Model: `{version or 'none yet (name similarity only)'}` · queue: {n_left:,} undecided pairs · "
           f"{strategy.label.lower()}" + (" · blind" if blind else "")
           + (" · opened from search" if focus is not None else "")
           + (" · reserved for you for a few minutes" if leased else ""))
# The queue holds only unlabelled pairs, so only a pair opened from search or brought back by undo
# can carry other analysts' labels; in blind mode they would bias the label as much as the score.
if focus is not None and not blind:
    shown = labels[(labels["left_id"] == pair["left_id"]) & (labels["right_id"] == pair["right_id"])]
    other_analysts_note(log_entries(events), (pair["left_id"], pair["right_id"]), analyst,
                        None if shown.empty else shown.iloc[0])

left_column, middle, right_column = st.columns([4, 3, 4])
entity_heading(left_column, "Left", dataset.left, pair["left_id"])
entity_heading(right_column, "Right", dataset.right, pair["right_id"])
context = dict(left_id=pair["left_id"], right_id=pair["right_id"], type=pair["type"], analyst=analyst,
               model_version=version, score=None if blind else float(pair["score"]))
# Keys name the pair: a key press that reaches the server while the page is already moving on
# belongs to the old pair's buttons, which the new run no longer has, so it cannot decide a pair
# the analyst has not seen.
pair_id = f"{pair['left_id']}|{pair['right_id']}"
with middle:
    if blind:
        st.caption(f"type **{literal(pair['type'])}** · blind mode: the model's score, probability and rank "
                   "are hidden")
    else:
        probability = pair.get("probability")
        figures = st.columns([3, 2])  # "Match probability" needs the wider half: it was cut to "Match proba…" at 1280 px
        figures[0].metric("Match probability", "-" if pd.isna(probability) else f"{probability:.1%}",
                          help=f"type {pair['type']} · rank {int(pair['rank'])} of the left entity's candidates")
        matcher_table = "decided" in pair.index
        figures[1].metric("Log-odds" if matcher_table else "Score", f"{pair['score']:.3f}",
                          help="the matcher's match log-odds (its parts are listed beside the drawing)"
                          if matcher_table else "-distance between the two embeddings (higher = more alike)")
    first_row, second_row = st.columns(2), st.columns(2)
    first_row[0].button("Accept", type="primary", shortcut="A", on_click=record, args=("accept", names),
                        kwargs=context, width="stretch", key=f"accept:{pair_id}", disabled=not analyst)
    first_row[1].button("Reject", shortcut="X", on_click=record, args=("reject", names), kwargs=context,
                        width="stretch", key=f"reject:{pair_id}", disabled=not analyst)
    second_row[0].button("Skip", shortcut="S", on_click=record, args=("skip", names), kwargs=context,
                         width="stretch", key=f"skip:{pair_id}", disabled=not analyst)
    second_row[1].button("Undo", shortcut="U", on_click=undo_last_decision, args=(analyst,), width="stretch",
                         key=f"undo:{pair_id}", disabled=not analyst)
    st.text_input("Note (optional)", key="note", placeholder="note (optional): why, for the record",
                  label_visibility="collapsed")
if not analyst:
    st.warning(ANALYST_PROMPT)
if message := st.session_state.pop("flash", None):
    st.toast(message)

facts, picture = st.columns([9, 14])
explanation = words = None
with facts:
    aligned_attribute_table(dataset, pair["left_id"], pair["right_id"])
    if version is not None and not blind:
        version_scorer, matcher_note = load_version_scorer(str(directory), version)
        if matcher_note:
            st.caption(literal(f"Probabilities: {matcher_note}."))
        waterfall_panel(pair, getattr(version_scorer, "threshold", None))
with picture:
    if blind:
        st.caption("Blind mode: the neighbourhood drawing is hidden (its edges show the model's attention).")
    elif version is None:
        st.info("No model yet: the attention drawing needs one. Train it on the **Retrain** page "
                "(or run `mualign train`).")
    else:
        scorer, _ = load_model(str(directory), gnn_version(version))
        explanation = explanation_of(str(directory), version, scorer, dataset, pair["left_id"], pair["right_id"])
        from core.review.evidence_words import evidence_in_words

        words = evidence_in_words(explanation)  # plain words for the hover; the panel below adds known links
        draw_pair(explanation, words)
with facts:
    if explanation is not None:
        evidence_words_panel(explanation, str(directory), labels)
    competitor_panel(str(directory), version, dataset, pair, labels, analyst=analyst, blind=blind)
if explanation is not None:
    with picture:
        counterfactual_panel(str(directory), version, scorer, dataset, pair["left_id"], pair["right_id"])
    expert_tables(explanation)

progress_panel(labels, n_left, entity_type=entity_type, per_hour=decisions_per_hour_of(analyst))
last_decisions(labels, analyst, version)
st.session_state["shown_pair"] = (pair["left_id"], pair["right_id"])  # last: the pair is fully on screen
if explanation is not None:  # the next pair's explanation and counterfactuals, ready before the key press
    prefetch(str(directory), version, scorer, dataset, lambda: next_pairs(queue, scores, decided, shown_pair))
