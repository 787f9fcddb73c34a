"""Layer-wise scoring gives the batch path's distances, encoding each node below the top layer once."""

from __future__ import annotations

import numpy as np
import pytest

from core.model.config import ModelConfig
from core.model.setup import build_setup
from core.project.lifecycle import ProgressScorer
from core.sampling.blocks import graph_batch
from core.scoring.layerwise import top_layer_inputs
from core.training.loop import TrainConfig, train


def _trained(music, n_layers: int, cap: int = 4):
    pair, candidates = music
    config = ModelConfig(hidden=16, name_dim=8, neighbour_cap=cap, n_layers=n_layers)
    setup = build_setup(pair.dataset, config)
    result = train(setup, config, TrainConfig(epochs=1, max_steps_per_epoch=3, seed=0), candidates=candidates)
    return result.scorer, candidates


def _batch_path(scorer, left, right) -> np.ndarray:
    out = np.zeros(len(left))
    for part, _, result in scorer.forward_pairs(left, right):
        out[part] = result.distance.double().numpy()
    return out


@pytest.mark.parametrize("n_layers", [1, 2, 3])
def test_layerwise_distances_equal_the_batch_paths_in_any_order_and_batch_size(music, n_layers):
    scorer, candidates = _trained(music, n_layers)
    order = np.random.default_rng(0).permutation(len(candidates))
    left, right = candidates.left[order], candidates.right[order]
    scorer.batch_size = 37  # many batches: entities recur across them
    expected = _batch_path(scorer, left, right)
    np.testing.assert_allclose(scorer.distances(left, right), expected, rtol=1e-5, atol=1e-6)
    scorer.batch_size = 4096  # one batch
    np.testing.assert_allclose(scorer.distances(left, right), expected, rtol=1e-5, atol=1e-6)
    # a pair alone gets its score in the table
    assert scorer.distances(left[5:6], right[5:6])[0] == pytest.approx(expected[5], rel=1e-5, abs=1e-6)


def test_each_node_below_the_top_layer_is_encoded_once(music, monkeypatch):
    scorer, candidates = _trained(music, 2)
    scorer.batch_size = 50
    encoded = []
    original = scorer.model.encode_nodes

    def spy(features, batch, nodes):
        encoded.append(np.asarray(nodes).copy())
        return original(features, batch, nodes)

    monkeypatch.setattr(scorer.model, "encode_nodes", spy)
    scorer.distances(candidates.left, candidates.right)
    seen = np.concatenate(encoded)
    expected = np.concatenate([top_layer_inputs(graph, entities, cap=4, seed=scorer.seed, batch_size=7)
                               for graph, entities in ((scorer.setup.left, candidates.left),
                                                       (scorer.setup.right, candidates.right))])
    assert len(seen) == len(expected)  # no node twice on a side, and only the nodes the top layer reads
    assert sorted(seen.tolist()) == sorted(expected.tolist())


def test_the_top_layers_inputs_are_the_entities_and_their_one_hop_sample(music):
    scorer, candidates = _trained(music, 2)
    graph = scorer.setup.right
    entities = np.unique(candidates.right)
    batch = graph_batch(graph.adjacency, graph.edge_weights, graph.entity_types, graph.relation_ids, entities,
                        cap=4, n_layers=1, rng=scorer.seed)
    np.testing.assert_array_equal(top_layer_inputs(graph, candidates.right, cap=4, seed=scorer.seed, batch_size=11),
                                  np.unique(batch.input_nodes))


def test_progress_is_reported_per_batch_from_one_scoring_call(music):
    scorer, candidates = _trained(music, 2)
    scorer.batch_size = 100
    reports = []
    calls = []
    original = scorer.distances

    def counted(left, right, **kwargs):
        calls.append(len(left))
        return original(left, right, **kwargs)

    scorer.distances = counted
    wrapped = ProgressScorer(scorer, lambda done, total: reports.append((done, total)), piece=64)
    out = wrapped.distances(candidates.left, candidates.right)
    assert calls == [len(candidates)]  # not in the wrapper's pieces: the lower layers run once
    n = len(candidates)
    assert reports == [(min(stop, n), n) for stop in range(100, n + 100, 100)]
    assert out.shape == (n,) and np.isfinite(out).all()


def test_no_pairs_score_nothing(music):
    scorer, _ = _trained(music, 2)
    assert scorer.distances(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)).shape == (0,)


@pytest.mark.parametrize("n_layers", [1, 2])
def test_entity_embeddings_are_embed_alone_on_each_entitys_own_sample(music, n_layers):
    import torch

    scorer, candidates = _trained(music, n_layers)
    graph = scorer.setup.right
    entities = np.random.default_rng(1).permutation(np.unique(candidates.right))
    scorer.batch_size = 29
    got = scorer.entity_embeddings("right", entities)
    seeds, rows = np.unique(entities, return_inverse=True)  # the batch path: the entities' own K-hop samples
    batch = graph_batch(graph.adjacency, graph.edge_weights, graph.entity_types, graph.relation_ids, seeds,
                        cap=4, n_layers=n_layers, rng=scorer.seed)
    scorer.model.eval()
    with torch.no_grad():
        expected = scorer.model.embed_alone(graph.features, batch, torch.from_numpy(rows.reshape(-1))).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
