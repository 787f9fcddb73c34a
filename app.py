"""mualign's Streamlit entry point: routes to the pages in ``pages/``.

Start it with ``mualign review --project DIR`` (or ``streamlit run app.py -- --project DIR``, or
set ``MUALIGN_PROJECT``); the default is the demo's movie project written by ``mualign demo``.
Labels go to ``DIR/labels.sqlite`` unless ``-- --db URL`` (or ``MUALIGN_DB``) names another
SQLAlchemy database.
"""

from __future__ import annotations

import streamlit as st

from ui.failures import failures_as_messages
from ui.label_state import analyst_input

st.set_page_config(page_title="mualign", layout="wide")
navigation = st.navigation([
    st.Page("pages/review.py", title="Review", icon=":material/fact_check:", default=True),
    st.Page("pages/search.py", title="Find a pair", icon=":material/search:"),
    st.Page("pages/agreement.py", title="Agreement", icon=":material/group:"),
    st.Page("pages/retrain.py", title="Retrain", icon=":material/model_training:"),
    st.Page("pages/evaluation.py", title="Evaluation", icon=":material/monitoring:"),
    st.Page("pages/export.py", title="Export", icon=":material/download:"),
    st.Page("pages/overview.py", title="Project overview", icon=":material/hub:"),
])
analyst_input()  # on every page, so the typed name survives page changes
with failures_as_messages():  # a read-only store, a full disk, a damaged file: a message, not a traceback
    navigation.run()
