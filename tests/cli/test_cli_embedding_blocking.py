"""Candidates from a trained model's embeddings (issue 15 item 3): `mualign block --embedding-top-k K`."""

from __future__ import annotations

import json

import numpy as np

from cli.main import main
from core.project.lifecycle import BLOCKING_REPORT_FILE, load_blocked, load_dataset, model_embeddings


def _sources(project) -> dict:
    report = json.loads((project / BLOCKING_REPORT_FILE).read_text())
    out = {}
    for type_stats in report["report"]["per_type"] if "report" in report else report["per_type"]:
        for source in type_stats.get("sources") or ():
            out.setdefault(source["source"], []).append(source)
    return out


def test_block_adds_the_active_models_nearest_entities_and_reports_them(demo_copy, capsys):
    project = demo_copy
    dataset, before = load_blocked(project)
    left, right = model_embeddings(project, dataset)
    assert left.shape == (dataset.left.n_entities, 100) and right.shape[0] == dataset.right.n_entities
    film_left, film_right = dataset.entities_of_aligned_type(0)
    assert np.linalg.norm(left[film_left], axis=1).min() > 0  # every aligned entity gets a vector

    assert main(["block", "--project", str(project), "--embedding-top-k", "3"]) == 0
    out = capsys.readouterr().out
    assert "embedding" in out
    _, after = load_blocked(project)
    sources = _sources(project)
    assert "embedding" in sources and sum(s["n_candidates"] for s in sources["embedding"]) > 0
    assert len(after) >= len(before)  # a union: the name and structure pairs are all still there
    kept_by_embedding = sum(s["gold_kept"] for s in sources["embedding"])
    assert kept_by_embedding > 0  # the model's nearest entities find true matches


def test_embeddings_need_a_trained_model(tmp_path, capsys):
    from core.demo.movies import generate_movie_pair
    from core.formats.native import save_project

    project = tmp_path / "movies"
    save_project(generate_movie_pair(20, seed=0).dataset, project)
    assert main(["block", "--project", str(project), "--embedding-top-k", "3"]) == 2
    err = capsys.readouterr().err
    assert "mualign train" in err and "Traceback" not in err
    assert main(["block", "--project", str(project), "--embedding-top-k", "-1"]) == 2
    assert "--embedding-top-k: must be >= 0" in capsys.readouterr().err
