"""`mualign export --format dgl`: the project's graphs and alignment as DGL heterographs, losslessly."""

from __future__ import annotations

import numpy as np
import pytest

from core.project.dgl_export import export_dgl, load_dgl_export, type_local_index


@pytest.fixture(scope="module")
def exported(music, tmp_path_factory):
    pair, candidates = music
    out = export_dgl(pair.dataset, tmp_path_factory.mktemp("dgl") / "export", candidates)
    return pair.dataset, candidates, load_dgl_export(out)


def _triples(graph, kg) -> set[tuple[int, str, int]]:
    found = set()
    for head_type, relation, tail_type in graph.canonical_etypes:
        u, v = graph.edges(etype=(head_type, relation, tail_type))
        heads = graph.nodes[head_type].data["entity"][u].numpy()
        tails = graph.nodes[tail_type].data["entity"][v].numpy()
        assert all(kg.type_names[kg.entity_types[h]] == head_type for h in heads)
        found |= set(zip(heads.tolist(), [relation] * len(heads), tails.tolist()))
    return found


def test_every_triple_is_an_edge_of_its_typed_relation(exported):
    dataset, _, export = exported
    for kg, graph in ((dataset.left, export.left), (dataset.right, export.right)):
        expected = set(zip(kg.heads.tolist(), [kg.relation_names[r] for r in kg.relations], kg.tails.tolist()))
        assert _triples(graph, kg) == expected
        assert graph.num_edges() == kg.n_triples and graph.num_nodes() == kg.n_entities


def test_nodes_and_alignment_map_back_to_the_project(exported):
    dataset, candidates, export = exported
    for kg, nodes in ((dataset.left, export.left_nodes), (dataset.right, export.right_nodes)):
        assert nodes["id"].tolist() == [str(i) for i in kg.entity_ids]
        assert np.array_equal(nodes["node"].to_numpy(), type_local_index(kg))
    links = dataset.links
    for field in ("left", "right", "type", "label", "split"):
        assert np.array_equal(export.labels[f"link_{field}"].numpy(), getattr(links, field))
    assert np.array_equal(export.labels["candidate_right"].numpy(), candidates.right)
    # a link's left entity, found through its DGL node type and id
    left = int(export.labels["link_left"][0])
    node_type, node = export.left_nodes.loc[left, ["type", "node"]]
    assert int(export.left.nodes[node_type].data["entity"][node]) == left


def test_dgl_samplers_run_on_the_export(exported):
    from core.model._dgl import dgl

    _, _, export = exported
    seeds = {t: [0] for t in export.left.ntypes if export.left.num_nodes(t)}
    frontier = dgl.sampling.sample_neighbors(export.left, seeds, 3)
    assert frontier.num_edges() > 0


def test_the_cli_writes_an_export_of_a_project(music, tmp_path):
    from cli.main import main
    from core.formats.native import save_project

    project = save_project(music[0].dataset, tmp_path / "music") or tmp_path / "music"
    assert main(["export", "--format", "dgl", "--project", str(project), "--out", str(tmp_path / "out")]) == 0
    export = load_dgl_export(tmp_path / "out")
    assert "candidate_left" not in export.labels  # not blocked yet: links only
    assert export.left.num_nodes() == music[0].dataset.left.n_entities
