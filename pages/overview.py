"""Project overview: the two graphs, the aligned types, the known links and blocking quality."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui.navigation import ensure_app_navigation
from ui.plain_text import code
from ui.project_state import blocking_report, blocking_settings, blocking_source_rows, open_project
from ui.review_widgets import conflict_overview

ensure_app_navigation()
directory, dataset = open_project()
st.title("mualign: project overview")
st.caption(f"Project directory: {code(directory)}")

left, right = st.columns(2)
for column, side, kg in ((left, "Left graph", dataset.left), (right, "Right graph", dataset.right)):
    summary = kg.summary()
    column.subheader(side)
    column.metric("Entities", f"{summary['entities']:,}")
    column.metric("Triples", f"{summary['triples']:,}")
    column.dataframe(pd.Series(summary["entities_per_type"], name="entities").rename_axis("type"))

st.subheader("Aligned types and known matches")
counts = dataset.links.counts(dataset.schema.type_names)
rows = [{"aligned type": c.name, "left type": c.left, "right type": c.right,
         **{split: counts.get(split, {}).get(c.name, 0) for split in ("train", "valid", "test", "unused")}}
        for c in dataset.schema.types]
st.dataframe(pd.DataFrame(rows), hide_index=True)

st.subheader("Blocking")
if (report := blocking_report(str(directory))) is not None:  # as stored by `mualign block`, never redone here
    st.caption(blocking_settings(report))
    st.dataframe(pd.DataFrame([{
        "type": s.type, "left": s.n_left, "right": s.n_right, "candidates": s.n_candidates,
        "per left entity": round(s.candidates_per_left, 2), "pair completeness": s.pair_completeness,
        "reduction ratio": round(s.reduction_ratio, 5), "exact key": s.key or "",
        "seconds": round(s.seconds, 2)} for s in report.per_type]), hide_index=True)
    if source_rows := blocking_source_rows(report):  # names and structure (or embeddings) together
        st.caption("Each candidate source on its own; held-out: known matches that are not anchors (TRAIN links).")
        st.dataframe(pd.DataFrame(source_rows), hide_index=True)

st.subheader("Conflict clusters")
conflict_overview(str(directory))  # links that cannot all be right (ui.review_widgets, core.review.conflicts)
