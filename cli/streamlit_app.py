"""The app ``mualign review`` serves: ``app.py`` behind the Host allowlist of :mod:`cli.server`.

``streamlit run`` finds the ``st.App`` named ``app`` below and serves it instead of running this
file as a page; every request passes :class:`cli.server.HostAllowlist` first. Start it through
``mualign review`` (or ``cli.server.streamlit_command``), which passes the settings and the
allowlist; ``app.py`` reads its ``--project``/``--db``/``--user-header`` after ``--`` as usual.
"""

import sys
from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # streamlit puts this file's folder (cli/) on the path, not the repository
    sys.path.insert(0, str(REPO))

from cli.server import HostAllowlist  # noqa: E402

app = st.App(REPO / "app.py", middleware=[Middleware(HostAllowlist)])
