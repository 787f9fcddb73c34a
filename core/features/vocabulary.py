"""Shared type and relation ids for the one encoder that embeds both graphs.

CG-MuAlign uses one set of parameters for both graphs, so a relation the schema pairs
(``directed_by`` <-> ``director``) must get one id on both sides, and so must an aligned type. A
type or relation the schema leaves unpaired keeps an id of its own. Each direction of a relation
is its own relation (the inverse of "acted in" says something else than "acted in").

Graphs such as DBP15K have thousands of relations; one projection matrix per relation would then
dwarf the rest of the model and most would see a handful of edges. ``max_relations`` keeps the
most frequent ones (counting both graphs) and maps the rest to a shared "other" id per direction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from core.data.dataset import AlignmentDataset
from core.data.kg import KnowledgeGraph

OTHER = "(other)"


@dataclass(frozen=True)
class Vocabulary:
    """Model ids of types and relations; ``*_left``/``*_right`` map each graph's codes to them.

    ``relation_left[r]`` is the model relation of CSR relation id ``r`` of the left graph
    (inverse ids included), likewise for the right.
    """

    type_names: tuple[str, ...]
    relation_names: tuple[str, ...]
    type_left: tuple[int, ...]
    type_right: tuple[int, ...]
    relation_left: tuple[int, ...]
    relation_right: tuple[int, ...]

    @property
    def n_types(self) -> int:
        return len(self.type_names)

    @property
    def n_relations(self) -> int:
        return len(self.relation_names)

    def entity_types(self, kg: KnowledgeGraph, side: str) -> np.ndarray:
        return np.asarray(getattr(self, f"type_{side}"), dtype=np.int64)[kg.entity_types]

    def relations(self, side: str) -> np.ndarray:
        return np.asarray(getattr(self, f"relation_{side}"), dtype=np.int64)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Vocabulary":
        return cls(**{k: tuple(v) for k, v in data.items()})


def build_vocabulary(dataset: AlignmentDataset, *, max_relations: int = 64) -> Vocabulary:
    """Ids for the aligned and unaligned types and relations of both graphs."""
    schema = dataset.schema
    types: list[str] = list(schema.type_names)

    def type_ids(kg: KnowledgeGraph, side: str) -> tuple[int, ...]:
        ids = []
        for t in kg.type_names:
            aligned = schema.aligned_type_of(side, t)
            if aligned < 0:
                types.append(f"{side}:{t}")
                aligned = len(types) - 1
            ids.append(aligned)
        return tuple(ids)

    type_left, type_right = type_ids(dataset.left, "left"), type_ids(dataset.right, "right")

    # one name per relation and direction, shared where the schema pairs them
    paired_left = {c.left: c.name for c in schema.relations}
    paired_right = {c.right: c.name for c in schema.relations}

    def names(kg: KnowledgeGraph, side: str, paired: dict[str, str]) -> list[str]:
        base = [paired.get(r, f"{side}:{r}") for r in kg.relation_names]
        return base + [f"inverse {n}" for n in base]

    left_names, right_names = names(dataset.left, "left", paired_left), names(dataset.right, "right", paired_right)
    counts: dict[str, int] = {}
    for kg, rel_names in ((dataset.left, left_names), (dataset.right, right_names)):
        edge_counts = np.bincount(kg.adjacency.relations, minlength=len(rel_names))
        for n, c in zip(rel_names, edge_counts):
            counts[n] = counts.get(n, 0) + int(c)
    ranked = sorted(counts, key=lambda n: (-counts[n], n))
    kept = ranked if len(ranked) <= max_relations else ranked[: max(max_relations - 2, 0)]
    relation_names = list(kept)
    if len(kept) < len(ranked):
        relation_names += [OTHER, f"inverse {OTHER}"]
    index = {n: i for i, n in enumerate(relation_names)}

    def relation_ids(rel_names: list[str]) -> tuple[int, ...]:
        return tuple(index.get(n, index.get(f"inverse {OTHER}" if n.startswith("inverse ") else OTHER, -1))
                     for n in rel_names)

    return Vocabulary(tuple(types), tuple(relation_names), type_left, type_right,
                      relation_ids(left_names), relation_ids(right_names))
