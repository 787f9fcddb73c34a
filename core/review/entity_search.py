"""Find entities by name (typo-tolerant) or by exact id, for the app's pair search."""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz, process, utils

from core.data.kg import KnowledgeGraph


@dataclass(frozen=True)
class EntityMatch:
    index: int
    entity_id: str
    name: str
    type: str
    similarity: float  # 0..100; 100 for an exact id


def find_entities(kg: KnowledgeGraph, query: str, *, limit: int = 20, min_similarity: float = 60.0) -> list[EntityMatch]:
    """Entities whose id equals ``query`` first, then the best fuzzy name matches (rapidfuzz WRatio)."""
    query = query.strip()
    if not query:
        return []
    found: dict[int, float] = {}
    (exact,) = kg.indices_of([query])
    if exact >= 0:
        found[int(exact)] = 100.0
    hits = process.extract(query, kg.names, scorer=fuzz.WRatio, processor=utils.default_process,
                           limit=limit, score_cutoff=min_similarity)
    for _, similarity, index in hits:
        found.setdefault(int(index), float(similarity))
    ranked = sorted(found.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [EntityMatch(i, str(kg.entity_ids[i]), str(kg.names[i]), kg.type_names[kg.entity_types[i]], s)
            for i, s in ranked]
