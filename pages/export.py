"""Export: accepted links (DeepMatcher CSV, OpenEA ent_links, JSON) and the labels' full history."""

from __future__ import annotations

import streamlit as st

from core.formats.export import deepmatcher_csv, ent_links_tsv, links_json
from db.labels import history_csv
from ui.label_state import current_labels_frame, sessions
from ui.navigation import ensure_app_navigation
from ui.plain_text import code, literal
from ui.project_state import open_project, project_key

ensure_app_navigation()
directory, dataset = open_project()
st.title("Export")
labels = current_labels_frame()
accepted = labels[labels["decision"] == "accept"]
rejected = labels[labels["decision"] == "reject"]
st.write(f"**{len(accepted):,} accepted** and {len(rejected):,} rejected pairs in the label store "
         f"({code(project_key())}). Files are written on download; nothing in the project changes.")
if labels.empty:
    st.info("No labels yet: decide some pairs on the Review page first. The history export below is empty too.")

schema = dataset.schema
left_type_of = {c.name: c.left for c in schema.types}
right_type_of = {c.name: c.right for c in schema.types}
types = sorted(accepted["type"].unique())
chosen = st.multiselect("Types to export", types, default=types)
selected = accepted[accepted["type"].isin(chosen)]
with_rejected = st.checkbox("DeepMatcher CSV: include rejected pairs as label 0", value=False)

columns = st.columns(3)
columns[0].download_button(
    "DeepMatcher CSV", deepmatcher_csv(selected, left_type_of=left_type_of, right_type_of=right_type_of,
                                       rejected=rejected[rejected["type"].isin(chosen)] if with_rejected else None),
    file_name=f"{project_key()}-links.csv", mime="text/csv", disabled=selected.empty)
try:
    links_tsv = ent_links_tsv(selected)
    columns[1].download_button("OpenEA ent_links", links_tsv, file_name="ent_links", mime="text/tab-separated-values",
                               disabled=selected.empty)
except ValueError as exc:
    columns[1].warning(literal(exc))
columns[2].download_button("JSON", links_json(selected, project=project_key()),
                           file_name=f"{project_key()}-links.json", mime="application/json", disabled=selected.empty)

if not selected.empty:
    st.caption("The accepted links these files hold:")
    st.dataframe(selected, hide_index=True)

st.subheader("Label history")
st.caption("Every decision ever made, undo events included, oldest first.")
with sessions().begin() as session:
    history = history_csv(session, project=project_key())
st.download_button("Labels with their history (CSV)", history, file_name=f"{project_key()}-label-history.csv",
                   mime="text/csv")
