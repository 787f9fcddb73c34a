"""The score table's binary copy: read instead of the TSV when fresh; stale, damaged, foreign copies never used."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core.data.candidates import CandidatePairs
from core.project import model_versions as mv
from core.project import score_table
from core.project.cache import CACHE_DIR, load_candidates_cached, open_project
from core.project.score_table import current_scores, read_scores, scores_path, write_scores


def _open(project: Path):
    dataset, _ = open_project(project)  # through the project cache: the graphs' digest is known
    return dataset, load_candidates_cached(dataset, project), mv.active_version(project)


def _binary(project: Path, version: str) -> Path:
    return project / CACHE_DIR / f"scores-{version}.bin"


def _no_text_reads(monkeypatch):
    def refuse(path):
        raise AssertionError(f"the TSV {path} was parsed although the binary copy is fresh")

    monkeypatch.setattr(score_table, "read_scores", refuse)


def test_a_checked_table_is_read_back_from_its_binary_copy_with_the_same_values(demo_copy, monkeypatch):
    dataset, candidates, version = _open(demo_copy)
    _binary(demo_copy, version).unlink(missing_ok=True)
    from_text = current_scores(demo_copy, version, dataset, candidates, matcher=True)
    assert from_text is not None and _binary(demo_copy, version).is_file()
    _no_text_reads(monkeypatch)
    from_binary = current_scores(demo_copy, version, dataset, candidates, matcher=True)
    pd.testing.assert_frame_equal(from_binary, from_text)
    assert current_scores(demo_copy, version, dataset, candidates, matcher=False) is None  # a matcher's table


def test_an_edited_table_is_read_from_its_text_again(demo_copy):
    dataset, candidates, version = _open(demo_copy)
    assert current_scores(demo_copy, version, dataset, candidates, matcher=True) is not None
    table = read_scores(scores_path(demo_copy, version))
    table.loc[0, "score"] = table.loc[0, "score"] + 1.0  # same pairs, another number: the TSV wins
    write_scores(table, scores_path(demo_copy, version))
    again = current_scores(demo_copy, version, dataset, candidates, matcher=True)
    assert again is not None and again.loc[0, "score"] == pytest.approx(table.loc[0, "score"])
    table.loc[0, "left_id"] = "no such entity"  # and a table that is no longer current stays refused
    write_scores(table, scores_path(demo_copy, version))
    assert current_scores(demo_copy, version, dataset, candidates, matcher=True) is None


def test_a_damaged_copy_is_never_read(demo_copy, monkeypatch):
    dataset, candidates, version = _open(demo_copy)
    expected = current_scores(demo_copy, version, dataset, candidates, matcher=True)
    path = _binary(demo_copy, version)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    read = []
    monkeypatch.setattr(score_table, "read_scores", lambda p, _real=score_table.read_scores: read.append(p) or _real(p))
    pd.testing.assert_frame_equal(current_scores(demo_copy, version, dataset, candidates, matcher=True), expected)
    assert read  # the text was read, and the copy rewritten from it
    _no_text_reads(monkeypatch)
    pd.testing.assert_frame_equal(current_scores(demo_copy, version, dataset, candidates, matcher=True), expected)


def test_a_copy_of_other_candidates_is_not_used(demo_copy):
    dataset, candidates, version = _open(demo_copy)
    assert current_scores(demo_copy, version, dataset, candidates, matcher=True) is not None
    fewer = CandidatePairs(candidates.left[:-1], candidates.right[:-1], candidates.type[:-1],
                           candidates.name_score[:-1])
    assert current_scores(demo_copy, version, dataset, fewer, matcher=True) is None


def test_scoring_writes_the_copy_with_the_table(demo_copy, monkeypatch):
    from core.project import lifecycle
    from core.project.checkpoint import load_scorer

    dataset, candidates, version = _open(demo_copy)
    _binary(demo_copy, version).unlink(missing_ok=True)
    model, _ = load_scorer(mv.model_path(demo_copy, version), dataset)
    (demo_copy / "scores.tsv").unlink()
    lifecycle.score_candidates(demo_copy, dataset, candidates, model, version)
    assert _binary(demo_copy, version).is_file()
    # the active table is the version's file, byte for byte
    assert (demo_copy / "scores.tsv").read_bytes() == scores_path(demo_copy, version).read_bytes()
    expected = read_scores(scores_path(demo_copy, version))
    _no_text_reads(monkeypatch)
    pd.testing.assert_frame_equal(current_scores(demo_copy, version, dataset, candidates, matcher=True), expected)
