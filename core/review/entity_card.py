"""What an analyst reads about one entity, and about a pair's attributes side by side.

:func:`entity_card`: id, type, name, attributes and how connected it is.

:func:`aligned_attributes`: the two entities' attributes lined up by the schema mapping, one row
per aligned attribute (``runtime`` on the left beside ``runtime_min`` on the right), a value that
is missing shown as missing, and whether the two values agree. Comparing two cards by eye means
finding the matching rows first; the aligned table does that, and marks the differences.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import pandas as pd

from core.data.dataset import AlignmentDataset
from core.data.kg import KnowledgeGraph


@dataclass(frozen=True)
class EntityCard:
    entity_id: str
    type: str
    name: str
    degree: int
    attributes: tuple[tuple[str, str], ...]  # (attribute, value as text), missing values left out


@dataclass(frozen=True)
class AlignedAttribute:
    """One row of the side-by-side table.

    ``left_attribute``/``right_attribute`` are each graph's column name (``None`` for an attribute
    only one graph has); ``left_value``/``right_value`` the values as text, ``None`` when missing.
    ``same`` is ``None`` when either value is missing (nothing to compare), else whether they agree:
    numbers equal, dates on the same day, text equal ignoring case and spacing. ``difference`` says
    by how much two numbers or dates differ (``"differs by 4"``, ``"12 days apart"``).
    """

    name: str
    left_attribute: str | None
    right_attribute: str | None
    left_value: str | None
    right_value: str | None
    same: bool | None
    difference: str | None = None

    @property
    def missing_on(self) -> str | None:
        """``"left"``, ``"right"``, or ``None`` when both values are present."""
        if self.left_value is None:
            return "left"
        return "right" if self.right_value is None else None


def entity_card(kg: KnowledgeGraph, index: int) -> EntityCard:
    """The card of entity ``index`` of ``kg`` (dates as ISO days, whole numbers without ``.0``)."""
    values = []
    if len(kg.attributes.columns):
        for column, value in kg.attributes.iloc[index].items():
            text = format_value(value)
            if text is not None:
                values.append((str(column), text))
    degree = int(kg.adjacency.indptr[index + 1] - kg.adjacency.indptr[index])
    return EntityCard(str(kg.entity_ids[index]), kg.type_names[kg.entity_types[index]], str(kg.names[index]),
                      degree, tuple(values))


def aligned_attributes(dataset: AlignmentDataset, left_index: int, right_index: int) -> tuple[AlignedAttribute, ...]:
    """The pair's attributes lined up by ``dataset.schema.attributes``, then those only one side maps.

    Rows whose two values are both missing are left out: the attribute belongs to another type
    (a film has no date of birth) or neither source knows it, and says nothing about this pair.
    Aligned rows come in schema order; an attribute that only one graph has (not in the mapping)
    follows, shown only when this entity has a value for it.
    """
    left, right = dataset.left, dataset.right
    left_row = left.attributes.iloc[left_index] if len(left.attributes.columns) else pd.Series(dtype=object)
    right_row = right.attributes.iloc[right_index] if len(right.attributes.columns) else pd.Series(dtype=object)
    rows = []
    mapped_left, mapped_right = set(), set()
    for c in dataset.schema.attributes:
        if c.left not in left_row.index or c.right not in right_row.index:
            continue
        mapped_left.add(c.left)
        mapped_right.add(c.right)
        row = compare_values(c.name, c.left, c.right, left_row[c.left], right_row[c.right])
        if row.left_value is not None or row.right_value is not None:
            rows.append(row)
    for column, value in left_row.items():
        if column not in mapped_left and format_value(value) is not None:
            rows.append(compare_values(str(column), str(column), None, value, None))
    for column, value in right_row.items():
        if column not in mapped_right and format_value(value) is not None:
            rows.append(compare_values(str(column), None, str(column), None, value))
    return tuple(rows)


def compare_values(name: str, left_attribute: str | None, right_attribute: str | None, left_value,
                   right_value) -> AlignedAttribute:
    """One :class:`AlignedAttribute` from two raw values (number, date, text, or missing)."""
    left_text, right_text = format_value(left_value), format_value(right_value)
    same = difference = None
    if left_text is not None and right_text is not None:
        if _is_number(left_value) and _is_number(right_value):
            gap = abs(float(left_value) - float(right_value))
            same = gap <= 1e-9 * max(1.0, abs(float(left_value)), abs(float(right_value)))
            difference = None if same else f"differs by {int(gap) if gap.is_integer() else f'{gap:.4g}'}"
        elif isinstance(left_value, pd.Timestamp) and isinstance(right_value, pd.Timestamp):
            days = abs((left_value.normalize() - right_value.normalize()).days)
            same = days == 0
            difference = None if same else f"{days:,} day{'s' if days != 1 else ''} apart"
        else:
            same = _plain(left_text) == _plain(right_text)
    return AlignedAttribute(name, left_attribute, right_attribute, left_text, right_text, same, difference)


def format_value(value) -> str | None:
    """A stored value as the analyst reads it; ``None`` for a missing one (NaN, NaT, None, blank text)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    return text if text.strip() else None


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))


def _plain(text: str) -> str:
    return " ".join(text.casefold().split())
