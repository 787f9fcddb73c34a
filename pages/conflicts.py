"""Conflict clusters: links that cannot all be right (one film matched to two movies, a rejected pair
joined by other links), reviewed as a group.

The clusters come from ``core.review.conflicts`` (accepted labels and the model's predicted
matches, connected components per type); each is shown with the reasons, its links by name and
probability, and per link: keep this one (accept it and reject the links that clash with it, as
one undoable step), accept, or reject.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.review.competitors import PairDecision
from core.review.conflicts import conflict_counts
from ui.label_state import ANALYST_PROMPT, analyst_name, current_labels_frame
from ui.navigation import ensure_app_navigation
from ui.plain_text import literal, shorten
from ui.project_state import active_version, load_scores, open_project
from ui.review_widgets import (compact_layout, conflict_clusters_of, entity_name, one_to_one, remembered_selectbox,
                               settle_links, undo_step)

ensure_app_navigation()
directory, dataset = open_project()
compact_layout()
st.title("Conflict clusters")
analyst = analyst_name()
version = active_version(str(directory))
scores = load_scores(str(directory), version)
labels = current_labels_frame()
if message := st.session_state.pop("flash", None):
    st.toast(message)
if not analyst:
    st.warning(ANALYST_PROMPT)

calibrated = "probability" in scores and scores["probability"].notna().all() and len(scores)
threshold = 0.5 if calibrated else float(scores["score"].quantile(0.99)) if len(scores) else 0.0
clusters = conflict_clusters_of(str(directory), version, scores, labels, threshold)
st.caption(("Links: accepted pairs and the model's predicted matches (probability ≥ 50%) nobody rejected. "
            if calibrated else f"No calibrated model: predicted matches are the top 1% of scores (≥ {threshold:.3f}). ")
           + "One-to-one types: " + (", ".join(sorted(one_to_one(str(directory)))) or "none") + ".")
counts = conflict_counts(clusters)
if counts.empty:
    st.success("No conflicts: no entity of a one-to-one type has two links, and no rejected pair is joined by links.")
    st.stop()
st.dataframe(counts, hide_index=True)
st.button("Undo my last step", on_click=undo_step, args=(analyst,), disabled=not analyst, key="conflict_undo")

types = ["(all types)"] + sorted(counts["type"])
chosen_type = remembered_selectbox("Conflicts of type", types, "conflict_type")
queue = {c.key: c for c in clusters if chosen_type == types[0] or c.type == chosen_type}
if st.session_state.get("conflict_choice") not in queue:
    st.session_state["conflict_choice"] = next(iter(queue))


def names(left_id: str, right_id: str) -> tuple[str, str]:
    return entity_name(dataset.left, left_id), entity_name(dataset.right, right_id)


def cluster_title(key: str) -> str:
    c = queue[key]
    lefts = ", ".join(shorten(entity_name(dataset.left, e), 40) for e in c.left_ids[:3]) + (" …" if len(c.left_ids) > 3 else "")
    rights = ", ".join(shorten(entity_name(dataset.right, e), 40) for e in c.right_ids[:3]) + (" …" if len(c.right_ids) > 3 else "")
    return f"{c.type} · {lefts} ↔ {rights} · {' and '.join(c.kinds)}"


# the queue of conflicts: a settled one drops out and the next one is chosen
key = st.selectbox(f"Conflict ({len(queue)} in the queue)", list(queue), key="conflict_choice", format_func=cluster_title)
cluster = queue[key]
st.markdown(f"Type **{literal(cluster.type)}** · {len(cluster.left_ids)} left, {len(cluster.right_ids)} right, "
            f"{len(cluster.links)} links")
for reason in cluster.reasons:
    st.markdown(f"- {literal(reason)}")


rows = []
for link in cluster.links:
    left_name, right_name = names(link.left_id, link.right_id)
    rows.append({"left": f"{shorten(left_name, 60)} ({link.left_id})", "right": f"{shorten(right_name, 60)} ({link.right_id})",
                 "link": link.source, "probability": link.probability})
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
if cluster.rejected:
    st.caption("Rejected inside the cluster: " + " · ".join(
        f"{literal(a)} ↔ {literal(b)}" for a, b in (names(*pair) for pair in cluster.rejected)))

unique = cluster.type in one_to_one(str(directory))
for number, link in enumerate(cluster.links, start=1):
    left_name, right_name = names(link.left_id, link.right_id)
    clashing = [other for other in cluster.links if other.pair != link.pair
                and (other.left_id == link.left_id or other.right_id == link.right_id)]
    keep = (PairDecision(link.left_id, link.right_id, link.type, "accept", None),) + tuple(
        PairDecision(o.left_id, o.right_id, o.type, "reject", None) for o in clashing if unique)
    columns = st.columns([6, 2, 1, 1])
    columns[0].markdown(f"{number}. {literal(shorten(left_name, 50))} ↔ {literal(shorten(right_name, 50))}")
    kept = len(keep) - 1
    columns[1].button(f"Keep this one{f' (reject {kept})' if kept else ''}", key=f"keep:{cluster.key}:{number}",
                      on_click=settle_links, args=(keep,), disabled=not analyst, width="stretch",
                      kwargs=dict(analyst=analyst, model_version=version,
                                  message=f"kept {literal(left_name)} ↔ {literal(right_name)}"
                                          + (f", rejected {kept} clashing link{'s' if kept != 1 else ''}" if kept else "")))
    for column, decision in ((columns[2], "accept"), (columns[3], "reject")):
        column.button(decision.capitalize(), key=f"{decision}:{cluster.key}:{number}", on_click=settle_links,
                      args=((PairDecision(link.left_id, link.right_id, link.type, decision, None),),),
                      disabled=not analyst, width="stretch",
                      kwargs=dict(analyst=analyst, model_version=version,
                                  message=f"{decision}: {literal(left_name)} ↔ {literal(right_name)}"))
