"""The label propagation kept on disk for a project: read back when fresh; other anchors, damage: computed anew."""

from __future__ import annotations

import numpy as np
import pytest

from core.data.links import Split
from core.matching import label_propagation as lp
from core.project.cache import CACHE_DIR, open_project


def _anchors(dataset):
    train = dataset.links.in_split(Split.TRAIN).positives()
    return np.asarray(train.left, dtype=np.int64), np.asarray(train.right, dtype=np.int64)


def _fresh_process():
    """As a new command would start: nothing in the process cache."""
    lp._CACHE.clear()


def _no_propagation(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("propagated although the stored alignment is fresh")

    monkeypatch.setattr(lp, "align_dataset", refuse)


def test_a_second_command_reads_the_alignment_the_first_computed(demo_copy, monkeypatch):
    dataset, _ = open_project(demo_copy)
    _fresh_process()
    computed = lp.cached_alignment(dataset, *_anchors(dataset))
    assert computed is not None and (demo_copy / CACHE_DIR / "alignment.bin").is_file()
    _fresh_process()
    again, _ = open_project(demo_copy)  # a new process opens the project again
    with monkeypatch.context() as patch:
        _no_propagation(patch)
        read = lp.cached_alignment(again, *_anchors(again))
    for name in lp.ALIGNMENT_ARRAYS:
        np.testing.assert_array_equal(getattr(read, name), getattr(computed, name))
    assert read.rounds == computed.rounds
    left, right = _anchors(again)
    pairs = (left[:20], right[:20])
    np.testing.assert_array_equal(lp.label_cosine(read, *pairs), lp.label_cosine(computed, *pairs))


def test_other_anchors_or_a_damaged_file_propagate_again(demo_copy, monkeypatch):
    dataset, _ = open_project(demo_copy)
    left, right = _anchors(dataset)
    _fresh_process()
    lp.cached_alignment(dataset, left, right)
    calls = []
    real = lp.align_dataset
    monkeypatch.setattr(lp, "align_dataset", lambda *a, **k: calls.append(1) or real(*a, **k))
    _fresh_process()
    fewer = lp.cached_alignment(dataset, left[:-1], right[:-1])
    assert calls == [1] and len(fewer.anchor_left) != 0
    path = demo_copy / CACHE_DIR / "alignment.bin"
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF
    path.write_bytes(bytes(data))
    _fresh_process()
    lp.cached_alignment(dataset, left[:-1], right[:-1])
    assert calls == [1, 1]  # the damaged entry was not read


def test_a_dataset_not_opened_from_a_project_keeps_nothing_on_disk(demo_copy, monkeypatch):
    from core.formats.native import load_project

    (demo_copy / CACHE_DIR / "alignment.bin").unlink(missing_ok=True)  # the demo's own training wrote one
    dataset = load_project(demo_copy)
    _fresh_process()
    assert lp.cached_alignment(dataset, *_anchors(dataset)) is not None
    assert not (demo_copy / CACHE_DIR / "alignment.bin").exists()
