"""Which project the app shows, and its data loaded once per server (``st.cache_resource``)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import streamlit as st

DEFAULT_PROJECT = Path("mualign-demo") / "movies"


def project_dir() -> Path:
    """``--project`` after ``--`` on the streamlit command line, else ``MUALIGN_PROJECT``, else the demo."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--project", type=Path)
    known, _ = parser.parse_known_args(sys.argv[1:])
    return known.project or Path(os.environ.get("MUALIGN_PROJECT", DEFAULT_PROJECT))


@st.cache_resource(show_spinner="Loading the project…")
def load_dataset(directory: str):
    from core.native_format import load_project

    return load_project(directory)


@st.cache_resource(show_spinner="Blocking…")
def load_blocking(directory: str):
    from core.blocking import block

    return block(load_dataset(directory))
