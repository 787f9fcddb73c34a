"""The app's tests start from projects as ``mualign import`` and ``mualign block`` leave them.

The app never blocks (``ui.project_state.load_candidates``): blocking is the analyst's choice of
settings, stored with its report by ``mualign block``. So the tiny project the app tests use is
blocked first, as a user's would be before ``mualign review``.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def tiny_project(tiny_project: Path) -> Path:
    """The tiny project, blocked with the default settings (``candidates.tsv`` and its report)."""
    from core.project.lifecycle import block_project

    block_project(tiny_project)
    return tiny_project
