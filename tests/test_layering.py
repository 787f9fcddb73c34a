"""The house rules: which package may import which, checked statically and in fresh interpreters.

core/ is split by stage (see README "Layout"). A stage may import only the stages below it, so the
import graph has no circle and nothing imports upward. core never loads the UI or the database;
db never loads torch; the CLI's cheap commands and the drawing never load torch either.
"""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from tests.conftest import REPO

#: core package -> the core packages it may import. Everything else is a violation.
ALLOWED: dict[str, set[str]] = {
    "data": set(),
    "formats": {"data"},
    "demo": {"data", "formats"},
    "blocking": {"data", "matching"},  # structural candidates read anchor profiles
    "features": {"data"},
    "sampling": {"data"},
    "evaluation": {"data"},
    "review": {"data", "formats"},
    "model": {"data", "formats", "features", "sampling"},
    "scoring": {"data", "formats", "blocking", "features", "sampling", "model", "evaluation"},
    "training": {"data", "formats", "features", "sampling", "model", "scoring", "evaluation"},
    "explanations": {"data", "sampling", "model", "scoring"},
    "matching": {"data", "formats", "features", "evaluation"},  # the GNN enters as a function it is given
    "project": {"data", "formats", "blocking", "features", "sampling", "model", "training", "scoring",
                "evaluation", "explanations", "review", "matching", "distributed"},
    "distributed": {"data", "formats", "blocking", "features", "sampling", "model", "training", "scoring",
                    "evaluation"},
}


def _core_imports() -> list[tuple[str, str, str]]:
    """(module file, its package, imported core package) for every import inside core/."""
    found = []
    for path in sorted((REPO / "core").rglob("*.py")):
        rel = path.relative_to(REPO / "core")
        package = rel.parts[0] if len(rel.parts) > 1 else None
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules = []
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module]
            for module in modules:
                parts = module.split(".")
                if parts[0] == "core" and len(parts) > 1:
                    found.append((str(rel), package, parts[1]))
    return found


def test_every_core_module_lives_in_a_stage_package():
    loose = [p.name for p in (REPO / "core").glob("*.py") if p.name != "__init__.py"]
    packages = {p.name for p in (REPO / "core").iterdir() if (p / "__init__.py").exists()}
    assert loose == []
    assert packages <= set(ALLOWED), f"add the new package to ALLOWED: {packages - set(ALLOWED)}"


def test_every_stage_package_says_what_it_owns():
    for init in (REPO / "core").glob("*/__init__.py"):
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), f"{init} has no docstring"


def test_core_packages_import_only_the_stages_below_them():
    violations = [f"core/{file} imports core.{target}" for file, package, target in _core_imports()
                  if package is not None and target != package and target not in ALLOWED[package]]
    assert violations == []


def test_the_allowed_graph_has_no_circle():
    import networkx as nx

    graph = nx.DiGraph([(a, b) for a, targets in ALLOWED.items() for b in targets])
    assert list(nx.simple_cycles(graph)) == []


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    return set(out.stdout.split())


def test_core_does_not_import_streamlit_or_db():
    mods = _modules_after("import core.project.lifecycle, core.evaluation.harness, core.blocking.name_blocking, "
                          "core.features.entity_features, core.formats.native, core.explanations.attention")
    assert "streamlit" not in mods and "db" not in mods and "sqlalchemy" not in mods


def test_db_does_not_import_torch():
    mods = _modules_after("import db")
    assert "torch" not in mods and "dgl" not in mods and "core" not in mods


@pytest.mark.parametrize("statement", [
    "import core.data.dataset, core.formats.native, core.blocking.name_blocking, core.evaluation.harness",
    "import core.review.queue, core.review.agreement, core.review.labels_as_links",
])
def test_stages_without_a_model_do_not_load_torch(statement):
    assert "torch" not in _modules_after(statement)


def test_reading_a_project_does_not_load_the_blocking_or_learning_libraries():
    """`mualign score` with a current table reads the project and prints: sklearn and scipy (~1 CPU-s to
    import) are for blocking, fitting and PRAUC, loaded where those run."""
    mods = _modules_after("import core.project.lifecycle, core.evaluation.harness, core.project.score_table, "
                          "core.blocking.config, core.blocking.report, core.blocking.report_text")
    assert not {m for m in mods if m.split(".")[0] in {"sklearn", "scipy", "torch", "sparse_dot_topn"}}


def test_drawing_an_explanation_does_not_load_torch():
    """Explanation records live apart from the algorithm (core.explanations.records), so the drawing needs no model."""
    mods = _modules_after("import core.explanations.drawing, core.explanations.records")
    assert "torch" not in mods and "core.model" not in mods and "dgl" not in mods


def test_the_label_rules_sit_below_db_and_core():
    """label_rules owns the decision set and the current-label rule; db and core.review both read it, so it
    may import neither (nor torch, nor the database driver)."""
    mods = _modules_after("import label_rules")
    assert not {m for m in mods if m.split(".")[0] in {"core", "db", "torch", "sqlalchemy", "ui", "cli"}}
    assert "db" not in _modules_after("import core.review.agreement")


def test_core_modules_do_not_print():
    """Core is a library: it returns values, the CLI and pages print them."""
    offenders = [str(p.relative_to(REPO)) for p in (REPO / "core").rglob("*.py")
                 if "print(" in p.read_text(encoding="utf-8")]
    assert offenders == []


def test_pages_hold_page_scripts_only():
    """pages/ are the scripts app.py routes to; what they share lives in ui/."""
    app = (REPO / "app.py").read_text(encoding="utf-8")
    scripts = {p.name for p in (REPO / "pages").glob("*.py")} - {"__init__.py"}
    assert scripts and all(f"pages/{name}" in app for name in scripts)
