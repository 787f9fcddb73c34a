"""The sampled two-hop neighbourhoods of an explanation, and their drawing for the review app.

Two cases: a 6-node pair of graphs whose neighbourhoods can be written down by hand, and a model
trained briefly on the generated music pair, whose drawing is compared number by number with the
explanation and with a direct forward pass.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
import torch

from core.data.dataset import AlignmentDataset
from core.explanations.drawing import (
    AttentionMode, drawing_data, edge_colour, edge_width, evidence_table, remote_references, render_pair_html,
)
from core.model.setup import build_setup
from core.explanations.attention import Explanation, explain_pair
from core.data.kg import KnowledgeGraph
from core.data.links import Links, Split
from core.model.cg_mualign import ModelConfig
from core.data.schema import Correspondence, SchemaMapping
from core.scoring.model_scorer import ModelScorer
from core.training.loop import TrainConfig, train

# ------------------------------------------------------------------------ the 6-node pair ----
# film Alpha (0) -acted-> Ann (1), -directed-> Ann (1), -acted-> Bob (2); film Beta (3) -acted-> Ann,
# Bob and Cy (4); film Lonely (5) has no edges. Every degree is below the cap, so sampling keeps
# all neighbours and the two-hop neighbourhood of Alpha is known exactly: Ann and Bob at hop 1
# (Ann twice, through two relations), Beta at hop 2 (reached from both), Cy (hop 3) not at all.
NAMES = ["film Alpha", "person Ann", "person Bob", "film Beta", "person Cy", "film Lonely"]
TRIPLES = [(0, 0, 1), (0, 1, 1), (0, 0, 2), (3, 0, 1), (3, 0, 2), (3, 0, 4)]  # (head, relation, tail)
ACTED, DIRECTED = "acted", "directed"


def tiny_dataset(right_names=NAMES, right_ids=None) -> AlignmentDataset:
    def kg(ids, names):
        types = np.array([0 if n.startswith("film") else 1 for n in NAMES], dtype=np.int32)
        heads, relations, tails = (np.array(column, dtype=np.int64) for column in zip(*TRIPLES))
        return KnowledgeGraph(np.array(ids, dtype=object), types, ("film", "person"), np.array(names, dtype=object),
                              pd.DataFrame(index=range(len(names))), heads, relations.astype(np.int32), tails,
                              (ACTED, DIRECTED))

    schema = SchemaMapping((Correspondence("film", "film", "film"), Correspondence("person", "person", "person")),
                           (Correspondence(ACTED, ACTED, ACTED), Correspondence(DIRECTED, DIRECTED, DIRECTED)))
    right_ids = right_ids or [f"R{i}" for i in range(6)]
    return AlignmentDataset(kg([f"L{i}" for i in range(6)], NAMES), kg(right_ids, right_names), schema, Links.empty())


def tiny_scorer(n_layers: int = 2, dataset: AlignmentDataset | None = None) -> ModelScorer:
    """An untrained model: the structure does not depend on the weights, and the numbers are still its own."""
    config = ModelConfig(hidden=16, name_dim=8, n_layers=n_layers)
    setup = build_setup(dataset or tiny_dataset(), config)
    torch.manual_seed(0)
    return ModelScorer(setup.new_model(config), setup)


def edge_set(neighbourhood, hop):
    return {(e.source_id, e.target_id, e.relation) for e in neighbourhood.edges if e.hop == hop}


def hops(neighbourhood):
    return {n.entity_id: n.hop for n in neighbourhood.nodes}


def test_the_six_node_pair_gives_the_hand_written_two_hop_neighbourhood():
    e = explain_pair(tiny_scorer(n_layers=2), 0, 0)
    for p, neighbourhood in (("L", e.left_neighbourhood), ("R", e.right_neighbourhood)):
        assert hops(neighbourhood) == {f"{p}0": 0, f"{p}1": 1, f"{p}2": 1, f"{p}3": 2}
        assert [n.entity_id for n in neighbourhood.nodes][0] == f"{p}0"
        assert neighbourhood.node(f"{p}3").name == "film Beta" and neighbourhood.node(f"{p}3").type == "film"
        assert edge_set(neighbourhood, 1) == {(f"{p}0", f"{p}1", ACTED), (f"{p}0", f"{p}1", DIRECTED),
                                              (f"{p}0", f"{p}2", ACTED)}
        assert edge_set(neighbourhood, 2) == {
            (f"{p}1", f"{p}0", f"inverse {ACTED}"), (f"{p}1", f"{p}0", f"inverse {DIRECTED}"),
            (f"{p}1", f"{p}3", f"inverse {ACTED}"), (f"{p}2", f"{p}0", f"inverse {ACTED}"),
            (f"{p}2", f"{p}3", f"inverse {ACTED}")}
        assert all(x.alpha is None and x.beta is None and x.weight is None for x in neighbourhood.edges if x.hop == 2)
    # hop-1 edges are the evidence rows, numbers included
    for evidence, neighbourhood in ((e.left, e.left_neighbourhood), (e.right, e.right_neighbourhood)):
        rows = {(r.entity_id, r.relation): (r.alpha, r.beta, r.weight) for r in evidence}
        edges = {(x.target_id, x.relation): (x.alpha, x.beta, x.weight) for x in neighbourhood.edges if x.hop == 1}
        assert edges == rows and len(rows) == 3


def test_a_one_layer_model_has_no_hop_two():
    e = explain_pair(tiny_scorer(n_layers=1), 0, 0)
    for p, neighbourhood in (("L", e.left_neighbourhood), ("R", e.right_neighbourhood)):
        assert hops(neighbourhood) == {f"{p}0": 0, f"{p}1": 1, f"{p}2": 1}
        assert edge_set(neighbourhood, 2) == set() and len(edge_set(neighbourhood, 1)) == 3
    nodes, edges = drawing_data(render_pair_html(e))
    assert len(nodes) == 6 and not [x for x in edges if x["kind"] == "hop2"]


def test_an_isolated_entity_draws_just_the_pair():
    scorer = tiny_scorer()
    e = explain_pair(scorer, 5, 5)
    assert e.left == () and e.right == ()
    assert [(n.entity_id, n.hop) for n in e.left_neighbourhood.nodes] == [("L5", 0)]
    assert e.left_neighbourhood.edges == () and e.right_neighbourhood.edges == ()
    nodes, edges = drawing_data(render_pair_html(e))
    assert sorted(n["id"] for n in nodes) == ["L:L5", "R:R5"] and edges == []
    # one side isolated: the other side is drawn, with no closest-counterpart links (nothing to point at)
    e = explain_pair(scorer, 5, 0)
    nodes, edges = drawing_data(render_pair_html(e))
    assert len(nodes) == 1 + 4
    assert {x["kind"] for x in edges} == {"hop1", "hop2"}
    assert all(r.counterpart_id is None for r in e.right)


def test_a_hand_built_explanation_without_neighbourhoods_still_draws_the_pair():
    e = Explanation("a", "b", 1.0, -1.0, None, "", (), ())
    nodes, edges = drawing_data(render_pair_html(e))
    assert [n["id"] for n in nodes] == ["L:a", "R:b"] and edges == []


def test_malicious_names_and_ids_stay_text():
    bad_name = "<img src=x onerror=alert(1)>"
    bad_id = "<img src=y onerror=alert(2)> href"
    right_names = [bad_name, '<script>alert("x")</script> href', *NAMES[2:]]
    right_ids = [bad_id] + [f"R{i}" for i in range(1, 6)]
    scorer = tiny_scorer(dataset=tiny_dataset(right_names, right_ids))
    e = explain_pair(scorer, 0, 0)
    page = render_pair_html(e)
    assert "<img" not in page.lower()
    assert "<script>alert" not in page.lower()
    assert html.escape(bad_id) in page  # the legend shows the pair's ids, escaped
    # names reach the drawing unchanged, as text: vis-network sets string titles with innerText,
    # and pyvis's link-tooltip (innerHTML) variant, triggered by 'href' in a title, is not used
    assert "popup.innerHTML" not in page
    nodes, edges = drawing_data(page)
    by_id = {n["id"]: n for n in nodes}
    assert by_id[f"R:{bad_id}"]["title"].splitlines()[0] == bad_name
    assert by_id[f"R:{bad_id}"]["label"] == bad_name[:23] + "…"
    assert by_id["R:R1"]["entity_name"] == right_names[1]


# ---------------------------------------------------------------------- a trained model ----
@pytest.fixture(scope="module")
def scorer(music):
    pair, candidates = music
    setup = build_setup(pair.dataset, ModelConfig())
    return train(setup, ModelConfig(), TrainConfig(epochs=2, seed=0), candidates=candidates).scorer


@pytest.fixture(scope="module")
def pair_entities(music):
    pair, _ = music
    links = pair.dataset.links.in_split(Split.TEST).positives()
    return int(links.left[0]), int(links.right[0])


@pytest.fixture(scope="module")
def explained(scorer, pair_entities):
    e = explain_pair(scorer, *pair_entities)
    return e, render_pair_html(e)


def _summed(pairs):
    """(target, relation) -> summed (alpha, beta, w): a duplicated triple sampled twice is one edge."""
    out = defaultdict(lambda: np.zeros(3))
    for key, values in pairs:
        out[key] += np.asarray(values, dtype=np.float64)
    return {k: tuple(v) for k, v in out.items()}


def assert_same_numbers(got: dict, expected: dict, *, rtol: float = 0.0, atol: float = 0.0) -> None:
    assert set(got) == set(expected)
    for key in expected:
        np.testing.assert_allclose(np.asarray(got[key], dtype=np.float64), np.asarray(expected[key]), rtol=rtol,
                                   atol=atol, err_msg=str(key))


def test_hop_one_is_the_evidence_and_hop_two_the_lower_block_of_the_same_pass(scorer, pair_entities, explained):
    e, _ = explained
    (_, batch, out), = list(scorer.forward_pairs(np.array([pair_entities[0]]), np.array([pair_entities[1]]),
                                                 return_attention=True))
    dataset, relation_names = scorer.setup.dataset, scorer.setup.vocabulary.relation_names
    for evidence, neighbourhood, graph_batch, kg in ((e.left, e.left_neighbourhood, batch.left, dataset.left),
                                                     (e.right, e.right_neighbourhood, batch.right, dataset.right)):
        ids = [n.entity_id for n in neighbourhood.nodes]
        assert len(ids) == len(set(ids))
        hop_of = hops(neighbourhood)
        assert list(hop_of.values())[0] == 0 and sorted(hop_of.values()) == list(hop_of.values())
        hop1 = {(x.target_id, x.relation): (x.alpha, x.beta, x.weight) for x in neighbourhood.edges if x.hop == 1}
        assert_same_numbers(hop1, _summed(((r.entity_id, r.relation), (r.alpha, r.beta, r.weight)) for r in evidence),
                            atol=1e-7)
        assert {t for t, _ in hop1} == {i for i, h in hop_of.items() if h == 1}
        # hop 2: the sampled neighbours of each hop-1 node in the block below the top layer
        position = {int(graph_batch.input_nodes[p]): p for p in range(len(graph_batch.input_nodes))}
        lower = graph_batch.blocks[-2]
        expected = set()
        for target, _ in hop1:
            row = position[int(kg.indices_of([target])[0])]
            for slot in np.flatnonzero(lower.mask[row].numpy()):
                neighbour = graph_batch.input_nodes[int(lower.neighbours[row, slot])]
                expected.add((target, str(kg.entity_ids[neighbour]), relation_names[int(lower.relations[row, slot])]))
        assert edge_set(neighbourhood, 2) == expected and expected
        assert all(hop_of[s] == 1 and hop_of[t] <= 2 for s, t, _ in expected)
        assert {i for i, h in hop_of.items() if h == 2} == {t for _, t, _ in expected} - {t for t, _ in hop1} - {ids[0]}


def test_the_drawing_has_every_node_and_carries_the_forward_pass_numbers(scorer, pair_entities, explained):
    e, page = explained
    nodes, edges = drawing_data(page)
    assert len(nodes) == len(e.left_neighbourhood.nodes) + len(e.right_neighbourhood.nodes)
    assert {n["id"] for n in nodes} == ({f"L:{n.entity_id}" for n in e.left_neighbourhood.nodes}
                                        | {f"R:{n.entity_id}" for n in e.right_neighbourhood.nodes})
    by_id = {n["id"]: n for n in nodes}
    assert all(x["from"] in by_id and x["to"] in by_id for x in edges)
    # the numbers of a direct forward pass (not through explain_pair)
    (_, batch, out), = list(scorer.forward_pairs(np.array([pair_entities[0]]), np.array([pair_entities[1]]),
                                                 return_attention=True))
    dataset, relation_names = scorer.setup.dataset, scorer.setup.vocabulary.relation_names
    for prefix, att, graph_batch, kg, neighbourhood in (
            ("L", out.left_attention, batch.left, dataset.left, e.left_neighbourhood),
            ("R", out.right_attention, batch.right, dataset.right, e.right_neighbourhood)):
        slots = np.flatnonzero(att.mask[0].numpy())
        direct = _summed(((str(kg.entity_ids[graph_batch.input_nodes[int(att.neighbours[0, s])]]),
                           relation_names[int(att.relations[0, s])]),
                          (float(att.alpha[0, s]), float(att.beta[0, s]), float(att.weight[0, s]))) for s in slots)
        drawn = {(x["to"].removeprefix(f"{prefix}:"), x["relation"]): (x["alpha"], x["beta"], x["w"])
                 for x in edges if x["kind"] == "hop1" and x["from"].startswith(prefix)}
        core = {(x.target_id, x.relation): (x.alpha, x.beta, x.weight) for x in neighbourhood.edges if x.hop == 1}
        assert drawn == core  # exactly the explanation's floats
        assert_same_numbers(drawn, direct, rtol=1e-6, atol=1e-7)
        hop2 = {(x["from"], x["to"], x["relation"]) for x in edges if x["kind"] == "hop2" and x["side"] ==
                ("left" if prefix == "L" else "right")}
        assert hop2 == {(f"{prefix}:{s}", f"{prefix}:{t}", r) for s, t, r in edge_set(neighbourhood, 2)}
        assert all(x["w"] is None and x["width"] == 1 for x in edges if x["kind"] == "hop2")
    pair_nodes = [n for n in nodes if n["hop"] == 0]
    assert sorted(n["id"] for n in pair_nodes) == [f"L:{e.left_id}", f"R:{e.right_id}"]
    assert min(n["borderWidth"] for n in pair_nodes) > max(n["borderWidth"] for n in nodes if n["hop"] > 0)
    assert min(n["size"] for n in pair_nodes) > max(n["size"] for n in nodes if n["hop"] > 0)


def test_closest_counterparts_are_dashed_cross_graph_edges(explained):
    e, page = explained
    _, edges = drawing_data(page)
    dashed = {(x["from"], x["to"]): x for x in edges if x.get("dashes")}
    expected = {(f"L:{r.entity_id}", f"R:{r.counterpart_id}"): r for r in e.left if r.counterpart_id}
    expected |= {(f"R:{r.entity_id}", f"L:{r.counterpart_id}"): r for r in e.right if r.counterpart_id}
    assert set(dashed) == set(expected) and dashed
    for key, x in dashed.items():
        assert x["kind"] == "counterpart" and x["physics"] is False
        assert x["width"] == pytest.approx(1.0 + 4.0 * expected[key].alpha)
    assert all(x["kind"] == "counterpart" for x in edges if x.get("dashes"))


def test_the_mode_sets_hop_one_widths_and_colours(explained):
    e, _ = explained
    widths = {}
    for mode, field in ((AttentionMode.COMBINED, "w"), (AttentionMode.CROSS, "alpha"), (AttentionMode.SELF, "beta")):
        _, edges = drawing_data(render_pair_html(e, mode=mode))
        hop1 = [x for x in edges if x["kind"] == "hop1"]
        assert hop1
        for x in hop1:
            assert x["width"] == pytest.approx(edge_width(x[field])) and x["color"] == edge_colour(x[field])
        values, ws = np.array([x[field] for x in hop1]), np.array([x["width"] for x in hop1])
        assert (np.diff(ws[np.argsort(values)]) >= 0).all()  # wider means more attention
        widths[mode] = sorted(ws)
    assert widths[AttentionMode.COMBINED] != widths[AttentionMode.CROSS] != widths[AttentionMode.SELF]
    assert edge_width(0.0) == 1.0 and edge_width(1.0) == 10.0
    by_value = drawing_data(render_pair_html(e, mode="alpha"))
    assert by_value == drawing_data(render_pair_html(e, mode=AttentionMode.CROSS))
    with pytest.raises(ValueError):
        render_pair_html(e, mode="gamma")


def test_the_page_loads_nothing_from_the_internet(explained):
    _, page = explained
    tags = re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", page, flags=re.IGNORECASE)
    assert not [t for t in tags if re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", t, flags=re.IGNORECASE)]
    assert "cdn.jsdelivr" not in page and "cdnjs.cloudflare" not in page and "bootstrap.min" not in page
    assert remote_references(page) == []
    assert "new vis.Network(" in page and len(page) > 300_000  # vis-network itself is inlined
    # the guard itself can fail
    remote_css = '<link rel="stylesheet" href="https://example.org/a.css">'
    assert remote_references(remote_css) == ["https://example.org/a.css"]
    assert remote_references('<script src="//example.org/a.js"></script>') == ["//example.org/a.js"]


def test_layout_sides_colours_and_legend(explained):
    e, page = explained
    nodes, _ = drawing_data(page)
    assert all(n["x"] < 0 for n in nodes if n["side"] == "left")
    assert all(n["x"] > 0 for n in nodes if n["side"] == "right")
    colour_of = defaultdict(set)
    for n in nodes:
        colour_of[n["aligned_type"]].add(n["color"]["background"])
    assert all(len(c) == 1 for c in colour_of.values())  # a type has one colour on both sides
    assert len({next(iter(c)) for c in colour_of.values()}) == len(colour_of)  # and types differ
    legend = re.search(r'<div id="mualign-legend".*?</div>\s*</div>', page, flags=re.DOTALL).group(0)
    for aligned_type in colour_of:
        assert aligned_type in legend
    assert "closest counterpart" in legend and "w = α·β" in legend
    assert "cross-graph attention α" in re.search(r'<div id="mualign-legend".*?</div>\s*</div>',
                                                  render_pair_html(e, mode="alpha"), flags=re.DOTALL).group(0)
    assert 'height: 900px' in render_pair_html(e, height_px=900)


def test_evidence_table_is_one_side_by_decreasing_weight(explained):
    e, _ = explained
    for side, rows in (("left", e.left), ("right", e.right)):
        table = evidence_table(e, side)
        assert list(table.columns) == ["neighbour", "type", "relation", "alpha", "beta", "w", "closest counterpart"]
        assert len(table) == len(rows)
        assert table["w"].is_monotonic_decreasing
        assert sorted(table["alpha"]) == pytest.approx(sorted(r.alpha for r in rows))
        assert set(table["closest counterpart"]) == {r.counterpart_name for r in rows}
    empty = evidence_table(Explanation("a", "b", 1.0, -1.0, None, "", (), ()), "left")
    assert empty.empty and list(empty.columns)[-1] == "closest counterpart"
    with pytest.raises(ValueError, match="side must be"):
        evidence_table(e, "middle")


def test_drawing_data_rejects_other_pages():
    with pytest.raises(ValueError, match="vis.DataSet"):
        drawing_data("<html><body>no drawing</body></html>")


def test_the_legend_names_its_figures_the_gnns(explained):
    """The page shows the matcher's probability; the drawing's own figures must not read as that one."""
    explanation, page = explained
    legend = re.search(r'<div id="mualign-legend".*?</div>', page, flags=re.DOTALL).group(0)
    assert f"GNN distance {explanation.distance:.3f}" in legend
    assert " probability" not in legend.replace("GNN probability", "")
