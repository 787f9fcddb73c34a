"""What an analyst reads about one entity: id, type, name, attributes, and how connected it is."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.data.kg import KnowledgeGraph


@dataclass(frozen=True)
class EntityCard:
    entity_id: str
    type: str
    name: str
    degree: int
    attributes: tuple[tuple[str, str], ...]  # (attribute, value as text), missing values left out


def entity_card(kg: KnowledgeGraph, index: int) -> EntityCard:
    """The card of entity ``index`` of ``kg`` (dates as ISO days, whole numbers without ``.0``)."""
    values = []
    if len(kg.attributes.columns):
        for column, value in kg.attributes.iloc[index].items():
            if pd.isna(value):
                continue
            if isinstance(value, pd.Timestamp):
                text = value.date().isoformat()
            elif isinstance(value, float) and value.is_integer():
                text = str(int(value))
            else:
                text = str(value)
            values.append((str(column), text))
    degree = int(kg.adjacency.indptr[index + 1] - kg.adjacency.indptr[index])
    return EntityCard(str(kg.entity_ids[index]), kg.type_names[kg.entity_types[index]], str(kg.names[index]),
                      degree, tuple(values))
