"""mualign's Streamlit entry point: routes to the pages in ``pages/``.

Start it with ``mualign review --project DIR``: that serves this app behind a Host allowlist
(``cli/streamlit_app.py``) with the safe settings of ``.streamlit/config.toml`` (this machine
only, no usage statistics, no Deploy button). ``streamlit run app.py -- --project DIR`` (or with
``MUALIGN_PROJECT`` set) also reads that config file, which checks the Host of the websocket but
not of plain HTTP requests. The default project is the demo's movie project written by
``mualign demo``. Labels go to ``DIR/labels.sqlite`` unless ``-- --db URL`` (or ``MUALIGN_DB``)
names another SQLAlchemy database; ``-- --user-header NAME`` takes the analyst's name from a
trusted proxy's request header (see ``ui.label_state.analyst_input``).

Page icons are emoji: a ``:material/...`` icon makes the browser fetch the tab's icon from a
font CDN, and no page may load anything from outside the server.
"""

from __future__ import annotations

import streamlit as st

from ui.failures import failures_as_messages
from ui.label_state import analyst_input

st.set_page_config(page_title="mualign", layout="wide")
navigation = st.navigation([
    st.Page("pages/review.py", title="Review", icon="✅", default=True),
    st.Page("pages/search.py", title="Find a pair", icon="🔎"),
    st.Page("pages/conflicts.py", title="Conflicts", icon="🧩"),
    st.Page("pages/bulk_accept.py", title="Bulk accept", icon="📦"),
    st.Page("pages/agreement.py", title="Agreement", icon="👥"),
    st.Page("pages/retrain.py", title="Retrain", icon="🔁"),
    st.Page("pages/evaluation.py", title="Evaluation", icon="📈"),
    st.Page("pages/export.py", title="Export", icon="📤"),
    st.Page("pages/overview.py", title="Project overview", icon="🗺️"),
])
analyst_input()  # on every page, so the name is kept across page changes
with failures_as_messages():  # a read-only store, a full disk, a damaged file: a message, not a traceback
    navigation.run()
