"""What the score of a pair would be without one of its neighbours: counterfactuals for the analyst.

Attention weights say how much the top layer *listened* to a neighbour, not how much the decision
*depends* on it: a neighbour with a large weight may carry a message much like the others'. A
counterfactual answers the question an analyst actually asks, "would the model still match these
two without the film they share?", by rescoring the pair with that neighbour taken out:

    "without Green Knife 4 the match probability would be 0.41 (now 0.93)"

How a neighbour is taken out: the pair is sampled once, exactly as scoring samples it
(:meth:`~core.scoring.model_scorer.ModelScorer.forward_pairs`, same seed, so the same
neighbourhood the score and the explanation came from), then every sampled edge between the pair
entity and that neighbour, in both directions and in every layer, is masked, and the encoder runs
again on the masked batch. For an entity with no more neighbours than the sampling cap this is
exactly the score the pair would get if the graph did not hold those triples (the test builds such
a graph and compares); for a crowded entity the freed slot stays empty rather than being refilled
by another neighbour, so the answer is about *this* sample, which is the one the analyst sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.sampling.blocks import GraphBatch, PairBatch, PaddedBlock
from core.scoring.model_scorer import ModelScorer

SIDES = ("left", "right")


@dataclass(frozen=True)
class Counterfactual:
    """The pair's score and probability with one neighbour (of one side) taken out.

    ``weight`` is the neighbour's combined top-layer attention w in the real pass (summed over
    its slots when it was sampled through several relations), for showing beside the change.
    ``probability`` is ``None`` when the model is not calibrated.
    """

    side: str
    entity_id: str
    name: str
    relations: tuple[str, ...]
    weight: float
    score: float
    probability: float | None
    score_change: float  # score without the neighbour minus the real score
    probability_change: float | None

    def __post_init__(self) -> None:
        if self.side not in SIDES:
            raise ValueError(f"side must be 'left' or 'right', got {self.side!r}")


@dataclass(frozen=True)
class PairCounterfactuals:
    """The real score of a pair and its counterfactuals, most influential neighbour first."""

    left_id: str
    right_id: str
    score: float
    probability: float | None
    model_version: str
    neighbours: tuple[Counterfactual, ...]


def pair_counterfactuals(scorer: ModelScorer, left_entity: int, right_entity: int, *, per_side: int = 3,
                         model_version: str = "") -> PairCounterfactuals:
    """Counterfactuals for the ``per_side`` heaviest neighbours of each side of one pair.

    Parameters
    ----------
    scorer : the trained model (its fixed scoring seed gives the sample the score came from).
    left_entity, right_entity : entity indices into the left and right graphs.
    per_side : how many neighbours per side, by decreasing combined attention w; ``None`` or a
        large number takes every sampled neighbour (at most the sampling cap per side).
    model_version : recorded in the result.

    Returns
    -------
    PairCounterfactuals
        ``neighbours`` sorted by how far the score moves without them, either way (largest move
        first), so the neighbour the decision leans on most leads.

    Cost: one forward pass for the real score and one per neighbour, each of a single pair
    (milliseconds on CPU); callers cache the result per pair and model version.
    """
    left, right = np.array([left_entity]), np.array([right_entity])
    (_, batch, out), = list(scorer.forward_pairs(left, right, return_attention=True))
    score = -float(out.distance[0])
    probability = _probability(scorer, score)
    dataset = scorer.setup.dataset
    relation_names = scorer.setup.vocabulary.relation_names

    found = []
    for side, attention, graph_batch, kg in (("left", out.left_attention, batch.left, dataset.left),
                                             ("right", out.right_attention, batch.right, dataset.right)):
        for entity, weight, relations in _heaviest_neighbours(attention, graph_batch, relation_names, per_side):
            masked = without_neighbour(batch, side, entity)
            new_score = -float(_distance(scorer, masked))
            new_probability = _probability(scorer, new_score)
            found.append(Counterfactual(
                side, str(kg.entity_ids[entity]), str(kg.names[entity]), relations, weight, new_score,
                new_probability, new_score - score,
                None if probability is None else new_probability - probability))
    found.sort(key=lambda c: (-abs(c.score_change), c.side, c.entity_id))
    return PairCounterfactuals(str(dataset.left.entity_ids[left_entity]), str(dataset.right.entity_ids[right_entity]),
                               score, probability, model_version, tuple(found))


def counterfactual_score(scorer: ModelScorer, left_entity: int, right_entity: int, *, side: str,
                         neighbour: int) -> float:
    """The score (-distance) of one pair with the entity ``neighbour`` of ``side`` taken out.

    ``neighbour`` need not be sampled: taking out an entity the sample does not hold changes
    nothing, and the real score comes back.
    """
    if side not in SIDES:
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    (_, batch, _), = list(scorer.forward_pairs(np.array([left_entity]), np.array([right_entity])))
    return -float(_distance(scorer, without_neighbour(batch, side, int(neighbour))))


def without_neighbour(batch: PairBatch, side: str, neighbour: int) -> PairBatch:
    """``batch`` with every sampled edge between a seed of ``side`` and entity ``neighbour`` masked.

    Both directions and every layer: the seed stops reading the neighbour (top layer and the
    seed's own lower-layer representation), and the neighbour stops reading the seed, as if the
    triples between them were not in the graph. Other entities keep their edges to the neighbour.
    """
    if side not in SIDES:
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    graph_batch = batch.left if side == "left" else batch.right
    masked = _mask_edges(graph_batch, neighbour)
    if side == "left":
        return PairBatch(masked, batch.left_rows, batch.right, batch.right_rows)
    return PairBatch(batch.left, batch.left_rows, masked, batch.right_rows)


def _mask_edges(graph_batch: GraphBatch, neighbour: int) -> GraphBatch:
    """Every layer's slots between a seed and ``neighbour`` (either way round) switched off."""
    device = graph_batch.blocks[-1].mask.device
    entities = torch.as_tensor(np.asarray(graph_batch.input_nodes, dtype=np.int64), device=device)
    is_seed = torch.zeros(len(entities), dtype=torch.bool, device=device)
    is_seed[: len(graph_batch.seeds)] = True  # the top layer's destinations are the first inputs
    is_neighbour = entities == int(neighbour)
    blocks = []
    for block in graph_batch.blocks:
        dst_seed, dst_neighbour = is_seed[: block.n_dst].unsqueeze(1), is_neighbour[: block.n_dst].unsqueeze(1)
        src_seed, src_neighbour = is_seed[block.neighbours], is_neighbour[block.neighbours]
        cut = (dst_seed & src_neighbour) | (dst_neighbour & src_seed)
        blocks.append(PaddedBlock(block.neighbours, block.relations, block.mask & ~cut, block.n_dst, block.n_src))
    return GraphBatch(graph_batch.seeds, graph_batch.input_nodes, graph_batch.input_types, tuple(blocks))


def _heaviest_neighbours(attention, graph_batch: GraphBatch, relation_names, per_side: int | None):
    """(entity, summed weight, relations) of the sampled top-layer neighbours, heaviest first."""
    mask = attention.mask[0].cpu().numpy()
    positions = attention.neighbours[0].cpu().numpy()
    weights = attention.weight[0].cpu().numpy()
    relations = attention.relations[0].cpu().numpy()
    input_nodes = np.asarray(graph_batch.input_nodes)
    weight_of: dict[int, float] = {}
    relations_of: dict[int, list[str]] = {}
    for slot in np.flatnonzero(mask):
        entity = int(input_nodes[positions[slot]])
        weight_of[entity] = weight_of.get(entity, 0.0) + float(weights[slot])
        name = relation_names[int(relations[slot])]
        if name not in relations_of.setdefault(entity, []):
            relations_of[entity].append(name)
    ordered = sorted(weight_of, key=lambda e: (-weight_of[e], e))
    if per_side is not None:
        ordered = ordered[:max(int(per_side), 0)]
    return [(e, weight_of[e], tuple(relations_of[e])) for e in ordered]


def _distance(scorer: ModelScorer, batch: PairBatch) -> float:
    """The distance of pair 0 of ``batch``, computed as ``forward_pairs`` computes it (eval, no grad)."""
    model, setup = scorer.model, scorer.setup
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(setup.left.features, batch.left, batch.left_rows, setup.right.features, batch.right,
                        batch.right_rows)
    finally:
        model.train(was_training)
    return float(out.distance[0])


def _probability(scorer: ModelScorer, score: float) -> float | None:
    return float(scorer.probability_of_score(np.array([score]))[0]) if scorer.calibration else None
