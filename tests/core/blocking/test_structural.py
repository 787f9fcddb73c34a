"""Candidates from structure and embeddings: a pair whose names share no character is found by its neighbours.

The hand-made pair: two films per side, each with two actors; the actors are the TRAIN links
(anchors), the films the TEST links. Film names are Latin on the left and Cyrillic on the right,
so name blocking cannot propose a film pair; one actor keeps the same name on both sides.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.blocking.name_blocking import BlockingConfig, block
from core.blocking.report_text import format_blocking_report
from core.blocking.structural import anchor_links, embedding_candidates, label_candidates
from core.data.dataset import AlignmentDataset
from core.data.kg import KnowledgeGraph
from core.data.links import Links, Split
from core.data.schema import Correspondence, SchemaMapping
from core.project.lifecycle import blocking_report_from_dict, blocking_report_to_dict

FILM, PERSON = 0, 1


def _graph(film_names: list[str], person_names: list[str]) -> KnowledgeGraph:
    """Entities 0-1 films, 2-5 persons; film 0 stars persons 2 and 3, film 1 persons 4 and 5."""
    names = np.array(film_names + person_names, dtype=object)
    return KnowledgeGraph(entity_ids=np.array([f"e{i}" for i in range(6)], dtype=object),
                          entity_types=np.array([FILM] * 2 + [PERSON] * 4, dtype=np.int32),
                          type_names=("film", "person"), names=names, attributes=pd.DataFrame(index=range(6)),
                          heads=np.array([0, 0, 1, 1]), relations=np.zeros(4, dtype=np.int32),
                          tails=np.array([2, 3, 4, 5]), relation_names=("starring",))


@pytest.fixture
def pair() -> AlignmentDataset:
    left = _graph(["Le Fabuleux Destin", "La Haine"], ["Marie Curie", "Hans", "Olaf", "Sven"])
    right = _graph(["Жизнь", "Ненависть"], ["Marie Curie", "Ганс", "Олаф", "Свен"])
    schema = SchemaMapping(types=(Correspondence("film", "film", "film"), Correspondence("person", "person", "person")),
                           relations=(Correspondence("starring", "starring", "starring"),))
    train, test = Split.TRAIN.code, Split.TEST.code
    links = Links(left=np.array([2, 3, 4, 5, 0, 1]), right=np.array([2, 3, 4, 5, 0, 1]),
                  type=np.array([PERSON] * 4 + [FILM] * 2, dtype=np.int32), label=np.ones(6, dtype=np.int8),
                  split=np.array([train] * 4 + [test] * 2, dtype=np.int8))
    return AlignmentDataset(left, right, schema, links, name="hand-made")


def _pairs(candidates, type_index):
    c = candidates.of_type(type_index)
    return sorted(zip(c.left.tolist(), c.right.tolist()))


def test_names_alone_miss_the_films_and_structure_finds_them(pair):
    names_only, name_report = block(pair, BlockingConfig(top_k=5, structure_top_k=0))
    assert _pairs(names_only, FILM) == []  # no shared character n-gram
    assert name_report.per_type[FILM].gold_kept == 0 and name_report.source_names == ()

    union, report = block(pair, BlockingConfig(top_k=5, structure_top_k=3))
    # film 0's neighbours are anchors 2, 3, whose counterparts star in film 0 on the right: similarity 1;
    # with film 1 it shares only the relation "starring" (whose label every film inherits): lower, but positive
    assert _pairs(union, FILM) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    found = label_candidates(pair, anchor_links(pair), 3)
    films = found.left < 2
    assert list(zip(found.left[films].tolist(), found.right[films].tolist())) == [(0, 0), (0, 1), (1, 1), (1, 0)]
    assert found.similarity[films][[0, 2]] == pytest.approx([1.0, 1.0])
    assert (found.similarity[films][[1, 3]] < 0.5).all()
    film = report.per_type[FILM]
    assert film.gold_kept == 2 and film.n_held_out == 2 and film.held_out_kept == 2
    assert union.of_type(FILM).name_score.tolist() == [0.0] * 4  # the names' own cosine, not the structure's


def test_per_source_completeness_by_hand(pair):
    _, report = block(pair, BlockingConfig(top_k=5, structure_top_k=3))
    film, person = report.per_type
    assert [(s.source, s.n_candidates, s.gold_kept, s.held_out_kept) for s in film.sources] == [
        ("name", 0, 0, 0), ("structure", 4, 2, 2)]
    # persons: names find only Marie Curie; by structure each actor's top 3 of the 4 persons (all
    # share the relation's label), its own anchor first, all 4 links kept; none is held out
    assert [(s.source, s.n_candidates, s.gold_kept, s.held_out_kept) for s in person.sources] == [
        ("name", 1, 1, 0), ("structure", 12, 4, 0)]
    assert (person.n_gold, person.n_held_out, person.n_candidates, person.gold_kept) == (4, 0, 12, 4)
    assert person.held_out_completeness is None  # nothing to measure
    assert report.source_completeness("name") == pytest.approx(1 / 6)
    assert report.source_completeness("name", held_out=True) == 0.0
    assert report.source_completeness("structure", held_out=True) == 1.0
    assert report.source_candidates("structure") == 16
    assert report.pair_completeness == 1.0 and report.held_out_completeness == 1.0
    text = format_blocking_report(report)
    assert "candidate sources" in text
    assert any(line.split() == ["ALL", "name", "1", "0.1667", "0.0000"] for line in text.splitlines())
    assert any(line.split() == ["film", "structure", "4", "1.0000", "1.0000"] for line in text.splitlines())


def test_test_links_are_never_anchors_and_accepted_labels_are(pair):
    anchors = anchor_links(pair)
    assert sorted(zip(anchors.left.tolist(), anchors.right.tolist())) == [(2, 2), (3, 3), (4, 4), (5, 5)]
    more = anchor_links(pair, extra=(np.array([0, 2]), np.array([0, 2])))  # (2, 2) already there
    assert len(more) == 5 and (0, 0) in set(zip(more.left.tolist(), more.right.tolist()))


def test_without_train_links_blocking_is_names_only(pair):
    no_train = AlignmentDataset(pair.left, pair.right, pair.schema,
                                pair.links.select(pair.links.split == Split.TEST.code))
    candidates, report = block(no_train, BlockingConfig(top_k=5))
    assert _pairs(candidates, FILM) == [] and report.source_names == ()


def test_embedding_source_is_reported_and_unioned(pair):
    # embeddings that put each entity next to its counterpart, except film 1 (a zero row)
    left = np.eye(6)
    right = np.eye(6)
    left[1] = 0.0
    candidates, report = block(pair, BlockingConfig(top_k=5, structure_top_k=0, embedding_top_k=1),
                               embeddings=(left, right))
    assert [s.source for s in report.per_type[FILM].sources] == ["name", "embedding"]
    assert _pairs(candidates, FILM) == [(0, 0)]
    film = report.per_type[FILM]
    assert (film.source("embedding").n_candidates, film.gold_kept, film.held_out_kept) == (1, 1, 1)


def test_embedding_candidates_agree_with_a_dense_argsort_in_any_chunking():
    rng = np.random.default_rng(0)
    left, right = rng.normal(size=(37, 5)), rng.normal(size=(23, 5))
    cosine = (left / np.linalg.norm(left, axis=1, keepdims=True)) @ (right / np.linalg.norm(right, axis=1,
                                                                                              keepdims=True)).T
    for chunk in (1, 8, 100):
        found = embedding_candidates(left, right, 4, chunk=chunk)
        for i in range(37):
            expected = [j for j in np.argsort(-cosine[i])[:4] if cosine[i, j] > 0]
            assert found.right[found.left == i].tolist() == expected
    rows = embedding_candidates(left, right, 2, left_rows=np.array([3, 9]), right_rows=np.array([1, 4, 20]))
    assert set(rows.left.tolist()) <= {3, 9} and set(rows.right.tolist()) <= {1, 4, 20}
    with pytest.raises(ValueError, match="same d"):
        embedding_candidates(left, right[:, :3], 2)


def test_the_report_with_sources_round_trips_and_an_old_report_still_reads(pair):
    _, report = block(pair, BlockingConfig(top_k=5, structure_top_k=3))
    data = blocking_report_to_dict(report)
    assert blocking_report_from_dict(data) == report
    for stats in data["per_type"]:  # a report written before sources existed
        for field in ("sources", "n_held_out", "held_out_kept"):
            del stats[field]
    for field in ("structure_top_k", "structure_hops", "embedding_top_k"):
        del data["config"][field]
    old = blocking_report_from_dict(data)
    assert old.source_names == () and old.held_out_completeness is None
    assert "candidate sources" not in format_blocking_report(old)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="structure_top_k must be >= 0"):
        BlockingConfig(structure_top_k=-1)
    with pytest.raises(ValueError, match="structure_hops must be >= 1"):
        BlockingConfig(structure_hops=0)
    with pytest.raises(ValueError, match="structure_hub_share"):
        BlockingConfig(structure_hub_share=1.5)


def test_a_type_too_large_for_the_dense_label_ranking_takes_the_sparse_anchor_profiles(pair, monkeypatch):
    """Above DENSE_PAIRS_LIMIT entity pairs a type is not ranked by label propagation (n_left x n_right x d)."""
    from core.matching import label_propagation

    _, dense = block(pair, BlockingConfig(top_k=5, structure_top_k=3))
    label_propagation._CACHE.clear()
    monkeypatch.setattr(label_propagation, "DENSE_PAIRS_LIMIT", 3)  # every type here has 2 x 2 or 4 x 4 pairs
    assert label_candidates(pair, anchor_links(pair), 3).left.size == 0  # nothing ranked densely now
    union, report = block(pair, BlockingConfig(top_k=5, structure_top_k=3))
    label_propagation._CACHE.clear()
    # the anchor profiles still find both films (each film's actors are anchors of its counterpart)
    assert {(0, 0), (1, 1)} <= set(_pairs(union, FILM))
    film = report.per_type[FILM]
    assert film.held_out_kept == 2 and dict((s.source, s) for s in film.sources)["structure"].n_candidates > 0


def test_graphs_too_large_to_propagate_fall_back_to_the_anchor_profiles(pair, monkeypatch):
    """Label features are n x (hops + 1) x dim floats a side; above FEATURE_FLOATS_LIMIT nothing is propagated."""
    from core.matching import label_propagation
    from core.matching.label_propagation import cached_alignment, label_features

    label_propagation._CACHE.clear()
    monkeypatch.setattr(label_propagation, "FEATURE_FLOATS_LIMIT", 10)  # 6 entities x 3 hops x 256 is more
    anchors = anchor_links(pair)
    assert cached_alignment(pair, anchors.left, anchors.right) is None
    assert np.isnan(label_features(None, np.array([0]), np.array([0])).values).all()  # no evidence, not zero
    union, report = block(pair, BlockingConfig(top_k=5, structure_top_k=3))
    assert {(0, 0), (1, 1)} <= set(_pairs(union, FILM))  # the profiles still find the films
    assert report.per_type[FILM].held_out_kept == 2


def test_both_sides_profiles_on_two_threads_equal_one_thread(music):
    """side_profiles walks the two graphs side by side: every hop's matrix equals the serial walk's."""
    from core.blocking.structural import side_profiles

    dataset = music[0].dataset
    anchors = anchor_links(dataset)
    assert len(anchors) > 0
    serial = side_profiles(dataset, anchors, threads=1)
    threaded = side_profiles(dataset, anchors, threads=2)
    for one, two in zip(serial, threaded):
        assert len(one.by_hop) == len(two.by_hop) == 3
        for a, b in zip(one.by_hop, two.by_hop):
            assert a.shape == b.shape and (a != b).nnz == 0
    assert serial[0].by_hop[2].nnz > 0
