"""The schema mapping: which entity types, relations and attributes correspond across the sides.

Alignment is done per aligned type ("film" on the left is "movie" on the right). Relations that
the mapping pairs share one relation id in the model (so both graphs use the same parameters for
``directed_by`` and ``director``); unmapped relations keep a side-specific id. Attributes mapped
here become comparable features; by default, attributes with the same column name on both sides
are paired.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Correspondence:
    """One aligned name and what each side calls it."""

    name: str
    left: str
    right: str


@dataclass(frozen=True)
class SchemaMapping:
    """Aligned entity types, relations and attributes between the left and right graph."""

    types: tuple[Correspondence, ...]
    relations: tuple[Correspondence, ...] = ()
    attributes: tuple[Correspondence, ...] = ()

    def __post_init__(self) -> None:
        for label, items in (("types", self.types), ("relations", self.relations),
                             ("attributes", self.attributes)):
            for side in ("name", "left", "right"):
                values = [getattr(c, side) for c in items]
                dupes = sorted({v for v in values if values.count(v) > 1})
                if dupes:
                    raise ValueError(f"schema {label}: {side} names repeated: {dupes}")

    @property
    def type_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.types)

    def type_index(self, aligned_name: str) -> int:
        for i, c in enumerate(self.types):
            if c.name == aligned_name:
                return i
        raise KeyError(f"unknown aligned type {aligned_name!r}; known: {list(self.type_names)}")

    def aligned_type_of(self, side: str, side_type: str) -> int:
        """Index of the aligned type that ``side_type`` on ``side`` ('left'/'right') maps to; -1 if none."""
        for i, c in enumerate(self.types):
            if getattr(c, side) == side_type:
                return i
        return -1

    def to_dict(self) -> dict[str, list[dict[str, str]]]:
        out: dict[str, list[dict[str, str]]] = {"types": [vars(c) for c in self.types]}
        if self.relations:
            out["relations"] = [vars(c) for c in self.relations]
        if self.attributes:
            out["attributes"] = [vars(c) for c in self.attributes]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "SchemaMapping":
        """Build from the parsed ``schema.json`` (validated by the loader, which knows line numbers)."""
        def items(key: str) -> tuple[Correspondence, ...]:
            return tuple(
                Correspondence(
                    name=str(d.get("name") or d["left"]), left=str(d["left"]), right=str(d["right"])
                )
                for d in data.get(key, [])
            )

        return cls(types=items("types"), relations=items("relations"), attributes=items("attributes"))
