"""A project as a DGL graph pair, for users who train their own DGL models on an aligned pair.

``mualign export --format dgl`` writes::

    OUT/graphs.bin     dgl.save_graphs: [left, right] heterographs and the alignment as labels
    OUT/left_nodes.tsv, OUT/right_nodes.tsv    type, node (index within its type), id, name
    OUT/manifest.json  what is where, and the counts (a reader can check it got everything)

Each graph is a heterograph with the project's entity types as node types and one canonical edge
type ``(head type, relation, tail type)`` per combination that occurs, so DGL's typed message
passing (``HeteroGraphConv``, ``multi_update_all``) and its samplers (``sample_neighbors``,
``NeighborSampler``) apply directly. Node ids are DGL's: an index within the node type; the
``entity`` node field maps each node back to the project's entity index (the row of its
``*_nodes.tsv``).

The labels dict carries the alignment in project entity indices: ``link_left``, ``link_right``,
``link_type`` (aligned type), ``link_label`` (1 match, 0 labelled non-match), ``link_split`` (0
train, 1 valid, 2 test, 3 unused), and, when the project is blocked, ``candidate_left``,
``candidate_right``, ``candidate_type``. Convert with the graph's ``entity`` field, e.g. the
left node of a link is type ``left_types[link_left]``, index ``left_local[link_left]`` (both in the
nodes TSV; :func:`load_dgl_export` returns them as arrays).

DGL is the right tool here, not the model's: its graphs are on CPU tensors, which is all PyPI's
dgl supports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.data.dataset import AlignmentDataset
from core.data.kg import KnowledgeGraph

GRAPHS_FILE = "graphs.bin"
MANIFEST_FILE = "manifest.json"
FORMAT = "mualign-dgl-export/1"


def type_local_index(kg: KnowledgeGraph) -> np.ndarray:
    """Each entity's index among the entities of its type (DGL's node id within the node type)."""
    n_types = len(kg.type_names)
    counts = np.bincount(kg.entity_types, minlength=n_types)
    order = np.argsort(kg.entity_types, kind="stable")
    local = np.empty(kg.n_entities, dtype=np.int64)
    local[order] = np.arange(kg.n_entities) - np.repeat(np.cumsum(counts) - counts, counts)
    return local


def to_heterograph(kg: KnowledgeGraph):
    """``kg`` as a ``dgl.DGLGraph`` with typed nodes and ``(head type, relation, tail type)`` edges."""
    import torch

    from core.model._dgl import dgl

    local = type_local_index(kg)
    head_type, tail_type = kg.entity_types[kg.heads], kg.entity_types[kg.tails]
    n_types, n_rel = len(kg.type_names), len(kg.relation_names)
    key = (head_type.astype(np.int64) * n_rel + kg.relations) * n_types + tail_type
    order = np.argsort(key, kind="stable")
    keys, starts = np.unique(key[order], return_index=True)
    stops = np.append(starts[1:], len(order))
    data = {}
    for k, start, stop in zip(keys, starts, stops):
        edges = order[start:stop]
        h, rest = divmod(int(k), n_rel * n_types)
        r, t = divmod(rest, n_types)
        data[(kg.type_names[h], kg.relation_names[r], kg.type_names[t])] = (
            torch.from_numpy(local[kg.heads[edges]]), torch.from_numpy(local[kg.tails[edges]]))
    counts = np.bincount(kg.entity_types, minlength=n_types)
    graph = dgl.heterograph(data, num_nodes_dict={name: int(c) for name, c in zip(kg.type_names, counts)})
    for code, name in enumerate(kg.type_names):
        graph.nodes[name].data["entity"] = torch.from_numpy(np.flatnonzero(kg.entity_types == code).astype(np.int64))
    return graph


def _nodes_frame(kg: KnowledgeGraph) -> pd.DataFrame:
    return pd.DataFrame({"type": np.asarray(kg.type_names, dtype=object)[kg.entity_types],
                         "node": type_local_index(kg), "id": kg.entity_ids,
                         "name": pd.Series(kg.names, dtype=object).str.replace(r"[\t\n\r]", " ", regex=True)})


def export_dgl(dataset: AlignmentDataset, out: str | Path, candidates=None) -> Path:
    """Write the DGL export of ``dataset`` (and its ``candidates``) to the folder ``out``."""
    import torch

    from core.model._dgl import dgl

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    graphs = [to_heterograph(dataset.left), to_heterograph(dataset.right)]
    links = dataset.links
    labels = {f"link_{field}": torch.from_numpy(np.ascontiguousarray(getattr(links, field)).astype(np.int64))
              for field in ("left", "right", "type", "label", "split")}
    if candidates is not None:
        labels.update({f"candidate_{field}": torch.from_numpy(np.asarray(getattr(candidates, field), dtype=np.int64))
                       for field in ("left", "right", "type")})
    dgl.save_graphs(str(out / GRAPHS_FILE), graphs, labels)
    for side in ("left", "right"):
        _nodes_frame(getattr(dataset, side)).to_csv(out / f"{side}_nodes.tsv", sep="\t", index=False,
                                                      lineterminator="\n")
    manifest = {"format": FORMAT, "project": dataset.name, "aligned_types": list(dataset.schema.type_names),
                "splits": ["train", "valid", "test", "unused"],
                "graphs": {side: {"nodes": {t: int(g.num_nodes(t)) for t in g.ntypes},
                                  "edges": {"/".join(c): int(g.num_edges(c)) for c in g.canonical_etypes}}
                           for side, g in zip(("left", "right"), graphs)},
                "labels": {k: int(v.shape[0]) for k, v in labels.items()}}
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return out


@dataclass(frozen=True, eq=False)
class DglExport:
    """What :func:`export_dgl` wrote, read back."""

    left: object  # dgl.DGLGraph
    right: object
    labels: dict  # name -> torch.Tensor
    left_nodes: pd.DataFrame
    right_nodes: pd.DataFrame
    manifest: dict


def load_dgl_export(folder: str | Path) -> DglExport:
    """Read an export (``dgl.load_graphs`` and the node tables); checks the manifest's counts."""
    from core.model._dgl import dgl

    folder = Path(folder)
    manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{folder / MANIFEST_FILE}: not a {FORMAT} export")
    (left, right), labels = dgl.load_graphs(str(folder / GRAPHS_FILE))
    nodes = {side: pd.read_csv(folder / f"{side}_nodes.tsv", sep="\t", dtype={"id": str, "name": str},
                               keep_default_na=False) for side in ("left", "right")}
    for side, graph in (("left", left), ("right", right)):
        expected = manifest["graphs"][side]["nodes"]
        if {t: int(graph.num_nodes(t)) for t in graph.ntypes} != expected or len(nodes[side]) != sum(expected.values()):
            raise ValueError(f"{folder}: the {side} graph does not match the manifest")
    return DglExport(left, right, labels, nodes["left"], nodes["right"], manifest)
