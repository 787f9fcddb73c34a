"""The project's binary cache: the same dataset as the files, and never trusted when stale, damaged or foreign."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.formats.errors import DataError
from core.formats.native import load_project, save_project
from core.project import cache
from core.project.cache import CACHE_DIR, open_project


@pytest.fixture(scope="module")
def music_dataset(music):
    return music[0].dataset


@pytest.fixture
def project(music_dataset, tmp_path) -> Path:
    return save_project(music_dataset, tmp_path / "music") or tmp_path / "music"


def assert_same_dataset(got, want) -> None:
    for side in ("left", "right"):
        a, b = getattr(got, side), getattr(want, side)
        for name in ("entity_ids", "entity_types", "names", "heads", "relations", "tails"):
            x, y = getattr(a, name), getattr(b, name)
            assert x.dtype == y.dtype and np.array_equal(x, y), f"{side}.{name}"
        assert a.type_names == b.type_names and a.relation_names == b.relation_names
        pd.testing.assert_frame_equal(a.attributes, b.attributes)
        for name in ("indptr", "neighbours", "relations"):
            assert np.array_equal(getattr(a.adjacency, name), getattr(b.adjacency, name))
        assert a.adjacency.n_relations == b.adjacency.n_relations
    for name in ("left", "right", "type", "label", "split"):
        x, y = getattr(got.links, name), getattr(want.links, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), f"links.{name}"
    assert got.schema == want.schema and got.name == want.name


def _rewrite(path: Path, old: str, new: str, *, keep_mtime: bool = False) -> None:
    stat = path.stat()
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    if keep_mtime:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_the_cache_gives_the_dataset_the_files_give(project):
    built, first = open_project(project)
    assert (first.used, first.reason, first.written) == (False, "missing", True)
    cached, second = open_project(project)
    assert (second.used, second.reason) == (True, "fresh")
    assert_same_dataset(cached, load_project(project))
    assert_same_dataset(built, load_project(project))


def test_an_edited_source_file_makes_the_cache_stale_even_with_its_old_mtime(project):
    open_project(project)
    names = load_project(project).left.names
    victim = next(n for n in names if len(n) > 3)
    replacement = victim[::-1] if victim[::-1] != victim else victim.upper()
    _rewrite(project / "left" / "entities.tsv", f"\t{victim}\t", f"\t{replacement}\t", keep_mtime=True)
    dataset, outcome = open_project(project)
    assert (outcome.used, outcome.reason) == (False, "stale")
    assert replacement in set(dataset.left.names)
    assert_same_dataset(dataset, load_project(project))
    assert open_project(project)[1].used  # and the rebuilt cache is used next time


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "empty", "drop the payload"])
def test_a_damaged_payload_is_rebuilt_never_read(project, damage):
    open_project(project)
    payload = project / CACHE_DIR / "project.bin"
    data = bytearray(payload.read_bytes())
    if damage == "flip a byte":
        data[len(data) // 2] ^= 0xFF
        payload.write_bytes(bytes(data))
    elif damage == "truncate":
        payload.write_bytes(bytes(data[: len(data) // 3]))
    elif damage == "empty":
        payload.write_bytes(b"")
    else:
        payload.unlink()
    dataset, outcome = open_project(project)
    assert not outcome.used and outcome.reason in {"damaged", "missing"} and outcome.written
    assert open_project(project)[1].used
    assert_same_dataset(dataset, load_project(project))


@pytest.mark.parametrize("manifest", [b"", b"{not json", b"\xff\xfe\x00", b"[]", b'{"format": "something else"}'])
def test_a_damaged_or_foreign_manifest_is_rebuilt(project, manifest):
    open_project(project)
    (project / CACHE_DIR / "project.json").write_bytes(manifest)  # e.g. a crash between payload and manifest
    dataset, outcome = open_project(project)
    assert not outcome.used and outcome.reason in {"damaged manifest", "foreign format"}
    assert_same_dataset(dataset, load_project(project))


def test_a_cache_copied_from_another_project_is_not_used(project, tmp_path, music_dataset):
    from core.demo.movies import generate_movie_pair

    other = tmp_path / "movies"
    save_project(generate_movie_pair(40, seed=1).dataset, other)
    open_project(other)
    shutil.copytree(other / CACHE_DIR, project / CACHE_DIR)
    dataset, outcome = open_project(project)
    assert (outcome.used, outcome.reason) == (False, "stale")
    assert_same_dataset(dataset, load_project(project))


def test_a_payload_with_a_matching_checksum_but_wrong_contents_is_rebuilt(project):
    """A manifest rewritten to vouch for a payload that is not a project (a hand-edit, another tool)."""
    open_project(project)
    folder = project / CACHE_DIR
    payload = bytes(range(256)) * 4  # bytes the manifest's array table does not fit
    (folder / "project.bin").write_bytes(payload)
    manifest = json.loads((folder / "project.json").read_text())
    manifest.update(payload_bytes=len(payload), payload_sha256=hashlib.sha256(payload).hexdigest())
    (folder / "project.json").write_text(json.dumps(manifest))
    dataset, outcome = open_project(project)
    assert not outcome.used and outcome.reason.startswith("inconsistent")
    assert_same_dataset(dataset, load_project(project))


def test_bad_files_still_fail_with_their_lines_whatever_the_cache_holds(project):
    open_project(project)
    with open(project / "links.tsv", "a", encoding="utf-8") as fh:
        fh.write("no-such-left\tno-such-right\t1\ttrain\n")
    with pytest.raises(DataError, match="links.tsv"):
        open_project(project)


def test_a_project_whose_cache_cannot_be_written_opens_from_its_files(project):
    (project / CACHE_DIR).write_text("a file where the cache folder would go")  # as a read-only place fails
    dataset, outcome = open_project(project)
    assert (outcome.used, outcome.written) == (False, False)
    assert_same_dataset(dataset, load_project(project))


def test_features_are_cached_per_spec_and_recomputed_when_damaged(project, monkeypatch):
    from core.features import entity_features
    from core.features.entity_features import NameHashing, fit_feature_spec

    dataset, _ = open_project(project)
    spec = fit_feature_spec(dataset)
    computed = []
    real = entity_features.compute_entity_features
    monkeypatch.setattr(entity_features, "compute_entity_features",
                        lambda kg, s, side: computed.append(side) or real(kg, s, side))
    first = entity_features.encode_entities(dataset.left, spec, "left")
    again = entity_features.encode_entities(open_project(project)[0].left, spec, "left")
    assert computed == ["left"]  # the second graph, opened from the cache, read its features from disk
    assert (first.name_ngrams != again.name_ngrams).nnz == 0 and np.array_equal(first.dense, again.dense)
    other_spec = fit_feature_spec(dataset, NameHashing(n_buckets=2**10))
    assert entity_features.encode_entities(dataset.left, other_spec, "left").name_ngrams.shape[1] == 2**10
    assert computed == ["left", "left"]  # another spec is another entry
    payload = project / CACHE_DIR / "features-left.bin"
    payload.write_bytes(payload.read_bytes()[:100])
    entity_features.encode_entities(dataset.left, other_spec, "left")
    assert computed == ["left", "left", "left"]


def test_graphs_not_opened_through_the_cache_are_simply_encoded(music_dataset):
    from core.features import FEATURE_STORES

    assert music_dataset.left not in FEATURE_STORES
    assert cache.FORMAT.startswith("mualign-project-cache/")


def test_a_manifest_that_declares_an_object_array_is_not_trusted(project):
    """Nothing in the cache is ever unpickled: an object dtype in the array table is refused."""
    open_project(project)
    folder = project / CACHE_DIR
    manifest = json.loads((folder / "project.json").read_text())
    first = next(iter(manifest["arrays"]))
    manifest["arrays"][first]["dtype"] = "|O"
    (folder / "project.json").write_text(json.dumps(manifest))
    dataset, outcome = open_project(project)
    assert not outcome.used and outcome.reason.startswith("inconsistent")
    assert_same_dataset(dataset, load_project(project))


def _blocked(project, music):
    from core.formats.native import save_candidates

    dataset, _ = open_project(project)
    save_candidates(dataset, music[1], project)
    return dataset


def test_candidates_are_read_from_the_cache_when_the_file_and_graphs_are_unchanged(project, music, monkeypatch):
    from core.formats import native
    from core.project.cache import load_candidates_cached

    dataset = _blocked(project, music)
    first = load_candidates_cached(dataset, project)
    parsed = []
    real = native.load_candidates
    monkeypatch.setattr(native, "load_candidates", lambda *a: parsed.append(1) or real(*a))
    again = load_candidates_cached(open_project(project)[0], project)
    assert parsed == []
    for field in ("left", "right", "type", "name_score"):
        assert np.array_equal(getattr(first, field), getattr(again, field))
        assert getattr(first, field).dtype == getattr(again, field).dtype
    # a changed candidates.tsv is read and checked again
    lines = (project / "candidates.tsv").read_text().splitlines(keepends=True)
    (project / "candidates.tsv").write_text("".join(lines[:-1]))
    fewer = load_candidates_cached(open_project(project)[0], project)
    assert parsed == [1] and len(fewer) == len(first) - 1
    # and a bad one still fails with its line, whatever the cache holds
    (project / "candidates.tsv").write_text("".join(lines[:-1]) + "nobody\tnowhere\tsong\t0.5\n")
    with pytest.raises(DataError, match="candidates.tsv"):
        load_candidates_cached(open_project(project)[0], project)


def test_candidates_of_a_dataset_not_opened_from_the_cache_are_parsed(project, music, music_dataset):
    from core.project.cache import load_candidates_cached

    _blocked(project, music)
    assert len(load_candidates_cached(load_project(project), project)) == len(music[1])
    assert not (project / CACHE_DIR / "candidates.json").exists()


def test_blocking_leaves_the_candidates_in_the_cache_as_the_file_reads_back(project, monkeypatch):
    """The next command reads what `mualign block` wrote without parsing it (26.4M rows: 75-91 s, 14 GB)."""
    from core.formats import native
    from core.project.cache import load_candidates_cached
    from core.project.lifecycle import block_project

    blocked = block_project(project)
    parsed = []
    real = native.load_candidates
    monkeypatch.setattr(native, "load_candidates", lambda *a: parsed.append(1) or real(*a))
    cached = load_candidates_cached(open_project(project)[0], project)
    assert parsed == []
    from_file = real(open_project(project)[0], project)  # what parsing the file gives
    for field in ("left", "right", "type", "name_score"):
        assert np.array_equal(getattr(cached, field), getattr(from_file, field)), field
        assert getattr(cached, field).dtype == getattr(from_file, field).dtype, field
    assert len(cached) == len(blocked.candidates)
    assert not np.array_equal(blocked.candidates.name_score, cached.name_score)  # the file's are rounded


def test_graphs_not_opened_from_the_cache_leave_no_candidates_entry(project, music_dataset):
    from core.project.cache import remember_candidates
    from core.formats.native import save_candidates
    from core.blocking.name_blocking import BlockingConfig, block

    candidates, _ = block(music_dataset, BlockingConfig(top_k=3))
    save_candidates(music_dataset, candidates, project)
    assert remember_candidates(music_dataset, project, candidates) is False
    assert not (project / CACHE_DIR / "candidates.json").exists()


def test_saved_candidates_read_back_as_written_whole_scores_included(project, music, music_dataset):
    """save_candidates writes through Arrow (a score of 1 is written "1", not "1.0"): the same pairs come back."""
    from core.data.candidates import CandidatePairs
    from core.formats.native import load_candidates, save_candidates

    blocked = music[1]
    scores = np.where(np.arange(len(blocked)) % 2 == 0, 1.0, 0.1234567).astype(np.float32)
    candidates = CandidatePairs(blocked.left, blocked.right, blocked.type, scores)
    path = save_candidates(music_dataset, candidates, project)
    assert "\t1\n" in path.read_text()  # Arrow's text for a whole number
    back = load_candidates(music_dataset, project)
    np.testing.assert_array_equal(back.left, candidates.left)
    np.testing.assert_array_equal(back.right, candidates.right)
    np.testing.assert_array_equal(back.type, candidates.type)
    np.testing.assert_array_equal(back.name_score, np.round(scores.astype(np.float64), 6).astype(np.float32))
