"""What an explanation holds: plain records, apart from the algorithm that fills them.

The records of :func:`core.explanations.attention.explain_pair` (PyG keeps its ``Explanation``
apart from the algorithms in ``explain/algorithm/`` the same way). They hold only strings and
floats, so whoever draws or stores an explanation (:mod:`core.explanations.drawing`, the review
app, a test writing one by hand) reads them without loading torch or the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class NeighbourEvidence:
    """One top-layer neighbour of a pair entity: the relation that reached it and its attention.

    ``alpha`` (cross-graph), ``beta`` (self) and ``weight`` (w, what the aggregation used) each sum
    to 1 over a side's neighbours.
    """

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
class NeighbourhoodNode:
    """One entity of a sampled neighbourhood.

    ``type`` is the graph's own type name (``movie``); ``aligned_type`` the model's type name,
    shared by both graphs where the schema pairs the types (``film`` on both sides), so a drawing
    can give a left film and a right movie the same colour.
    """

    entity_id: str
    name: str
    type: str
    hop: int  # 0: the pair entity, 1: a top-layer neighbour, 2: a neighbour of a hop-1 node
    aligned_type: str = ""


@dataclass(frozen=True)
class NeighbourhoodEdge:
    """One sampled edge: ``source_id`` aggregates the message of its sampled neighbour ``target_id``.

    ``relation`` is the model's relation name as seen from the source (``inverse acted`` when the
    source is the triple's tail). Hop-1 edges carry the top layer's alpha, beta and combined
    weight (summed over identical slots, see :func:`explain_pair`); hop-2 edges are averaged by a
    lower layer and carry ``None``.
    """

    source_id: str
    target_id: str
    relation: str
    hop: int  # 1 or 2
    alpha: float | None = None
    beta: float | None = None
    weight: float | None = None


@dataclass(frozen=True)
class Neighbourhood:
    """The sampled two-hop neighbourhood of one side of a pair.

    ``nodes`` are unique by entity id (an entity reached at several hops keeps the smallest) and
    ordered: the pair entity, hop-1 nodes by decreasing weight, then hop-2 nodes in the order
    their first edge was read. ``edges`` are unique by (source, target, relation): hop-1 edges by
    decreasing weight, then hop-2 edges grouped by their hop-1 source in the same order.
    """

    nodes: tuple[NeighbourhoodNode, ...] = ()
    edges: tuple[NeighbourhoodEdge, ...] = ()

    def node(self, entity_id: str) -> NeighbourhoodNode:
        """The node of ``entity_id``; ``KeyError`` if the neighbourhood does not contain it."""
        for n in self.nodes:
            if n.entity_id == entity_id:
                return n
        raise KeyError(f"entity {entity_id!r} is not in this neighbourhood ({len(self.nodes)} nodes)")


@dataclass(frozen=True)
class Explanation:
    """Why one pair scored as it did: the score, and both sides' top-layer evidence and neighbourhoods."""

    left_id: str
    right_id: str
    distance: float
    score: float
    probability: float | None
    model_version: str
    left: tuple[NeighbourEvidence, ...]  # sorted by decreasing weight
    right: tuple[NeighbourEvidence, ...]
    # the whole sampled two-hop neighbourhoods of the same forward pass (empty only when built by hand)
    left_neighbourhood: Neighbourhood = field(default_factory=Neighbourhood)
    right_neighbourhood: Neighbourhood = field(default_factory=Neighbourhood)
    # every model type name in the model's order: colour by position, stable from pair to pair
    aligned_type_names: tuple[str, ...] = ()
