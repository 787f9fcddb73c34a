"""Pair search: look an entity up by name or id and open any of its candidate pairs for review."""

from __future__ import annotations

import streamlit as st

from core.review.entity_search import find_entities
from ui.label_state import current_labels_frame
from ui.navigation import ensure_app_navigation
from ui.plain_text import code
from ui.project_state import active_version, load_scores, open_project

ensure_app_navigation()
directory, dataset = open_project()
st.title("Find a pair")
side = st.radio("Graph", ["left", "right"], horizontal=True, format_func=str.capitalize)
query = st.text_input("Entity name or id", key="search_query", placeholder="e.g. Aditya Raj")
if not query.strip():
    st.caption("Type a name (typos are fine) or an exact entity id.")
    st.stop()

kg = dataset.left if side == "left" else dataset.right
matches = find_entities(kg, query)
if not matches:
    st.warning(f"No {side} entity looks like {code(query)}.")
    st.stop()
choice = st.selectbox("Entity", matches, format_func=lambda m: f"{m.name} · {m.type} · {m.entity_id}")

scores = load_scores(str(directory), active_version(str(directory)))
column = "left_id" if side == "left" else "right_id"
pairs = scores[scores[column] == choice.entity_id].sort_values("score", ascending=False)
if pairs.empty:
    st.info("This entity has no candidate pairs (blocking kept none, or its type is not aligned).")
    st.stop()

labels = current_labels_frame()[["left_id", "right_id", "decision"]]
pairs = pairs.merge(labels, on=["left_id", "right_id"], how="left").fillna({"decision": ""})
names = {"left_id": dict(zip(dataset.left.entity_ids, dataset.left.names)),
         "right_id": dict(zip(dataset.right.entity_ids, dataset.right.names))}
pairs.insert(1, "left name", pairs["left_id"].map(names["left_id"]))
pairs.insert(3, "right name", pairs["right_id"].map(names["right_id"]))
st.dataframe(pairs.drop(columns=["model_version"]), hide_index=True)

options = list(pairs.itertuples(index=False))
chosen = st.selectbox("Candidate pair", range(len(options)),
                      format_func=lambda i: f"{options[i][1]} ↔ {options[i][3]} (score {options[i].score:.3f})")
if st.button("Review this pair", type="primary"):
    st.session_state["focus_pair"] = (options[chosen].left_id, options[chosen].right_id)
    st.switch_page("pages/review.py")
