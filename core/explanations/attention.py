"""Why a pair scored as it did: the top layer's attention over both sampled neighbourhoods.

The numbers come from the same forward pass that scores the pair (``return_attention=True``), so
what an analyst is shown is exactly what decided. For each side: every sampled neighbour, the
relation that reached it, its cross-graph attention alpha, self-attention beta, combined weight w,
and its closest counterpart among the other side's neighbours (the cross-graph link to draw).

Each side also carries its whole sampled two-hop :class:`Neighbourhood`, read from the same
:class:`~core.sampling.blocks.GraphBatch` the encoder consumed: hop 1 is the top layer's sampled
neighbours of the pair entity (the slots the attention weighs), hop 2 the neighbours sampled for
each hop-1 node in the block below (``blocks[-2]``), which reach the top layer only through that
node's mean-aggregated representation, so they carry no attention of their own.

The records themselves live in :mod:`core.explanations.records` (re-exported here), so drawing
and storing an explanation needs no torch.
"""

from __future__ import annotations

import numpy as np

from core.data.kg import KnowledgeGraph
from core.explanations.records import (
    Explanation, Neighbourhood, NeighbourhoodEdge, NeighbourhoodNode, NeighbourEvidence,
)
from core.model.layers import SideAttention
from core.sampling.blocks import GraphBatch
from core.scoring.model_scorer import ModelScorer

__all__ = ["Explanation", "Neighbourhood", "NeighbourhoodEdge", "NeighbourhoodNode", "NeighbourEvidence",
           "explain_pair", "format_explanation", "sampled_neighbourhood"]


def explain_pair(scorer: ModelScorer, left_entity: int, right_entity: int, *, model_version: str = "") -> Explanation:
    """The attention evidence and both sampled two-hop neighbourhoods of one pair.

    Parameters
    ----------
    scorer : the trained model with its encoder setup; its fixed scoring seed makes the sample,
        hence the explanation, the same every time the pair is asked for.
    left_entity, right_entity : entity indices into the left and right graphs.
    model_version : recorded in the result, so a stored explanation names the model behind it.

    Returns
    -------
    Explanation
        ``left``/``right``: one :class:`NeighbourEvidence` per top-layer slot, by decreasing
        weight. ``left_neighbourhood``/``right_neighbourhood``: the sampled two-hop
        neighbourhoods; their hop-1 edges are these slots, with two slots that sample the same
        neighbour through the same relation (a duplicated triple) merged into one edge whose
        alpha, beta and weight are the slots' sums (the two slots carry the same message, so the
        sum is exactly their joint share).

    Everything is read from one ``forward_pairs(..., return_attention=True)`` call: nothing is
    sampled or computed again.
    """
    left, right = np.array([left_entity]), np.array([right_entity])
    (_, batch, out), = list(scorer.forward_pairs(left, right, return_attention=True))
    dataset = scorer.setup.dataset
    relation_names = scorer.setup.vocabulary.relation_names

    def side(att, graph_batch, kg, other_att, other_batch, other_kg):
        mask = att.mask[0].cpu().numpy()
        nodes = graph_batch.input_nodes[att.neighbours[0].cpu().numpy()]
        other_nodes = other_batch.input_nodes[other_att.neighbours[0].cpu().numpy()]
        other_has = bool(other_att.mask[0].any())
        rows = []
        for slot in np.flatnonzero(mask):
            entity = int(nodes[slot])
            counterpart = int(other_nodes[int(att.best_counterpart[0, slot])]) if other_has else None
            rows.append(NeighbourEvidence(
                str(kg.entity_ids[entity]), str(kg.names[entity]), kg.type_names[kg.entity_types[entity]],
                relation_names[int(att.relations[0, slot])], float(att.alpha[0, slot]), float(att.beta[0, slot]),
                float(att.weight[0, slot]),
                None if counterpart is None else str(other_kg.entity_ids[counterpart]),
                None if counterpart is None else str(other_kg.names[counterpart])))
        return tuple(sorted(rows, key=lambda r: -r.weight))

    distance = float(out.distance[0])
    # the probability of this pass's score, not of a second pass
    probability = float(scorer.probability_of_score(np.array([-distance]))[0]) if scorer.calibration else None
    vocabulary = scorer.setup.vocabulary
    type_names = vocabulary.type_names
    return Explanation(
        str(dataset.left.entity_ids[left_entity]), str(dataset.right.entity_ids[right_entity]), distance, -distance,
        probability, model_version,
        side(out.left_attention, batch.left, dataset.left, out.right_attention, batch.right, dataset.right),
        side(out.right_attention, batch.right, dataset.right, out.left_attention, batch.left, dataset.left),
        sampled_neighbourhood(out.left_attention, batch.left, int(batch.left_rows[0]), dataset.left,
                              relation_names, tuple(type_names[t] for t in vocabulary.type_left)),
        sampled_neighbourhood(out.right_attention, batch.right, int(batch.right_rows[0]), dataset.right,
                              relation_names, tuple(type_names[t] for t in vocabulary.type_right)),
        tuple(type_names))


def sampled_neighbourhood(attention: SideAttention, graph_batch: GraphBatch, row: int, kg: KnowledgeGraph,
                          relation_names: tuple[str, ...], aligned_type_of: tuple[str, ...]) -> Neighbourhood:
    """The two-hop neighbourhood of pair ``0`` of a forward pass, for one side.

    ``row`` indexes ``graph_batch.seeds`` (the pair's row in the batch); ``attention`` is that
    side's top-layer attention of the same pass; ``aligned_type_of[t]`` is the model type name of
    the graph's type ``t``.

    Every layer's destinations are a prefix of its inputs (:class:`~core.sampling.blocks.GraphBatch`), so
    a top-layer slot's position in the top layer's inputs is also that node's row in the block
    below, and positions of every layer map to entities through ``input_nodes``.
    """
    input_nodes = graph_batch.input_nodes
    pair_entity = int(graph_batch.seeds[row])
    hop_of: dict[int, int] = {pair_entity: 0}  # entity -> smallest hop; insertion order = drawing order
    edges: dict[tuple[int, int, str], list] = {}  # (source, target, relation) -> [hop, alpha, beta, weight]

    mask = attention.mask[0].cpu().numpy()
    positions = attention.neighbours[0].cpu().numpy()
    relations = attention.relations[0].cpu().numpy()
    alpha, beta = attention.alpha[0].cpu().numpy(), attention.beta[0].cpu().numpy()
    weight = attention.weight[0].cpu().numpy()
    hop1_position: dict[int, int] = {}
    for slot in sorted(np.flatnonzero(mask), key=lambda s: -float(weight[s])):
        entity = int(input_nodes[positions[slot]])
        hop_of.setdefault(entity, 1)
        hop1_position.setdefault(entity, int(positions[slot]))
        key = (pair_entity, entity, relation_names[int(relations[slot])])
        if key in edges:  # a duplicated triple sampled twice: same message, so the shares add up
            edges[key][1:] = [edges[key][1] + float(alpha[slot]), edges[key][2] + float(beta[slot]),
                              edges[key][3] + float(weight[slot])]
        else:
            edges[key] = [1, float(alpha[slot]), float(beta[slot]), float(weight[slot])]

    if len(graph_batch.blocks) >= 2:
        lower = graph_batch.blocks[-2]
        lower_mask = lower.mask.cpu().numpy()
        lower_neighbours, lower_relations = lower.neighbours.cpu().numpy(), lower.relations.cpu().numpy()
        for source, position in hop1_position.items():
            for slot in np.flatnonzero(lower_mask[position]):
                entity = int(input_nodes[lower_neighbours[position, slot]])
                hop_of.setdefault(entity, 2)
                edges.setdefault((source, entity, relation_names[int(lower_relations[position, slot])]),
                                 [2, None, None, None])

    ids, names, type_names = kg.entity_ids, kg.names, kg.type_names
    nodes = tuple(
        NeighbourhoodNode(str(ids[e]), str(names[e]), type_names[kg.entity_types[e]], hop,
                          aligned_type_of[kg.entity_types[e]])
        for e, hop in hop_of.items())
    return Neighbourhood(nodes, tuple(
        NeighbourhoodEdge(str(ids[s]), str(ids[t]), relation, *values) for (s, t, relation), values in edges.items()))


def format_explanation(e: Explanation) -> str:
    """A readable text table of the evidence (for ``mualign explain``)."""
    lines = [f"pair {e.left_id} <-> {e.right_id}  distance={e.distance:.4f}"
             + (f"  probability={e.probability:.3f}" if e.probability is not None else "")
             + (f"  model={e.model_version}" if e.model_version else "")]
    for title, rows in (("left neighbours", e.left), ("right neighbours", e.right)):
        lines.append(f"\n{title} (w = alpha*beta renormalised):")
        lines.append(f"  {'w':>6} {'alpha':>6} {'beta':>6}  {'relation':<24} {'neighbour':<32} closest counterpart")
        for r in rows:
            lines.append(f"  {r.weight:6.3f} {r.alpha:6.3f} {r.beta:6.3f}  {r.relation[:24]:<24} "
                         f"{(r.name + ' [' + r.type + ']')[:32]:<32} {r.counterpart_name or '-'}")
        if not rows:
            lines.append("  (no neighbours: the score rests on the entity's own features)")
    return "\n".join(lines)
