"""The torch sampler draws exactly what the numpy sampler draws (checked on CPU, the device every machine has)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.demo.movies import generate_movie_pair
from core.features.vocabulary import build_vocabulary
from core.sampling import on_device
from core.sampling.blocks import PreparedGraph, pair_batch
from core.sampling.neighbours import edge_uniforms, edge_weights, sample_blocks, sample_neighbours


@pytest.fixture(scope="module")
def movies():
    dataset = generate_movie_pair(120, seed=3).dataset
    vocabulary = build_vocabulary(dataset)
    graphs = {}
    for side in ("left", "right"):
        kg = getattr(dataset, side)
        graphs[side] = PreparedGraph(kg.adjacency, edge_weights(kg), vocabulary.entity_types(kg, side),
                                     vocabulary.relations(side), features=None)
    return dataset, graphs


def test_hashed_uniforms_are_bit_identical_to_numpy():
    edge = np.concatenate([np.arange(50_000), np.array([2**40, 2**62 - 1, 123_456_789_012])]).astype(np.int64)
    for seed in (0, 1, 7, 2**61 + 5):
        assert np.array_equal(on_device.edge_uniforms(torch.from_numpy(edge), seed).numpy(), edge_uniforms(edge, seed))


def test_one_hop_samples_the_same_neighbours(movies):
    dataset, graphs = movies
    graph = graphs["left"]
    seeds = np.unique(np.random.default_rng(0).integers(0, dataset.left.n_entities, 400))
    for cap in (1, 3, 10):
        expected = sample_neighbours(graph.adjacency, graph.edge_weights, seeds, cap, 11)
        got = on_device.sample_neighbours(on_device.device_graph(graph, "cpu"), torch.from_numpy(seeds), cap, 11)
        for want, have in zip(expected, got):
            assert np.array_equal(want, have.numpy())
        assert cap > 1 or len(expected[0]) < sum(np.diff(graph.adjacency.indptr)[seeds])  # the cap did cut


def test_blocks_are_the_same_arrays(movies):
    dataset, graphs = movies
    graph = graphs["right"]
    seeds = np.unique(np.random.default_rng(1).integers(0, dataset.right.n_entities, 300))
    expected = sample_blocks(graph.adjacency, graph.edge_weights, seeds, cap=5, n_layers=2, rng=4)
    got = on_device.sample_blocks(on_device.device_graph(graph, "cpu"), torch.from_numpy(seeds), cap=5,
                                  n_layers=2, seed=4)
    for want, have in zip(expected, got):
        for name in ("dst_nodes", "src_nodes", "edge_dst", "edge_src", "edge_relation"):
            assert np.array_equal(getattr(want, name), getattr(have, name).numpy()), name


@pytest.mark.parametrize("rng_seed", [0, 5])
def test_pair_batches_are_identical_whichever_sampler_builds_them(movies, rng_seed):
    """Training's generator gives one int seed per batch; both samplers then build the same padded batch."""
    dataset, graphs = movies
    rng = np.random.default_rng(rng_seed)
    left = rng.integers(0, dataset.left.n_entities, 256)
    right = rng.integers(0, dataset.right.n_entities, 256)
    expected = pair_batch(graphs["left"], graphs["right"], left, right, cap=10, n_layers=2,
                          rng=np.random.default_rng(rng_seed + 100))
    seed = on_device.step_seed(np.random.default_rng(rng_seed + 100))
    got = on_device.pair_batch(graphs["left"], graphs["right"], left, right, cap=10, n_layers=2, seed=seed,
                               device="cpu")
    assert torch.equal(expected.left_rows, got.left_rows) and torch.equal(expected.right_rows, got.right_rows)
    for want, have in ((expected.left, got.left), (expected.right, got.right)):
        assert np.array_equal(want.seeds, have.seeds) and np.array_equal(want.input_nodes, have.input_nodes)
        assert torch.equal(want.input_types.long(), have.input_types.long())
        assert len(want.blocks) == len(have.blocks) == 2
        for a, b in zip(want.blocks, have.blocks):
            assert (a.n_dst, a.n_src) == (b.n_dst, b.n_src)
            for name in ("neighbours", "relations", "mask", "slots", "sources", "slot_relations", "slot_dst"):
                assert torch.equal(getattr(a, name), getattr(b, name)), name


def test_a_generator_and_the_int_it_draws_give_the_same_batch(movies):
    dataset, graphs = movies
    left, right = np.arange(40), np.arange(40)
    from_rng = pair_batch(graphs["left"], graphs["right"], left, right, cap=4, n_layers=2,
                          rng=np.random.default_rng(9))
    from_int = pair_batch(graphs["left"], graphs["right"], left, right, cap=4, n_layers=2,
                          rng=on_device.step_seed(np.random.default_rng(9)))
    assert torch.equal(from_rng.left.blocks[0].neighbours, from_int.left.blocks[0].neighbours)


def test_the_graph_is_copied_to_a_device_once(movies):
    _, graphs = movies
    assert on_device.device_graph(graphs["left"], "cpu") is on_device.device_graph(graphs["left"], "cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_a_cuda_batch_holds_the_cpu_batch(movies):
    dataset, graphs = movies
    left, right = np.arange(200), np.arange(200) + 3
    cpu = pair_batch(graphs["left"], graphs["right"], left, right, cap=10, n_layers=2, rng=2)
    cuda = pair_batch(graphs["left"], graphs["right"], left, right, cap=10, n_layers=2, rng=2, device="cuda")
    assert cuda.left.blocks[0].neighbours.device.type == "cuda"
    for a, b in zip(cpu.left.blocks + cpu.right.blocks, cuda.left.blocks + cuda.right.blocks):
        assert torch.equal(a.neighbours, b.neighbours.cpu()) and torch.equal(a.mask, b.mask.cpu())
