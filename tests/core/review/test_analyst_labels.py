"""Analysts' labels in training, retraining, stored score tables and the link exports."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.review.labels_as_links import AnalystLabel, with_analyst_labels
from core.formats.export import deepmatcher_csv, ent_links_tsv, links_json, read_deepmatcher_csv
from core.data.links import Split
from core.formats.native import load_project


def _link_rows(dataset):
    links = dataset.links
    return {(dataset.left.entity_ids[a], dataset.right.entity_ids[b]): (int(label), Split.from_code(int(s)).value)
            for a, b, label, s in zip(links.left, links.right, links.label, links.split)}


def test_labels_become_train_links_and_override_seed_links(tiny_project):
    dataset = load_project(tiny_project)
    merged, report = with_analyst_labels(dataset, [
        AnalystLabel("f3", "m12", True),  # a TEST link: moves to TRAIN, out of evaluation
        AnalystLabel("f2", "m10", False),  # new hard negative
        AnalystLabel("p2", "q11", False),  # the analyst overrides a VALID seed match
        AnalystLabel("p3", "nope", True),  # unknown id: reported, not used
        AnalystLabel("f1", "q10", True),  # film vs person: reported, not used
    ])
    rows = _link_rows(merged)
    assert rows[("f3", "m12")] == (1, "train")
    assert rows[("f2", "m10")] == (0, "train")
    assert rows[("p2", "q11")] == (0, "train")
    assert rows[("p1", "q10")] == (1, "train")  # untouched seed link
    assert len(merged.links) == len(dataset.links) + 1
    assert (report.matches, report.non_matches, report.replaced_seed_links, report.moved_out_of_evaluation) == (1, 2, 2, 2)
    assert report.unusable == ("p3 <-> nope: right id not in the right graph",
                               "f1 <-> q10: the two entities are not of one aligned type")
    assert len(dataset.links) == 6  # the input dataset is not modified


def test_the_last_label_of_a_pair_wins_and_no_labels_change_nothing(tiny_project):
    dataset = load_project(tiny_project)
    merged, report = with_analyst_labels(dataset, [AnalystLabel("f2", "m10", True), AnalystLabel("f2", "m10", False)])
    assert _link_rows(merged)[("f2", "m10")] == (0, "train") and report.used == 1
    same, empty = with_analyst_labels(dataset, [])
    assert same is dataset and empty.used == 0


ACCEPTED = pd.DataFrame({"left_id": ["paper:12", "paper:7"], "right_id": ["paper:3", "paper:9"],
                         "type": ["paper", "paper"], "analyst": ["ana", "bo"],
                         "decided_at": ["2026-11-23T10:00:00+00:00", "2026-11-23T10:01:00+00:00"],
                         "model_version": ["abc", None], "note": ['says "same", ok', None]})


def test_deepmatcher_export_strips_the_table_prefix_and_reads_back():
    text = deepmatcher_csv(ACCEPTED, left_type_of={"paper": "paper"}, right_type_of={"paper": "paper"},
                           rejected=ACCEPTED.iloc[[1]].assign(right_id="paper:4"))
    assert text.splitlines()[0] == "ltable_id,rtable_id,label"
    back = read_deepmatcher_csv(text)
    assert back.values.tolist() == [["12", "3", 1], ["7", "9", 1], ["7", "4", 0]]


def test_ent_links_and_json_exports():
    assert ent_links_tsv(ACCEPTED) == "paper:12\tpaper:3\npaper:7\tpaper:9\n"
    with pytest.raises(ValueError, match="tab or newline"):
        ent_links_tsv(ACCEPTED.assign(left_id=["a\tb", "c"]))
    doc = json.loads(links_json(ACCEPTED, project="dblp"))
    assert doc["project"] == "dblp" and len(doc["links"]) == 2
    assert doc["links"][0]["note"] == 'says "same", ok' and doc["links"][1]["model_version"] is None


@pytest.fixture(scope="module")
def trained_demo(tmp_path_factory):
    """A small demo project with one trained model version (1 epoch)."""
    from core.demo.music import generate_music_pair
    from core.formats.native import save_project
    from core.project.lifecycle import run_baselines, run_model
    from core.training.loop import TrainConfig

    project = tmp_path_factory.mktemp("demo") / "music"
    save_project(generate_music_pair(60, seed=0).dataset, project)
    run = run_baselines(project, methods=())
    trained = run_model(project, run.dataset, run.candidates, TrainConfig(epochs=1, seed=0))
    return project, run.dataset, run.candidates, trained


def test_score_table_is_stored_per_version_and_reused(trained_demo):
    from core.project.score_table import COLUMNS, name_only_scores, scores_path, stored_or_scored

    project, dataset, candidates, trained = trained_demo
    table = stored_or_scored(project, dataset, candidates, trained.scorer, trained.version)
    assert len(table) == len(candidates) and (table["model_version"] == trained.version).all()
    assert table["probability"].between(0, 1).all() and (table.groupby("left_id")["rank"].min() == 1).all()
    path = scores_path(project, trained.version)
    assert path.exists()
    again = stored_or_scored(project, dataset, candidates, None, trained.version)  # no scorer needed: read back
    pd.testing.assert_frame_equal(again, table, check_dtype=False)
    names = name_only_scores(dataset, candidates)
    assert names["probability"].isna().all() and (names["model_version"] == "name-tfidf").all()
    lines = path.read_text().splitlines(keepends=True)
    cells = lines[1].split("\t")
    cells[COLUMNS.index("score")] = "abc"  # a text value in the score column, the rest intact
    text_score = "".join([lines[0], "\t".join(cells), *lines[2:]]).encode()
    for damage in (path.read_bytes()[: len(path.read_bytes()) // 3], b"\xff\xfe\x00garbage\n", b"", text_score):
        path.write_bytes(damage)  # a cache file cut by a crash or edited by hand is computed anew
        anew = stored_or_scored(project, dataset, candidates, trained.scorer, trained.version)
        pd.testing.assert_frame_equal(anew, table, check_dtype=False)


def test_retrain_uses_labels_and_reports_what_changed(trained_demo):
    from core.project.model_versions import active_version, versions
    from core.project.retrain import retrain
    from core.project.score_table import stored_or_scored
    from core.training.loop import TrainConfig

    project, dataset, candidates, trained = trained_demo
    before = stored_or_scored(project, dataset, candidates, trained.scorer, trained.version)
    test = dataset.links.in_split(Split.TEST).positives()
    labels = [AnalystLabel(str(dataset.left.entity_ids[test.left[0]]), str(dataset.right.entity_ids[test.right[0]]), True),
              AnalystLabel(str(before["left_id"].iloc[0]), str(before["right_id"].iloc[-1]), False)]
    result = retrain(project, dataset, candidates, labels, TrainConfig(epochs=1, seed=1), previous=trained.scorer,
                     previous_scores=before)
    assert result.version != trained.version
    assert active_version(project) == (result.version if result.activated else trained.version)
    assert versions(project)[-1] == result.version and len(versions(project)) == 2
    assert result.labels.matches == 1 and result.labels.used + len(result.labels.unusable) == 2
    assert result.valid_before is not None and result.valid_before.n_pairs == result.valid_after.n_pairs
    assert len(result.scores) == len(candidates)
    flipped = result.changed
    assert set(flipped.columns) >= {"left_id", "right_id", "before", "after"}
    assert (flipped["before"] != flipped["after"]).all()
    assert not np.isin(flipped["left_id"] + "|" + flipped["right_id"],
                       [f"{label.left_id}|{label.right_id}" for label in labels]).any()


def test_a_stored_score_table_is_redone_when_the_candidates_change(trained_demo):
    from core.project.score_table import scores_path, stored_or_scored

    project, dataset, candidates, trained = trained_demo
    stored_or_scored(project, dataset, candidates, trained.scorer, trained.version)
    fewer = candidates.select(np.arange(len(candidates)) % 2 == 0)
    table = stored_or_scored(project, dataset, fewer, trained.scorer, trained.version)
    assert len(table) == len(fewer)
    shifted = candidates.select(np.isin(np.arange(len(candidates)), np.arange(len(fewer)) + 1))
    assert len(shifted) == len(fewer)  # same size, other pairs: the stored table must not be reused
    table = stored_or_scored(project, dataset, shifted, trained.scorer, trained.version)
    keys = set(zip(table["left_id"], table["right_id"]))
    assert keys == set(zip(dataset.left.entity_ids[shifted.left], dataset.right.entity_ids[shifted.right]))
    assert scores_path(project, trained.version).exists()


class _Oracle:
    """Scores every true match 1 and every other pair 0 (or the reverse): a best and a worst model."""

    name = "oracle"

    def __init__(self, dataset, *, reverse: bool = False):
        gold = dataset.gold_pairs()
        self.keys = set(zip(gold.left.tolist(), gold.right.tolist()))
        self.hit, self.miss = (0.0, 1.0) if reverse else (1.0, 0.0)

    def score_pairs(self, left, right, types):
        return np.array([self.hit if (a, b) in self.keys else self.miss for a, b in zip(left.tolist(), right.tolist())])


def test_a_retrain_that_is_not_better_is_stored_but_not_made_active(trained_demo):
    """Issue 13 item 10: validation PRAUC 0.964 -> 0.926 and the worse model became active."""
    from core.project.model_versions import active_version, versions
    from core.project.retrain import retrain
    from core.training.loop import TrainConfig

    project, dataset, candidates, _ = trained_demo
    active = active_version(project)
    result = retrain(project, dataset, candidates, [], TrainConfig(epochs=1, seed=2),
                     previous=_Oracle(dataset))  # nothing can beat PRAUC 1 on validation
    assert result.valid_before.pr_auc == 1.0 and result.valid_after.pr_auc <= 1.0
    assert not result.activated and "validation PRAUC 1.000 -> " in result.reason
    assert active_version(project) == active  # the analyst chooses
    assert result.version in versions(project)  # stored beside it, with its score table
    from core.project.score_table import scores_path
    assert scores_path(project, result.version).exists()


def test_a_retrain_that_is_better_is_made_active(trained_demo):
    from core.project.model_versions import active_version
    from core.project.retrain import retrain
    from core.training.loop import TrainConfig

    project, dataset, candidates, _ = trained_demo
    result = retrain(project, dataset, candidates, [], TrainConfig(epochs=1, seed=3),
                     previous=_Oracle(dataset, reverse=True))  # every true match scored last
    assert result.activated and "better on the same validation pairs" in result.reason
    assert active_version(project) == result.version


def test_activation_only_when_validation_improves():
    from core.evaluation.harness import MetricSet
    from core.project.retrain import activation

    def valid(pr_auc):
        return MetricSet(10, 2, 0, pr_auc, None, None, None, None, 2, None, None)

    assert not activation(valid(0.964), valid(0.926)).activate  # the figures
    assert "worse" in activation(valid(0.964), valid(0.926)).reason
    assert not activation(valid(0.9), valid(0.9)).activate and "no better" in activation(valid(0.9), valid(0.9)).reason
    assert activation(valid(0.9), valid(0.91)).activate
    assert activation(None, valid(0.5)).activate  # the first model replaces name similarity
    assert not activation(valid(None), valid(None)).activate  # nothing to compare: the analyst chooses


def test_labels_survive_a_re_import_of_the_project(tmp_path, tiny_project):
    import db
    from cli.main import main

    project = tmp_path / "proj"
    assert main(["import", "native", str(tiny_project), "--project", str(project)]) == 0
    sessions = db.make_sessionmaker(db.make_engine(db.default_url(project)))
    with sessions.begin() as session:
        db.record_decision(session, project="proj", left_id="f2", right_id="m11", type="film",
                           decision="accept", analyst="ana")
    assert main(["import", "native", str(tiny_project), "--project", str(project)]) == 0
    with sessions.begin() as session:
        (label,) = db.current_labels(session, project="proj")
    merged, report = with_analyst_labels(load_project(project), [AnalystLabel(label.left_id, label.right_id, True)])
    assert report.used == 1 and _link_rows(merged)[("f2", "m11")] == (1, "train")
