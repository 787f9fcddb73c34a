"""The knowledge-graph data model: typed entities, typed relation triples, and their adjacency.

A :class:`KnowledgeGraph` holds one side (left or right) as flat NumPy arrays indexed by a dense
entity index ``0..n-1``. External ids (the strings in the user's files) are kept in
``entity_ids`` and looked up through a pandas index, so labels and links can always be stored by
external id while computation uses integers.

Adjacency is kept as CSR arrays over both directions of every relation (relation ``r`` forward,
``r + n_relations`` inverse), because the method reads both directions and because capped
neighbour sampling then becomes array slicing rather than Python loops over edges.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

ATTRIBUTE_KINDS = ("number", "date", "text")
#: Date attribute dtype: the resolution load_project produces under pandas 3.
DATE_DTYPE = "datetime64[us]"


@dataclass(frozen=True)
class Adjacency:
    """CSR adjacency over both directions of every relation.

    The neighbours of entity ``i`` are ``neighbours[indptr[i]:indptr[i+1]]``, reached through
    ``relations[...]`` of the same slice. Relation ids ``>= n_relations`` are inverses.
    """

    indptr: np.ndarray  # (n + 1,) int64
    neighbours: np.ndarray  # (2m,) int64
    relations: np.ndarray  # (2m,) int32
    n_relations: int  # forward relations; inverse ids are r + n_relations

    def degree(self) -> np.ndarray:
        return np.diff(self.indptr)

    def neighbours_of(self, entity: int) -> tuple[np.ndarray, np.ndarray]:
        start, stop = self.indptr[entity], self.indptr[entity + 1]
        return self.neighbours[start:stop], self.relations[start:stop]


@dataclass(frozen=True, eq=False)
class KnowledgeGraph:
    """One side of an alignment problem.

    Parameters
    ----------
    entity_ids : (n,) object array of str
        External ids, unique.
    entity_types : (n,) int32
        Index into ``type_names``.
    type_names : tuple of str
    names : (n,) object array of str
        Display names (may be empty strings).
    attributes : DataFrame with n rows
        One column per attribute: float64 for numbers, datetime64 for dates (microsecond
        resolution as loaded, :data:`DATE_DTYPE`), object for text. Missing values are NaN / NaT / "".
    heads, relations, tails : (m,) int arrays
        Relation triples as entity and relation indices.
    relation_names : tuple of str
    """

    entity_ids: np.ndarray
    entity_types: np.ndarray
    type_names: tuple[str, ...]
    names: np.ndarray
    attributes: pd.DataFrame
    heads: np.ndarray
    relations: np.ndarray
    tails: np.ndarray
    relation_names: tuple[str, ...]

    def __post_init__(self) -> None:
        n = len(self.entity_ids)
        for label, arr in (("entity_types", self.entity_types), ("names", self.names)):
            if len(arr) != n:
                raise ValueError(f"{label} has {len(arr)} rows, expected {n} (one per entity)")
        if len(self.attributes) != n:
            raise ValueError(f"attributes has {len(self.attributes)} rows, expected {n}")
        if not (len(self.heads) == len(self.relations) == len(self.tails)):
            raise ValueError("heads, relations and tails must have the same length")

    # ---- sizes -------------------------------------------------------------------------------
    @property
    def n_entities(self) -> int:
        return len(self.entity_ids)

    @property
    def n_triples(self) -> int:
        return len(self.heads)

    # ---- lookups -----------------------------------------------------------------------------
    @cached_property
    def id_index(self) -> pd.Index:
        """External id -> entity index (a hash index; ``get_indexer`` is vectorised)."""
        return pd.Index(self.entity_ids)

    def indices_of(self, ids) -> np.ndarray:
        """Entity indices for external ids; -1 where an id is unknown."""
        return self.id_index.get_indexer(pd.Index(np.asarray(ids, dtype=object)))

    def type_code(self, type_name: str) -> int:
        try:
            return self.type_names.index(type_name)
        except ValueError:
            raise KeyError(f"unknown entity type {type_name!r}; known: {list(self.type_names)}") from None

    def entities_of_type(self, type_name: str) -> np.ndarray:
        return np.flatnonzero(self.entity_types == self.type_code(type_name))

    def attribute_kind(self, column: str) -> str:
        dtype = self.attributes[column].dtype
        if pd.api.types.is_datetime64_any_dtype(dtype):
            return "date"
        if pd.api.types.is_numeric_dtype(dtype):
            return "number"
        return "text"

    # ---- structure ---------------------------------------------------------------------------
    @cached_property
    def adjacency(self) -> Adjacency:
        """Both directions of every triple as CSR, sorted by source entity (stable)."""
        n_rel = len(self.relation_names)
        src = np.concatenate([self.heads, self.tails]).astype(np.int64)
        dst = np.concatenate([self.tails, self.heads]).astype(np.int64)
        rel = np.concatenate([self.relations, self.relations + n_rel]).astype(np.int32)
        order = np.argsort(src, kind="stable")
        counts = np.bincount(src, minlength=self.n_entities)
        indptr = np.zeros(self.n_entities + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return Adjacency(indptr=indptr, neighbours=dst[order], relations=rel[order], n_relations=n_rel)

    def summary(self) -> dict[str, object]:
        """Counts per entity type and relation, for reports and the CLI."""
        types = np.bincount(self.entity_types, minlength=len(self.type_names))
        rels = np.bincount(self.relations, minlength=len(self.relation_names))
        return {
            "entities": self.n_entities,
            "triples": self.n_triples,
            "entities_per_type": {t: int(c) for t, c in zip(self.type_names, types)},
            "triples_per_relation": {r: int(c) for r, c in zip(self.relation_names, rels)},
            "attributes": {c: self.attribute_kind(c) for c in self.attributes.columns},
        }
