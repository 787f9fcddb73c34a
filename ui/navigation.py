"""The app's own navigation on every page, whatever URL the server's first request names.

Streamlit keeps an older multipage mode for apps with a ``pages/`` folder beside the entry
script: there each ``pages/*.py`` is a page of its own, listed by file name, and runs without the
entry script. ``app.py`` leaves that mode by calling ``st.navigation``, but only once it has run
in the server process. After a (re)start, a first request for another page (a bookmark to
``/agreement``, a reloaded tab) runs that page in the old mode before ``app.py`` ever ran: the
sidebar lists the files (``app``, ``agreement``, ...) instead of the app's pages, and the Analyst
box, which ``app.py`` draws, is missing.

Every page calls :func:`ensure_app_navigation` first. In the old mode it runs ``app.py`` in its
place, which draws the app's navigation and Analyst box, leaves the old mode for the whole
server, and runs the page the URL named (both modes name a page by its file); then it ends the
outer run. It is the same script run, so a click that came with it is not lost. Otherwise it
does nothing.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import streamlit as st

APP = Path(__file__).resolve().parents[1] / "app.py"


def ensure_app_navigation() -> None:
    """Run the page through ``app.py`` when Streamlit started it in its automatic ``pages/`` mode.

    Streamlit keeps that mode in the class attribute ``PagesManager.uses_pages_directory`` (set
    on the server's first session when a ``pages/`` folder exists, cleared by ``st.navigation``).
    tests/app/test_browser_analyst.py starts a fresh server on a deep link, so a Streamlit
    upgrade that changes this is caught.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if getattr(PagesManager, "uses_pages_directory", None):
        runpy.run_path(str(APP), run_name="__main__")  # its st.navigation clears the mode first
        st.stop()  # the page ran inside app.py: nothing of the outer run is left to draw
