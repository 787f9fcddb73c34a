"""Why a pair scored as it did: the top layer's attention over both sampled neighbourhoods.

The numbers come from the same forward pass that scores the pair (``return_attention=True``), so
what an analyst is shown is exactly what decided. For each side: every sampled neighbour, the
relation that reached it, its cross-graph attention alpha, self-attention beta, combined weight w,
and its closest counterpart among the other side's neighbours (the cross-graph link to draw).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.scoring import ModelScorer


@dataclass(frozen=True)
class NeighbourEvidence:
    entity_id: str
    name: str
    type: str
    relation: str
    alpha: float
    beta: float
    weight: float
    counterpart_id: str | None  # closest neighbour of the other side's entity (None if it has none)
    counterpart_name: str | None


@dataclass(frozen=True)
class Explanation:
    left_id: str
    right_id: str
    distance: float
    score: float
    probability: float | None
    model_version: str
    left: tuple[NeighbourEvidence, ...]  # sorted by decreasing weight
    right: tuple[NeighbourEvidence, ...]


def explain_pair(scorer: ModelScorer, left_entity: int, right_entity: int, *, model_version: str = "") -> Explanation:
    """The attention evidence for one pair (entity indices into the left and right graphs)."""
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
    probability = float(scorer.probabilities(left, right)[0]) if scorer.calibration else None
    return Explanation(
        str(dataset.left.entity_ids[left_entity]), str(dataset.right.entity_ids[right_entity]), distance, -distance,
        probability, model_version,
        side(out.left_attention, batch.left, dataset.left, out.right_attention, batch.right, dataset.right),
        side(out.right_attention, batch.right, dataset.right, out.left_attention, batch.left, dataset.left))


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
