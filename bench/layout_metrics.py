"""How core/ is laid out, measured from its import statements: rooms, arrows, floors and circles.

    python bench/layout_metrics.py                       # the working tree
    python bench/layout_metrics.py --rev ebf3037^ --rev HEAD   # before and after issue 14's layout

A *room* is a sub-package of ``core/`` (``core/blocking/``), or a module where ``core/`` is flat
(before issue 14 every module was a room of its own). An *arrow* is "room A imports something
from room B" (A != B), counted once per pair of rooms, whether the import sits at the top of a
file or inside a function: a lazy import is still a dependency a reader must know about. A
*circle* is a strongly connected group of two or more rooms (each can reach the others through
arrows). *Floors* are the length of the longest chain of arrows, plus one, once each circle is
collapsed to a point: a room on floor 1 imports no other room, a room on floor n imports one on
floor n-1. Module-level arrows (between ``.py`` files) are counted too, for comparison with the
flat layout.

The files are read from git (``git show REV:path``) or from the working tree, parsed with
``ast`` (never imported, so nothing runs). Writes ``bench/results/layout_metrics.json``.
"""

from __future__ import annotations

import argparse
import ast
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx
from _common import REPO, record, write_results


def core_files(rev: str | None) -> dict[str, str]:
    """``{path: source}`` of every ``core/**/*.py`` at ``rev`` (None: the working tree)."""
    if rev is None:
        return {str(p.relative_to(REPO)): p.read_text(encoding="utf-8") for p in sorted((REPO / "core").rglob("*.py"))}
    names = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, "core/"], cwd=REPO, check=True,
                           capture_output=True, text=True).stdout.split()
    return {name: subprocess.run(["git", "show", f"{rev}:{name}"], cwd=REPO, check=True, capture_output=True,
                                 text=True).stdout for name in names if name.endswith(".py")}


def module_name(path: str) -> str:
    """``core/data/kg.py`` -> ``core.data.kg``; ``core/data/__init__.py`` -> ``core.data``."""
    parts = path[:-3].split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, modules: set[str], here: str) -> set[str]:
    """The modules of ``modules`` that ``source`` imports (``import a.b``, ``from a import b``).

    core/ uses absolute imports only; a relative import is an error here, so it is never
    silently left out of the count.
    """
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise ValueError(f"{here}: relative import at line {node.lineno}; this script counts absolute ones")
            targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # core.data.kg.KnowledgeGraph -> core.data.kg
                target = target.rpartition(".")[0]
            if target and target != here:
                found.add(target)
    return found


def room_of(module: str, flat: bool) -> str:
    """The room a module belongs to: itself when core/ is flat, else its sub-package of core."""
    parts = module.split(".")
    if flat or len(parts) < 2:
        return module
    return ".".join(parts[:2])


@dataclass(frozen=True)
class Layout:
    """The measures of one revision's core/."""

    rev: str
    modules: int
    module_arrows: int
    module_circles: int
    module_cycles: int
    module_circle_members: tuple[tuple[str, ...], ...]
    rooms: int
    room_arrows: int
    floors: int
    circles: int
    cycles: int
    circle_members: tuple[tuple[str, ...], ...]


def _floors(graph: nx.DiGraph) -> int:
    condensed = nx.condensation(graph)
    return nx.dag_longest_path_length(condensed) + 1 if len(condensed) else 0


def _circles(graph: nx.DiGraph) -> list[tuple[str, ...]]:
    """Strongly connected groups of two or more: rooms that all reach each other."""
    return sorted(tuple(sorted(c)) for c in nx.strongly_connected_components(graph) if len(c) > 1)


def _cycles(graph: nx.DiGraph) -> int:
    """Elementary import cycles (a <-> b and a <-> c are two, in one strongly connected group)."""
    return sum(1 for _ in nx.simple_cycles(graph))


def measure(rev: str | None) -> Layout:
    files = core_files(rev)
    modules = {module_name(p): p for p in files}
    names = set(modules)
    module_graph = nx.DiGraph()
    module_graph.add_nodes_from(n for n in names if n != "core")
    for name, path in modules.items():
        if name == "core":
            continue
        for target in imported_modules(files[path], names, name):
            if target != "core":
                module_graph.add_edge(name, target)
    flat = not any(name.count(".") >= 2 for name in names)
    room_graph = nx.DiGraph()
    room_graph.add_nodes_from({room_of(n, flat) for n in module_graph})
    for a, b in module_graph.edges:
        ra, rb = room_of(a, flat), room_of(b, flat)
        if ra != rb:
            room_graph.add_edge(ra, rb)
    circles, module_circles = _circles(room_graph), _circles(module_graph)
    return Layout(rev=rev or "working tree", modules=module_graph.number_of_nodes(),
                  module_arrows=module_graph.number_of_edges(), module_circles=len(module_circles),
                  module_cycles=_cycles(module_graph), module_circle_members=tuple(module_circles),
                  rooms=room_graph.number_of_nodes(), room_arrows=room_graph.number_of_edges(),
                  floors=_floors(room_graph), circles=len(circles), cycles=_cycles(room_graph),
                  circle_members=tuple(circles))


def resolved(rev: str | None) -> str:
    if rev is None:
        return "working tree"
    return subprocess.run(["git", "rev-parse", "--short", rev], cwd=REPO, check=True, capture_output=True,
                          text=True).stdout.strip()


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", action="append", help="git revision to measure (repeatable; default: the working tree)")
    parser.add_argument("--results", default="layout_metrics")
    args = parser.parse_args(argv)
    records = []
    for rev in args.rev or [None]:
        layout = measure(rev)
        label = f"{rev} ({resolved(rev)})" if rev else layout.rev
        print(f"{label}: {layout.modules} modules, {layout.module_arrows} module arrows, "
              f"{layout.module_circles} module circles ({layout.module_cycles} cycles) "
              f"{[list(c) for c in layout.module_circle_members]}; {layout.rooms} rooms, {layout.room_arrows} room "
              f"arrows, {layout.floors} floors, {layout.circles} circles ({layout.cycles} cycles) "
              f"{[list(c) for c in layout.circle_members]}")
        for metric in ("modules", "module_arrows", "module_circles", "module_cycles", "rooms", "room_arrows",
                       "floors", "circles", "cycles"):
            records.append(record("core", f"layout at {label}", metric, getattr(layout, metric), "count",
                                  circle_members=[list(c) for c in layout.circle_members],
                                  module_circle_members=[list(c) for c in layout.module_circle_members]))
    print(f"wrote {len(records)} records to {write_results(args.results, records)}")


if __name__ == "__main__":
    main()
