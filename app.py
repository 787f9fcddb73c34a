"""mualign's Streamlit entry point: routes to the pages in ``pages/``.

Start it with ``streamlit run app.py -- --project DIR`` (or set ``MUALIGN_PROJECT``); the
default is the demo's movie project written by ``mualign demo``.
"""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="mualign", layout="wide")
navigation = st.navigation([
    st.Page("pages/overview.py", title="Project overview", default=True),
])
navigation.run()
