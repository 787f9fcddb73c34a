"""core never loads the UI or the database; db never loads torch (checked in fresh interpreters)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    return set(out.stdout.split())


def test_core_does_not_import_streamlit_or_db():
    mods = _modules_after("import core.pipeline, core.evaluation, core.blocking, core.features, core.native_format")
    assert "streamlit" not in mods and "db" not in mods and "sqlalchemy" not in mods


def test_db_does_not_import_torch():
    mods = _modules_after("import db")
    assert "torch" not in mods and "dgl" not in mods and "core" not in mods


def test_core_modules_do_not_print():
    """Core is a library: it returns values, the CLI and pages print them."""
    offenders = [p.name for p in (REPO / "core").glob("*.py") if "print(" in p.read_text(encoding="utf-8")]
    assert offenders == []
