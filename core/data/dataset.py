"""An alignment problem: two graphs, the schema that relates them, and the known links."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data.kg import KnowledgeGraph
from core.data.links import Links
from core.data.schema import SchemaMapping


@dataclass(frozen=True, eq=False)
class AlignmentDataset:
    left: KnowledgeGraph
    right: KnowledgeGraph
    schema: SchemaMapping
    links: Links
    name: str = ""

    def entities_of_aligned_type(self, type_index: int) -> tuple[np.ndarray, np.ndarray]:
        """(left indices, right indices) of the entities of one aligned type."""
        c = self.schema.types[type_index]
        return self.left.entities_of_type(c.left), self.right.entities_of_type(c.right)

    def gold_pairs(self) -> Links:
        """Every known true match, whatever its split: the truth blocking is measured against."""
        return self.links.positives()

    def summary(self) -> dict[str, object]:
        return {
            "name": self.name,
            "left": self.left.summary(),
            "right": self.right.summary(),
            "aligned_types": list(self.schema.type_names),
            "positive_links": self.links.counts(self.schema.type_names),
            "labelled_negatives": int((self.links.label == 0).sum()),
        }
