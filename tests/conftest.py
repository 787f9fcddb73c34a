"""Shared fixtures: a tiny hand-made project and the location of the shared benchmark data."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

LEFT_ENTITIES = """id\ttype\tname\tyear:number\tborn:date
f1\tfilm\tThe Matrix\t1999\t
f2\tfilm\tMatrix Reloaded\t2003\t
f3\tfilm\tSpeed\t1994\t
p1\tperson\tKeanu Reeves\t\t1964-09-02
p2\tperson\tCarrie-Anne Moss\t\t1967-08-21
p3\tperson\tAditya Raj\t\t
"""
LEFT_TRIPLES = """head\trelation\ttail
f1\tacted_by\tp1
f1\tacted_by\tp2
f2\tacted_by\tp1
f3\tacted_by\tp1
f3\tdirected_by\tp3
"""
RIGHT_ENTITIES = """id\ttype\tname\tyear:number
m10\tmovie\tMatrix\t1999
m11\tmovie\tThe Matrix Reloaded\t2003
m12\tmovie\tSpeed\t1994
q10\tperson\tKeanu Reeves\t
q11\tperson\tCarrie Anne Moss\t
q12\tperson\tAditya Raj Kapoor\t
"""
RIGHT_TRIPLES = """head\trelation\ttail
m10\tactor\tq10
m10\tactor\tq11
m11\tactor\tq10
m12\tactor\tq10
m12\tdirector\tq12
"""
SCHEMA = """{
  "types": [
    {"name": "film", "left": "film", "right": "movie"},
    {"name": "person", "left": "person", "right": "person"}
  ],
  "relations": [
    {"name": "acted", "left": "acted_by", "right": "actor"},
    {"name": "directed", "left": "directed_by", "right": "director"}
  ]
}
"""
LINKS = """left_id\tright_id\tlabel\tsplit
f1\tm10\t1\ttrain
p1\tq10\t1\ttrain
f2\tm11\t1\tvalid
p2\tq11\t1\tvalid
f3\tm12\t1\ttest
p3\tq12\t1\ttest
"""


def write_tiny_project(directory: Path, **overrides: str) -> Path:
    """Write the tiny movie project; ``overrides`` replace files by relative path."""
    files = {
        "left/entities.tsv": LEFT_ENTITIES, "left/triples.tsv": LEFT_TRIPLES,
        "right/entities.tsv": RIGHT_ENTITIES, "right/triples.tsv": RIGHT_TRIPLES,
        "schema.json": SCHEMA, "links.tsv": LINKS,
    }
    files.update({k.replace("__", "/"): v for k, v in overrides.items()})
    for rel, text in files.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return directory


@pytest.fixture
def tiny_project(tmp_path: Path) -> Path:
    return write_tiny_project(tmp_path / "tiny")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared benchmark data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def demo_movies_project(tmp_path_factory) -> Path:
    """A small demo movie project, blocked, with one trained model (1 epoch) and its score table.

    Built once per test session; tests that write (labels, new versions) copy it first.
    """
    from core.demo.movies import generate_movie_pair
    from core.formats.native import save_project
    from core.project.lifecycle import run_baselines, run_model, score_candidates
    from core.training.loop import TrainConfig

    project = tmp_path_factory.mktemp("demo") / "movies"
    save_project(generate_movie_pair(40, seed=0).dataset, project)
    run = run_baselines(project, methods=())
    trained = run_model(project, run.dataset, run.candidates, TrainConfig(epochs=1, seed=0))
    score_candidates(project, run.dataset, run.candidates, trained.scorer, trained.version)
    return project


@pytest.fixture
def demo_copy(demo_movies_project, tmp_path) -> Path:
    """A private copy of the demo project (its own labels and model versions)."""
    import shutil

    return Path(shutil.copytree(demo_movies_project, tmp_path / "movies"))


@pytest.fixture(scope="session")
def music():
    """A generated music pair (150 songs, planted look-alikes) and its blocked candidates."""
    from core.blocking.name_blocking import BlockingConfig, block
    from core.demo.music import generate_music_pair

    pair = generate_music_pair(150, seed=0)
    candidates, _ = block(pair.dataset, BlockingConfig(top_k=20))
    return pair, candidates
