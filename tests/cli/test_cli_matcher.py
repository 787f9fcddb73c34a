"""The matcher through the command line (issue 15): train fits it, evaluate/export/explain use it."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from cli.main import main


@pytest.fixture(scope="module")
def trained_project(tmp_path_factory):
    """A 40-film demo project, blocked and trained (1 epoch) with the CLI, as a user would."""
    from core.demo.movies import generate_movie_pair
    from core.formats.native import save_project

    project = tmp_path_factory.mktemp("cli-matcher") / "movies"
    save_project(generate_movie_pair(40, seed=0).dataset, project)
    assert main(["block", "--project", str(project)]) == 0
    assert main(["train", "--project", str(project), "--epochs", "1", "--device", "cpu"]) == 0
    return project


def test_train_evaluate_export_use_the_matcher(trained_project, capsys):
    from core.project import model_versions as mv
    from core.project.score_table import read_scores, scores_path

    project = trained_project
    version = mv.active_version(project)
    assert mv.has_matcher(project, version)
    assert main(["evaluate", "--project", str(project)]) == 0  # mualign, the default once a model is trained
    out = capsys.readouterr().out
    assert "method=mualign split=test" in out
    decided_line = re.search(r"decided pairs \(threshold, then the 1-to-1 step where it applies\): (\d+) "
                             r"P ([\d.]+) R ([\d.]+) F1 ([\d.]+)", out)
    assert decided_line, out
    assert main(["evaluate", "--project", str(project), "--method", "model"]) == 0
    assert "method=cg-mualign@" in capsys.readouterr().out  # the model alone, named by its version

    assert main(["export", "--project", str(project), "--format", "links", "--out", str(project / "links.tsv")]) == 2
    assert "one of the project's own files" in capsys.readouterr().err  # the seed links are not overwritten
    links_file = project.parent / "decided.tsv"
    assert main(["export", "--project", str(project), "--format", "links", "--out", str(links_file)]) == 0
    assert f"decided links of model version {version}" in capsys.readouterr().out
    links = pd.read_csv(links_file, sep="\t", dtype=str)
    table = read_scores(scores_path(project, version))
    decided = table[table["decided"] == 1]
    assert len(links) == len(decided) > 0
    assert set(zip(links["left_id"], links["right_id"])) == set(zip(decided["left_id"], decided["right_id"]))
    # the matcher's own decisions, recomputed from the stored matcher, are what was exported
    from core.project.lifecycle import load_blocked, version_matcher_scorer
    from core.project.checkpoint import load_scorer

    dataset, candidates = load_blocked(project)
    model, _ = load_scorer(mv.model_path(project, version), dataset)
    scorer = version_matcher_scorer(project, version, dataset, candidates, model)
    fresh = scorer.all_candidates()
    ids = set(zip(dataset.left.entity_ids[candidates.left[fresh.decided]],
                  dataset.right.entity_ids[candidates.right[fresh.decided]]))
    assert set(zip(links["left_id"], links["right_id"])) == ids
    # one-to-one types: no entity is linked twice
    for type_name in scorer.matcher.one_to_one_types:
        of_type = links[links["type"] == type_name]
        assert not of_type["left_id"].duplicated().any() and not of_type["right_id"].duplicated().any()
    assert main(["export", "--project", str(project), "--format", "links", "--out", str(project)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_explain_prints_contributions_that_add_up_to_the_log_odds(trained_project, capsys):
    from core.project.score_table import read_scores

    assert main(["score", "--project", str(trained_project)]) == 0
    capsys.readouterr()
    table = read_scores(trained_project / "scores.tsv")
    row = table[table["decided"] == 1].iloc[0]
    assert main(["explain", row["left_id"], row["right_id"], "--project", str(trained_project)]) == 0
    out = capsys.readouterr().out
    assert "why this decision" in out and "alpha" in out
    baseline = float(re.search(r"baseline \(no evidence\)\s+([+-][\d.]+)", out).group(1))
    parts = [float(x) for x in re.findall(r"^  \S.*?\s([+-]\d+\.\d{3})  [+-]*\s*-> ", out, flags=re.M)]
    total = float(re.search(r"total = log-odds\s+([+-][\d.]+)", out).group(1))
    probability = float(re.search(r"probability\s+([\d.]+)%", out).group(1)) / 100
    groups = [c for c in table.columns if c.startswith("contribution:")]
    assert len(parts) == len(groups)  # one line per group: name, each attribute, structure, gnn
    assert baseline + sum(parts) == pytest.approx(total, abs=1e-3 * (len(parts) + 1))
    assert total == pytest.approx(row["score"], abs=1e-3)
    assert probability == pytest.approx(1 / (1 + math.exp(-total)), abs=1e-3)
    assert "decided: match" in out


def test_score_writes_the_matchers_table(trained_project, capsys):
    assert main(["score", "--project", str(trained_project), "--limit", "2", "--force"]) == 0
    out = capsys.readouterr().out
    assert "scored" in out and "decided" in out and "contribution:" not in out
    table = pd.read_csv(trained_project / "scores.tsv", sep="\t")
    assert "decided" in table and np.allclose(1 / (1 + np.exp(-table["score"])), table["probability"], atol=1e-5)


def test_train_writes_the_score_table_that_score_then_keeps(trained_project, capsys):
    """`mualign train` scores every candidate with the new version; `mualign score` keeps that table
    while it covers the candidates, and scoring again from the stored matcher gives the same numbers."""
    from core.project import model_versions as mv
    from core.project.score_table import read_scores, scores_path

    project = trained_project
    version = mv.active_version(project)
    stored = scores_path(project, version)
    assert stored.is_file()  # written by the fixture's `mualign train`
    written_by_train = read_scores(stored)
    (project / "scores.tsv").unlink(missing_ok=True)
    assert main(["score", "--project", str(project)]) == 0
    assert f"the score table of version {version} already covers" in capsys.readouterr().out
    assert read_scores(project / "scores.tsv").equals(written_by_train)

    assert main(["score", "--project", str(project), "--force"]) == 0
    assert "already covers" not in capsys.readouterr().out
    rescored = read_scores(stored)
    key = ["left_id", "right_id"]
    a = written_by_train.sort_values(key).reset_index(drop=True)
    b = rescored.sort_values(key).reset_index(drop=True)
    assert a[key].equals(b[key]) and list(a.columns) == list(b.columns)
    for column in ("score", "probability", "distance", "baseline"):
        assert np.allclose(a[column], b[column], atol=1e-5), column
    assert (a["decided"] == b["decided"]).all() and (a["rank"] == b["rank"]).all()

    # a damaged table is not trusted: score computes it again
    stored.write_text("left_id\tright_id\nbroken")
    assert main(["score", "--project", str(project)]) == 0
    assert "already covers" not in capsys.readouterr().out
    assert np.allclose(read_scores(stored).sort_values(key)["score"].to_numpy(), b["score"].to_numpy(), atol=1e-5)
