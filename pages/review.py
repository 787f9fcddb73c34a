"""Review queue: one candidate pair at a time, both neighbourhoods drawn, accept / reject / skip / undo.

Blind mode (a sidebar switch) hides what the model says about the pair and forces the seeded
random order, for unbiased gold labels; see ``review_widgets.blind_mode_toggle``.
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
from ui.project_state import (active_version, load_candidates, load_model, load_queue, load_scores, open_project,
                                 score_types)
from ui.review_widgets import (blind_mode_toggle, draw_attention, entity_column, last_decisions,
                                  other_analysts_note, progress_panel, record, undo_last_decision)

ensure_app_navigation()
directory, dataset = open_project()
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
    strategy = st.sidebar.selectbox("Queue order", list(QueueStrategy), format_func=lambda s: s.label,
                                    key="strategy")
types = ["(all types)"] + score_types(str(directory), version)
chosen_type = st.sidebar.selectbox("Entity type", types, key="type_filter")
queue = load_queue(str(directory), version, QueueStrategy(strategy).value,
                   None if chosen_type == types[0] else chosen_type, zlib.crc32(analyst.encode()))
next_rows, n_left = queue.pending(decided_keys(labels))

focus = st.session_state.get("focus_pair")
if focus is not None:
    row = scores[(scores["left_id"] == focus[0]) & (scores["right_id"] == focus[1])]
    if row.empty:
        st.session_state.pop("focus_pair")
        focus = None
if focus is None:
    if n_left == 0:
        st.session_state["shown_pair"] = None
        st.success("Nothing left to review here: every candidate pair in this queue has a decision.")
        progress_panel(labels, n_left)
        last_decisions(labels, analyst, version)
        st.stop()
    row = scores.iloc[next_rows[:1]]
pair = row.iloc[0]

st.caption(f"Model: `{version or 'none yet (name similarity only)'}` · queue: {n_left:,} undecided pairs · "
           f"{strategy.label.lower()}" + (" · blind" if blind else "")
           + (" · opened from search" if focus is not None else ""))
# The queue holds only unlabelled pairs, so only a pair opened from search or brought back by undo
# can carry other analysts' labels; in blind mode they would bias the label as much as the score.
if focus is not None and not blind:
    shown = labels[(labels["left_id"] == pair["left_id"]) & (labels["right_id"] == pair["right_id"])]
    other_analysts_note(log_entries(events), (pair["left_id"], pair["right_id"]), analyst,
                        None if shown.empty else shown.iloc[0])
left_column, middle, right_column = st.columns([5, 2, 5])
entity_column(left_column, "Left", dataset.left, pair["left_id"])
entity_column(right_column, "Right", dataset.right, pair["right_id"])
with middle:
    if blind:
        st.caption(f"type **{literal(pair['type'])}** · blind mode: the model's score, probability and rank "
                   "are hidden")
    else:
        probability = pair.get("probability")
        st.metric("Match probability", "-" if pd.isna(probability) else f"{probability:.1%}")
        st.metric("Score", f"{pair['score']:.3f}", help="-distance between the two embeddings (higher = more alike)")
        st.caption(f"type **{literal(pair['type'])}** · rank {int(pair['rank'])} of this left entity's candidates · "
                   f"name similarity {pair['name_score']:.2f}")

if not analyst:
    st.warning(ANALYST_PROMPT)
note = st.text_input("Note (optional)", key="note", placeholder="why, for the record")
buttons = st.columns(4)
context = dict(left_id=pair["left_id"], right_id=pair["right_id"], type=pair["type"], analyst=analyst,
               model_version=version, score=None if blind else float(pair["score"]))
# Keys name the pair: a key press that reaches the server while the page is already moving on
# belongs to the old pair's buttons, which the new run no longer has, so it cannot decide a pair
# the analyst has not seen.
pair_id = f"{pair['left_id']}|{pair['right_id']}"
buttons[0].button("Accept  (A)", type="primary", shortcut="A", on_click=record, args=("accept",), kwargs=context,
                  width="stretch", key=f"accept:{pair_id}", disabled=not analyst)
buttons[1].button("Reject  (X)", shortcut="X", on_click=record, args=("reject",), kwargs=context,
                  width="stretch", key=f"reject:{pair_id}", disabled=not analyst)
buttons[2].button("Skip  (S)", shortcut="S", on_click=record, args=("skip",), kwargs=context,
                  width="stretch", key=f"skip:{pair_id}", disabled=not analyst)
buttons[3].button("Undo  (U)", shortcut="U", on_click=undo_last_decision, args=(analyst,), width="stretch",
                  key=f"undo:{pair_id}", disabled=not analyst)
if message := st.session_state.pop("flash", None):
    st.toast(message)

if blind:
    st.caption("Blind mode: the neighbourhood drawing is hidden (its edges show the model's attention).")
elif version is None:
    st.info("No model yet: the attention drawing needs one. Train it on the **Retrain** page "
            "(or run `mualign train`).")
else:
    scorer, _ = load_model(str(directory), version)
    draw_attention(str(directory), version, scorer, dataset, pair["left_id"], pair["right_id"])

progress_panel(labels, n_left)
last_decisions(labels, analyst, version)
st.session_state["shown_pair"] = (pair["left_id"], pair["right_id"])  # last: the pair is fully on screen
