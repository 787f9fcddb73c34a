"""The CG-MuAlign layers against the paper's equations, computed by hand with loops."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from core.sampling.blocks import PaddedBlock, pair_batch, prepare_graph
from core.data.dataset import AlignmentDataset
from core.features.entity_features import NameHashing, encode_entities, fit_feature_spec
from core.data.kg import KnowledgeGraph
from core.data.links import Links
from core.model.cg_mualign import CGMuAlign, ModelConfig
from core.model.layers import AverageAggLayer, CollectiveAggLayer, PairSide, TypedLinear
from core.data.schema import Correspondence, SchemaMapping
from core.features.vocabulary import build_vocabulary


def _block(neighbours, relations, cap):
    n = len(neighbours)
    nb = torch.zeros(n, cap, dtype=torch.long)
    rel = torch.zeros(n, cap, dtype=torch.long)
    mask = torch.zeros(n, cap, dtype=torch.bool)
    for i, (ns, rs) in enumerate(zip(neighbours, relations)):
        nb[i, :len(ns)] = torch.tensor(ns, dtype=torch.long)
        rel[i, :len(rs)] = torch.tensor(rs, dtype=torch.long)
        mask[i, :len(ns)] = True
    return PaddedBlock(nb, rel, mask, n, 0)


def reference_top_layer(layer, h_l, nb_l, rel_l, i, h_r, nb_r, rel_r, j):
    """Eqs. 4-9 for the pair (i, j), one neighbour at a time."""
    W, W_self, a = layer.neighbour.weight, layer.own.weight[0], layer.attention_vectors
    z_l = [h_l[p] @ W[r] for p, r in zip(nb_l, rel_l)]
    z_r = [h_r[q] @ W[r] for q, r in zip(nb_r, rel_r)]

    def side(own, z_mine, rels, z_other):
        s = torch.stack([sum(torch.exp(-torch.linalg.vector_norm(zp - zq)) for zq in z_other) for zp in z_mine])
        alpha = s / s.sum()
        e = torch.stack([F.leaky_relu(a[r] @ torch.cat([own, zp]), 0.2) for zp, r in zip(z_mine, rels)])
        beta = torch.exp(e) / torch.exp(e).sum()
        w = alpha * beta / (alpha * beta).sum()
        z = sum(wp * zp for wp, zp in zip(w, z_mine))
        return F.relu(torch.cat([own, z])), alpha, beta, w

    own_l, own_r = h_l[i] @ W_self, h_r[j] @ W_self
    return side(own_l, z_l, rel_l, z_r), side(own_r, z_r, rel_r, z_l)


def test_top_layer_matches_the_equations_on_a_six_node_pair():
    torch.manual_seed(0)
    layer = CollectiveAggLayer(4, 6, 2, 1, cross_attention=True, self_attention=True, leaky_slope=0.2)
    # left: pair node 0 with neighbours 1, 2 (relation 0) and 3 (relation 1); right: node 0 with 1, 2
    h_l, h_r = torch.randn(4, 4), torch.randn(3, 4)
    top_l = _block([[1, 2, 3]], [[0, 0, 1]], cap=4)
    top_r = _block([[1, 2]], [[0, 1]], cap=4)
    rows = torch.tensor([0])
    types = torch.tensor([0])
    left, right = layer(PairSide(h_l, top_l, rows, types), PairSide(h_r, top_r, rows, types), return_attention=True)
    hl, att_l, hr, att_r = left.h, left.attention, right.h, right.attention
    (ref_hl, alpha_l, beta_l, w_l), (ref_hr, alpha_r, beta_r, w_r) = reference_top_layer(
        layer, h_l, [1, 2, 3], [0, 0, 1], 0, h_r, [1, 2], [0, 1], 0)
    torch.testing.assert_close(hl[0], ref_hl, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(hr[0], ref_hr, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(att_l.alpha[0, :3], alpha_l, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(att_l.beta[0, :3], beta_l, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(att_l.weight[0, :3], w_l, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(att_r.weight[0, :2], w_r, atol=1e-5, rtol=1e-5)
    for att, n in ((att_l, 3), (att_r, 2)):
        for name in ("alpha", "beta", "weight"):
            values = getattr(att, name)[0]
            assert values[:n].sum().item() == pytest.approx(1.0, abs=1e-6)
            assert (values[n:] == 0).all()  # padding carries no weight


def _tiny_pair(left_names, right_names, left_edges, right_edges) -> AlignmentDataset:
    """Two graphs of films (type 0) and people (type 1); edges are (film, person) with relation 'acted'."""
    def kg(names, edges, prefix):
        n = len(names)
        types = np.array([0 if name.startswith("film") else 1 for name in names], dtype=np.int32)
        heads = np.array([h for h, _ in edges], dtype=np.int64)
        tails = np.array([t for _, t in edges], dtype=np.int64)
        return KnowledgeGraph(np.array([f"{prefix}{i}" for i in range(n)], dtype=object), types, ("film", "person"),
                              np.array(names, dtype=object), pd.DataFrame(index=range(n)), heads,
                              np.zeros(len(edges), dtype=np.int32), tails, ("acted",))
    schema = SchemaMapping((Correspondence("film", "film", "film"), Correspondence("person", "person", "person")),
                           (Correspondence("acted", "acted", "acted"),))
    return AlignmentDataset(kg(left_names, left_edges, "L"), kg(right_names, right_edges, "R"), schema, Links.empty())


def _prepare(d: AlignmentDataset, config: ModelConfig):
    spec = fit_feature_spec(d, NameHashing(n_buckets=2**12))
    vocabulary = build_vocabulary(d)
    left = prepare_graph(d.left, encode_entities(d.left, spec, "left"), vocabulary, "left")
    right = prepare_graph(d.right, encode_entities(d.right, spec, "right"), vocabulary, "right")
    model = CGMuAlign(config, n_buckets=2**12, dense_dim=spec.dense_width, n_types=vocabulary.n_types,
                      n_relations=vocabulary.n_relations)
    return left, right, model


def test_a_shared_neighbour_gets_more_cross_attention_than_an_unshared_one():
    # person 0 acted in "film Matrix" (both sides know it) and in a film only the left knows
    d = _tiny_pair(["person Keanu", "film Matrix", "film Qxzv Wyrd Jjok"],
                   ["person Keanu", "film Matrix"], [(1, 0), (2, 0)], [(1, 0)])
    torch.manual_seed(0)
    left, right, model = _prepare(d, ModelConfig(n_layers=1))
    batch = pair_batch(left, right, np.array([0]), np.array([0]), cap=10, n_layers=1, rng=np.random.default_rng(0))
    out = model(left.features, batch.left, batch.left_rows, right.features, batch.right, batch.right_rows,
                return_attention=True)
    att = out.left_attention
    neighbours = batch.left.input_nodes[att.neighbours[0][att.mask[0]].numpy()]
    alpha = dict(zip(neighbours.tolist(), att.alpha[0][att.mask[0]].tolist()))
    assert alpha[1] > alpha[2]  # the shared film outweighs the one-sided one


def test_isolated_entities_and_empty_neighbourhoods_stay_finite():
    d = _tiny_pair(["person A", "film B"], ["person A", "film B", "person C"], [(1, 0)], [(1, 0)])
    for n_layers in (1, 2, 3):
        torch.manual_seed(0)
        left, right, model = _prepare(d, ModelConfig(n_layers=n_layers, hidden=8))
        # left person 0 has a neighbour, right person 2 has none; and the reverse roles
        batch = pair_batch(left, right, np.array([0, 0, 1]), np.array([2, 0, 2]), cap=4, n_layers=n_layers,
                           rng=np.random.default_rng(0))
        out = model(left.features, batch.left, batch.left_rows, right.features, batch.right, batch.right_rows,
                    return_attention=True)
        out.distance.sum().backward()
        assert torch.isfinite(out.distance).all() and torch.isfinite(out.left).all()
        grads = [p.grad.coalesce().values() if p.grad.is_sparse else p.grad
                 for p in model.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads)
        # the isolated right person: no weight anywhere, and its own features still reach it
        isolated = out.right_attention
        assert isolated.weight[0].sum() == 0 and out.right[0].abs().sum() > 0


@pytest.mark.parametrize("variant", ["no-cross-attention", "no-self-attention", "graphsage", "r-graphsage"])
def test_ablations_switch_off_what_they_name(variant):
    d = _tiny_pair(["person K", "film M", "film X", "film Y"], ["person K", "film M", "film Z"],
                   [(1, 0), (2, 0), (3, 0)], [(1, 0), (2, 0)])
    torch.manual_seed(0)
    config = ModelConfig.variant(variant, n_layers=1)
    left, right, model = _prepare(d, config)
    batch = pair_batch(left, right, np.array([0]), np.array([0]), cap=10, n_layers=1, rng=np.random.default_rng(0))
    att = model(left.features, batch.left, batch.left_rows, right.features, batch.right, batch.right_rows,
                return_attention=True).left_attention
    real = att.mask[0]
    uniform = torch.full((int(real.sum()),), 1 / int(real.sum()))
    if not config.cross_attention:
        torch.testing.assert_close(att.alpha[0][real], uniform)
    if not config.self_attention:
        torch.testing.assert_close(att.beta[0][real], uniform)
    if variant in ("graphsage", "r-graphsage"):
        torch.testing.assert_close(att.weight[0][real], uniform)  # plain mean aggregation
    if variant == "graphsage":
        assert model.top.neighbour.weight.shape[0] == 1  # one matrix for every relation


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="hidden must be an even number"):
        ModelConfig(hidden=7)
    with pytest.raises(ValueError, match="unknown model variant"):
        ModelConfig.variant("gat")


@pytest.mark.parametrize("name", ["cg-mualign", "no-cross-attention", "no-self-attention", "graphsage", "r-graphsage"])
def test_a_variant_config_knows_its_name(name):
    assert ModelConfig.variant(name).variant_name == name


@pytest.mark.parametrize("n_types", [1, 3])
def test_typed_linear_multiplies_each_row_by_its_types_matrix(n_types):
    """Eqs. (1)/(2) row by row; with one type every row shares the matrix, whatever type it names."""
    torch.manual_seed(0)
    layer = TypedLinear(4, 3, n_types)
    x, types = torch.randn(7, 4), torch.tensor([2, 0, 1, 2, 2, 0, 1])
    expected = torch.stack([x[e] @ layer.weight[int(types[e]) if n_types > 1 else 0] for e in range(len(x))])
    torch.testing.assert_close(layer(x, types), expected)
    assert layer(x[:0], types[:0]).shape == (0, 3)


def test_average_agg_layer_matches_the_equations():
    """Eqs. (1)-(4): h_i = ReLU([W_self h_i || mean_j W_r h_j]); a node without neighbours keeps its self half."""
    torch.manual_seed(0)
    layer = AverageAggLayer(4, 6, n_relations=2, n_self=2)
    h = torch.randn(5, 4)
    # destinations 0, 1, 2 (a prefix of the inputs); node 2 has no sampled neighbour
    block = _block([[1, 3, 4], [0], []], [[0, 1, 1], [1], []], cap=3)
    types = torch.tensor([1, 0, 1])
    got = layer(h, block, types)
    W, W_self = layer.neighbour.weight, layer.own.weight
    for i, (ns, rs) in enumerate([([1, 3, 4], [0, 1, 1]), ([0], [1]), ([], [])]):
        z = torch.stack([h[j] @ W[r] for j, r in zip(ns, rs)]).mean(0) if ns else torch.zeros(3)
        torch.testing.assert_close(got[i], F.relu(torch.cat([h[i] @ W_self[int(types[i])], z])))


def test_the_top_layer_returns_attention_only_when_asked_and_the_same_embeddings_either_way():
    torch.manual_seed(0)
    layer = CollectiveAggLayer(4, 6, 2, 1, cross_attention=True, self_attention=True, leaky_slope=0.2)
    h_l, h_r = torch.randn(4, 4), torch.randn(3, 4)
    sides = (PairSide(h_l, _block([[1, 2, 3]], [[0, 0, 1]], cap=4), torch.tensor([0]), torch.tensor([0])),
             PairSide(h_r, _block([[1, 2]], [[0, 1]], cap=4), torch.tensor([0]), torch.tensor([0])))
    plain, explained = layer(*sides), layer(*sides, return_attention=True)
    assert plain[0].attention is None and plain[1].attention is None
    for a, b in zip(plain, explained):
        assert torch.equal(a.h, b.h)
    # each left neighbour's closest right neighbour, by Eq. (1)'s messages
    h_l, h_r = h_l.detach(), h_r.detach()
    z_l = [h_l[p] @ layer.neighbour.weight[r] for p, r in ((1, 0), (2, 0), (3, 1))]
    z_r = [h_r[q] @ layer.neighbour.weight[r] for q, r in ((1, 0), (2, 1))]
    closest = [min(range(2), key=lambda q: float(torch.linalg.vector_norm(zp - z_r[q]).detach())) for zp in z_l]
    assert explained[0].attention.best_counterpart[0, :3].tolist() == closest


def test_an_entity_alone_is_what_the_no_cross_attention_model_makes_of_it_in_any_pair():
    """embed_alone = h^K with uniform alpha: with cross-attention off, forward gives the same vector."""
    d = _tiny_pair(["film a", "film b", "person x", "person y"], ["film a", "film b", "person x", "person z"],
                   [(0, 2), (0, 3), (1, 2)], [(0, 2), (1, 3), (1, 2)])
    torch.manual_seed(0)
    left, right, model = _prepare(d, ModelConfig.variant("no-cross-attention"))
    model.eval()
    pairs_left, pairs_right = np.array([0, 0, 1, 2]), np.array([0, 1, 1, 3])
    batch = pair_batch(left, right, pairs_left, pairs_right, cap=4, n_layers=2, rng=7)
    with torch.no_grad():
        out = model(left.features, batch.left, batch.left_rows, right.features, batch.right, batch.right_rows)
        alone_left = model.embed_alone(left.features, batch.left, batch.left_rows)
        alone_right = model.embed_alone(right.features, batch.right, batch.right_rows)
    torch.testing.assert_close(alone_left, out.left)
    torch.testing.assert_close(alone_right, out.right)
    torch.testing.assert_close(alone_left[0], alone_left[1])  # the same entity in two pairs: one vector

    full = CGMuAlign(ModelConfig(), n_buckets=2**12, dense_dim=model.inputs.out_dim - ModelConfig().name_dim,
                     n_types=2, n_relations=model.top.attention_vectors.shape[0])
    full.load_state_dict(model.state_dict())
    full.eval()
    with torch.no_grad():  # with cross-attention on, the pair changes the vector; alone it does not
        paired = full(left.features, batch.left, batch.left_rows, right.features, batch.right, batch.right_rows)
        torch.testing.assert_close(full.embed_alone(left.features, batch.left, batch.left_rows), alone_left)
    assert paired.left.shape == alone_left.shape
