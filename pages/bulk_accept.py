"""Bulk accept with a check: accept every pair above a probability, once a blind sample says it is safe.

Pick a probability and a type; a random sample of the undecided pairs above it is reviewed here in
blind mode (names and attributes only: no score, no drawing), its precision and 95% interval are
shown, and only then can the rest be accepted, as one batch that one undo takes back
(``core.review.bulk``).
"""

from __future__ import annotations

import zlib

import pandas as pd
import streamlit as st

from core.review.bulk import blind_sample, bulk_accept_decisions, check_sample, pairs_above
from ui.label_state import ANALYST_PROMPT, analyst_name, current_labels_frame, decided_keys
from ui.navigation import ensure_app_navigation
from ui.plain_text import literal
from ui.project_state import active_version, load_scores, load_seed_keys, open_project, score_types
from ui.review_widgets import (aligned_attribute_table, compact_layout, entity_heading, record_bulk_accept,
                               record_sample_label, undo_step)

ensure_app_navigation()
directory, dataset = open_project()
compact_layout()
st.title("Bulk accept with a check")
analyst = analyst_name()
version = active_version(str(directory))
scores = load_scores(str(directory), version)
labels = current_labels_frame()
if message := st.session_state.pop("flash", None):
    st.toast(message)
if not analyst:
    st.warning(ANALYST_PROMPT)
if not ("probability" in scores and len(scores) and scores["probability"].notna().all()):
    st.info("Bulk accept needs match probabilities: train a model on the **Retrain** page first.")
    st.stop()

controls = st.columns([3, 2, 2])
threshold = float(controls[0].number_input("Accept every pair with a probability of at least", 0.5, 1.0, 0.95, 0.01,
                                           key="bulk_threshold", format="%.2f"))
types = ["(all types)"] + score_types(str(directory), version)
chosen = controls[1].selectbox("Entity type", types, key="bulk_type")
size = int(controls[2].number_input("Blind sample size", 5, 500, 30, 5, key="bulk_size"))
entity_type = None if chosen == types[0] else chosen
exclude = decided_keys(labels) | set(load_seed_keys(str(directory)))
pairs = pairs_above(scores, threshold, exclude=exclude, entity_type=entity_type)
st.markdown(f"**{len(pairs):,} undecided pairs** at or above {threshold:.0%}"
            + (f" of type {literal(entity_type)}" if entity_type else ""))
st.button("Undo my last step", on_click=undo_step, args=(analyst,), disabled=not analyst, key="bulk_undo")

setting = (threshold, entity_type, size)
sample_state = st.session_state.get("bulk_sample")
if sample_state is None or sample_state["setting"] != setting:
    if not len(pairs):
        st.stop()
    if st.button(f"Draw a blind sample of {min(size, len(pairs))} pairs", type="primary", disabled=not analyst):
        seed = zlib.crc32(f"{analyst}|{threshold}|{entity_type}|{len(labels)}".encode())
        st.session_state["bulk_sample"] = {"setting": setting, "pairs": blind_sample(pairs, size, seed=seed)}
        st.rerun()
    st.stop()

sample: pd.DataFrame = sample_state["pairs"]
current = {(a, b): d for a, b, d in zip(labels["left_id"], labels["right_id"], labels["decision"])}
check = check_sample(sample, current)
st.progress(check.reviewed / max(check.sample_size, 1),
            text=f"Blind sample: {check.reviewed} of {check.sample_size} reviewed")
if not check.complete:
    pending = next(row for row in sample.itertuples(index=False) if (row.left_id, row.right_id) not in current)
    left, right = st.columns(2)
    entity_heading(left, "Left", dataset.left, pending.left_id)
    entity_heading(right, "Right", dataset.right, pending.right_id)
    aligned_attribute_table(dataset, pending.left_id, pending.right_id)
    context = dict(left_id=pending.left_id, right_id=pending.right_id, type_name=pending.type, analyst=analyst,
                   model_version=version)
    buttons = st.columns(3)
    for column, (word, key) in zip(buttons, (("accept", "A"), ("reject", "X"), ("skip", "S"))):
        column.button(word.capitalize(), shortcut=key, type="primary" if word == "accept" else "secondary",
                      on_click=record_sample_label, args=(word,), kwargs=context, disabled=not analyst,
                      key=f"sample:{word}:{pending.left_id}|{pending.right_id}", width="stretch")
    st.stop()

if check.precision is None:
    st.warning("Every sample pair was skipped: the sample says nothing. Draw another one.")
    st.session_state.pop("bulk_sample", None)
    st.stop()
st.metric("Precision of the blind sample", f"{check.precision:.1%}",
          help="accepted / (accepted + rejected) among the sample pairs; skipped pairs are left out")
st.caption(f"{check.accepted} accepted, {check.rejected} rejected, {check.skipped} skipped · 95% interval "
           f"{check.precision_low:.1%} to {check.precision_high:.1%} (Wilson)")
decisions = bulk_accept_decisions(pairs, labels=current)
st.button(f"Accept the {len(decisions):,} remaining pairs as one step", type="primary", disabled=not analyst,
          on_click=record_bulk_accept, args=(decisions,), key="bulk_apply",
          kwargs=dict(analyst=analyst, model_version=version, threshold=threshold, precision=check.precision))
