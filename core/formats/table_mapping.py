"""What the columns of a pair of DeepMatcher tables mean: :class:`TableMapping` and its presets.

Kept apart from the loader (:mod:`core.formats.tables`) because a mapping is a user-facing
document in its own right: it is built in code, read from and written to JSON (with problems
reported by file line), and offered as presets for the shared datasets, all without reading a
single table.

JSON has no comments, so a mapping file may carry them as keys: any key that starts with
``_comment`` (``"_comment"``, ``"_comment_row_type"``), at the top or inside a column entry, is
skipped by the reader. The template that ``mualign import tables --write-mapping`` writes
(:mod:`core.formats.mapping_template`) explains every key that way. Any other unknown key is an
error, so a misspelt key is never silently ignored.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from pathlib import Path

from core.formats.errors import DataError, Problem, ProblemLog
from core.formats.textio import atomic_write_text, parse_json, read_text


class AttributeKind(str, Enum):
    """How an attribute column is parsed. Durations are stored as numbers (seconds)."""

    NUMBER = "number"
    DATE = "date"
    DURATION = "duration"
    TEXT = "text"


class KeyNormalisation(str, Enum):
    """Steps applied, in this order, to a neighbour value before it becomes a node key."""

    COLLAPSE_SPACES = "collapse_spaces"
    STRIP = "strip"
    LOWERCASE = "lowercase"


DEFAULT_NORMALISATION = (KeyNormalisation.STRIP, KeyNormalisation.COLLAPSE_SPACES)


#: Keys starting with this are comments, skipped by the reader (JSON has no comments).
COMMENT_PREFIX = "_comment"


def is_comment(key) -> bool:
    return isinstance(key, str) and key.startswith(COMMENT_PREFIX)


def _enum(enum: type[Enum], value, where: str):
    try:
        return enum(value)
    except ValueError:
        raise ValueError(f"{where}: {value!r} is not one of {[e.value for e in enum]}") from None


# ---------------------------------------------------------------------------------- mapping ----
@dataclass(frozen=True)
class EntityColumn:
    """A column whose values are entities of ``type``, reached from the row by ``relation``.

    ``delimiter`` splits a multi-valued cell (``"jim gray , david dewitt"`` on ``","``).
    """

    column: str
    type: str
    relation: str
    delimiter: str | None = None
    normalise: tuple[KeyNormalisation, ...] = DEFAULT_NORMALISATION

    def __post_init__(self) -> None:
        steps = (self.normalise,) if isinstance(self.normalise, str) else tuple(self.normalise)
        object.__setattr__(self, "normalise", tuple(_enum(KeyNormalisation, s, f"{self.column}: normalise")
                                                    for s in steps))
        if self.delimiter == "":
            object.__setattr__(self, "delimiter", None)

    def key(self, value: str) -> str:
        """The node key of one (already split) value; "" means no entity.

        >>> EntityColumn("authors", "author", "written_by").key("  Jim   Gray ")
        'Jim Gray'
        """
        steps = self.normalise
        if KeyNormalisation.COLLAPSE_SPACES in steps:
            value = " ".join(value.split())
        if KeyNormalisation.STRIP in steps:
            value = value.strip()
        if KeyNormalisation.LOWERCASE in steps:
            value = value.lower()
        # Ids must survive the native TSV format, which has no tabs or newlines in values.
        return re.sub(r"[\t\r\n]", " ", value)


@dataclass(frozen=True)
class AttributeColumn:
    """A column parsed as an attribute of the row entities, stored as ``name`` (default: the column)."""

    column: str
    kind: AttributeKind
    name: str = ""
    dayfirst: bool = False  # dates only: read all-numeric dates such as 03/04/2015 as 3 April

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", _enum(AttributeKind, self.kind, f"{self.column}: kind"))
        if not self.name:
            object.__setattr__(self, "name", self.column)


@dataclass(frozen=True)
class DerivedRelation:
    """An edge between the entities of two entity-valued columns of the same row."""

    source: str  # entity-valued column of the head
    target: str  # entity-valued column of the tail
    relation: str


_SUBKEYS = {"entity_columns": (EntityColumn, ("column", "type", "relation")),
            "attributes": (AttributeColumn, ("column", "kind")),
            "derived_relations": (DerivedRelation, ("source", "target", "relation"))}


@dataclass(frozen=True)
class TableMapping:
    """What the columns of a pair of DeepMatcher tables mean (one mapping serves both tables).

    Build it in code, from a dict (:meth:`from_dict`) or from a JSON file (:meth:`from_path`,
    which reports problems with line numbers). The JSON keys are the field names; the nested
    lists hold objects with the fields of :class:`EntityColumn`, :class:`AttributeColumn` and
    :class:`DerivedRelation`.
    """

    row_type: str
    name_column: str
    id_column: str = "id"
    left_table: str = "tableA.csv"
    right_table: str = "tableB.csv"
    entity_columns: tuple[EntityColumn, ...] = ()
    attributes: tuple[AttributeColumn, ...] = ()
    derived_relations: tuple[DerivedRelation, ...] = ()
    train_file: str = "train.csv"
    valid_file: str = "valid.csv"
    test_file: str = "test.csv"
    gold_file: str | None = "gold_matches.csv"  # used when present; None: never
    #: The JSON file this mapping was read from, so the loader can point at its lines.
    source: str | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("entity_columns", "attributes", "derived_relations"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        problems = _mapping_problems(self)
        if problems:
            raise ValueError("invalid table mapping: " + "; ".join(p[0] for p in problems))

    # ---- columns ---------------------------------------------------------------------------
    def columns(self) -> list[tuple[str, str]]:
        """(column, mapping key) for every column the mapping reads from the tables."""
        out = [(self.id_column, "id_column"), (self.name_column, "name_column")]
        out += [(e.column, "column") for e in self.entity_columns]
        out += [(a.column, "column") for a in self.attributes]
        return out

    def type_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([self.row_type] + [e.type for e in self.entity_columns]))

    def relation_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([e.relation for e in self.entity_columns]
                                   + [d.relation for d in self.derived_relations]))

    # ---- (de)serialising -------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Plain JSON data; item fields left at an uninformative default (no delimiter, dayfirst off) are left out."""
        out = {}
        for f in fields(self):
            if f.name == "source":
                continue
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = [_item_dict(item) for item in value]
            out[f.name] = value
        return out

    def to_json(self) -> str:
        """The mapping as JSON, one line per column entry (so problems point at the entry's line)."""
        lines = []
        for key, value in self.to_dict().items():
            if isinstance(value, list):
                items = [f"    {json.dumps(v, ensure_ascii=False)}" for v in value]
                body = "[\n" + ",\n".join(items) + "\n  ]" if items else "[]"
                lines.append(f"  {json.dumps(key)}: {body}")
            else:
                lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
        return "{\n" + ",\n".join(lines) + "\n}\n"

    @classmethod
    def from_dict(cls, data: dict, *, source: str | None = None) -> "TableMapping":
        """Build and validate from parsed JSON.

        Raises
        ------
        ValueError
            Listing every problem (unknown keys, wrong types, bad kinds, inconsistent columns).
        """
        mapping, problems = _parse_mapping(data, source)
        if problems:
            raise ValueError("invalid table mapping: " + "; ".join(p[0] for p in problems))
        return mapping

    @classmethod
    def from_path(cls, path: str | Path) -> "TableMapping":
        """Read a mapping JSON file.

        Raises
        ------
        DataError
            Every problem as ``path:line: problem``.
        """
        path = Path(path)
        log = ProblemLog()
        text = read_text(path, log)
        log.raise_if_any()
        data = parse_json(text, path, log, reject_duplicate_keys=True)
        log.raise_if_any()
        mapping, problems = _parse_mapping(data, str(path))
        for message, key, value in problems:
            log.add(path, _line_in_json(text, key, value), message)
        log.raise_if_any()
        return mapping


def _item_dict(item) -> dict:
    out = {}
    for key, value in asdict(item).items():
        if (key == "delimiter" and value is None) or (key == "dayfirst" and not value):
            continue
        if isinstance(value, Enum):
            value = value.value
        elif isinstance(value, tuple):
            value = [step.value for step in value]
        out[key] = value
    return out


def _parse_mapping(data, source: str | None) -> tuple[TableMapping | None, list[tuple[str, str | None, object]]]:
    """(mapping or None, problems as (message, JSON key, value) so a file's line can be found)."""
    problems: list[tuple[str, str | None, object]] = []
    if not isinstance(data, dict):
        return None, [(f"expected a JSON object with the mapping's fields, got {type(data).__name__}", None, None)]
    data = _without_comments(data)
    known = [f.name for f in fields(TableMapping) if f.name != "source"]
    for key in data:
        if key not in known:
            problems.append((f"unknown key {key!r}; known keys: {known}", key, None))
    for key in ("row_type", "name_column"):
        if key not in data:
            problems.append((f"missing required key {key!r}", None, None))
    kwargs = {}
    for f in fields(TableMapping):
        if f.name not in data or f.name == "source":
            continue
        value = data[f.name]
        if f.name in _SUBKEYS:
            kwargs[f.name] = _parse_items(f.name, value, problems)
        elif f.name == "gold_file" and value is None:
            kwargs[f.name] = None
        elif not isinstance(value, str) or not value:
            problems.append((f"{f.name!r} must be a non-empty string, got {value!r}", f.name, value))
        else:
            kwargs[f.name] = value
    if problems:
        return None, problems
    problems = _mapping_problems(_build_unchecked(kwargs, source))
    if problems:
        return None, problems
    return TableMapping(**kwargs, source=source), []


def _without_comments(data: dict) -> dict:
    """``data`` without its ``_comment...`` keys, at the top and in the column entries."""
    out = {}
    for key, value in data.items():
        if is_comment(key):
            continue
        if key in _SUBKEYS and isinstance(value, list):
            value = [{k: v for k, v in e.items() if not is_comment(k)} if isinstance(e, dict) else e for e in value]
        out[key] = value
    return out


def _build_unchecked(kwargs: dict, source: str | None) -> TableMapping:
    """A TableMapping without its consistency check, so the problems can be located first."""
    mapping = object.__new__(TableMapping)
    defaults = {f.name: f.default for f in fields(TableMapping)}
    for name, default in defaults.items():
        object.__setattr__(mapping, name, kwargs.get(name, default))
    object.__setattr__(mapping, "source", source)
    return mapping


def _parse_items(key: str, value, problems: list) -> tuple:
    cls, required = _SUBKEYS[key]
    if not isinstance(value, list):
        problems.append((f"{key!r} must be a list of objects, got {type(value).__name__}", key, None))
        return ()
    allowed = [f.name for f in fields(cls)]
    items = []
    for i, entry in enumerate(value):
        where = f"{key}[{i}]"
        if not isinstance(entry, dict):
            problems.append((f"{where} must be an object with keys {allowed}, got {entry!r}", key, entry))
            continue
        bad = False
        for k in entry:
            if k not in allowed:
                problems.append((f"{where}: unknown key {k!r}; known keys: {allowed}", k, None))
                bad = True
        for k in required:
            if k not in entry:
                problems.append((f"{where}: missing key {k!r}", key, None))
                bad = True
        for k, v in entry.items():
            if k == "normalise":
                steps = [v] if isinstance(v, str) else v
                if not isinstance(steps, list) or any(s not in [e.value for e in KeyNormalisation] for s in steps):
                    problems.append((f"{where}: normalise must list steps from "
                                     f"{[e.value for e in KeyNormalisation]}, got {v!r}", k, None))
                    bad = True
            elif k == "dayfirst":
                if not isinstance(v, bool):
                    problems.append((f"{where}: dayfirst must be true or false, got {v!r}", k, v))
                    bad = True
            elif k == "delimiter":
                if v is not None and not isinstance(v, str):
                    problems.append((f"{where}: delimiter must be a string, got {v!r}", k, v))
                    bad = True
            elif k == "kind":
                if v not in [e.value for e in AttributeKind]:
                    problems.append((f"{where}: kind {v!r} is not one of {[e.value for e in AttributeKind]}", k, v))
                    bad = True
            elif k in allowed and (not isinstance(v, str) or (not v and k != "name")):
                problems.append((f"{where}: {k!r} must be a non-empty string, got {v!r}", k, v))
                bad = True
        if not bad:
            items.append(cls(**entry))
    return tuple(items)


def _mapping_problems(mapping: TableMapping) -> list[tuple[str, str | None, object]]:
    """Consistency of a mapping, as (message, JSON key, value) triples."""
    problems = []
    for key in ("row_type", "name_column", "id_column", "left_table", "right_table",
                "train_file", "valid_file", "test_file"):
        value = getattr(mapping, key)
        if not isinstance(value, str) or not value:
            problems.append((f"{key!r} must be a non-empty string, got {value!r}", key, value))
    entity_columns = {e.column: e for e in mapping.entity_columns}
    for e in mapping.entity_columns:
        if e.type == mapping.row_type:
            problems.append((f"entity column {e.column!r} has the row type {e.type!r}: neighbour ids "
                             f"'{e.type}:<value>' would mix with the rows' ids '{e.type}:<id>'; use another type",
                             "type", e.type))
    seen = [e.column for e in mapping.entity_columns]
    for column in sorted({c for c in seen if seen.count(c) > 1}):
        problems.append((f"entity column {column!r} is listed twice", "column", column))
    names = [a.name for a in mapping.attributes]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append((f"attribute name {name!r} is used twice", "name", name))
    for d in mapping.derived_relations:
        for key in ("source", "target"):
            column = getattr(d, key)
            if column not in entity_columns:
                problems.append((f"derived relation {d.relation!r}: {key} {column!r} is not an entity column "
                                 f"(entity columns: {list(entity_columns)})", key, column))
    return problems


def _line_in_json(text: str, key: str | None, value) -> int | None:
    """Line of ``"key": value`` in ``text``, else of the value, else of the key; None if not found."""
    def line(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    if value is not None and not isinstance(value, (dict, list)):
        for encoded in dict.fromkeys([json.dumps(value, ensure_ascii=False), json.dumps(value)]):
            if key:
                m = re.search(rf'"{re.escape(key)}"\s*:\s*{re.escape(encoded)}', text)
                if m:
                    return line(m.start())
            pos = text.find(encoded)
            if pos >= 0:
                return line(pos)
    if isinstance(value, dict) and value:
        first = next(iter(value.items()))
        return _line_in_json(text, first[0], first[1] if not isinstance(first[1], (dict, list)) else None)
    if key:
        m = re.search(rf'"{re.escape(key)}"\s*:', text)
        if m:
            return line(m.start())
    return None


# ----------------------------------------------------------------------------------- presets ----
PRESETS: dict[str, TableMapping] = {
    # DBLP (A) vs ACM (B): papers with authors, venue and year. Authors are split on "," (the
    # tables write "a , b"); 3,320 / 3,474 distinct author strings, 5 venues per side.
    "dblp_acm": TableMapping(
        row_type="paper", name_column="title",
        entity_columns=(EntityColumn("authors", "author", "written_by", delimiter=","),
                        EntityColumn("venue", "venue", "published_in")),
        attributes=(AttributeColumn("year", AttributeKind.NUMBER),),
        gold_file="gold_matches.csv",
    ),
    # iTunes (A) vs Amazon (B, the partial table rebuilt in shared/data). Genre stays text: A's
    # is a " , " list, B's usually one value. Album nodes are keyed by title alone, as in the
    # CG-MuAlign loader, so same-named albums of different artists merge.
    "itunes_amazon": TableMapping(
        row_type="song", name_column="Song_Name", right_table="tableB_partial.csv",
        entity_columns=(EntityColumn("Artist_Name", "artist", "performed_by"),
                        EntityColumn("Album_Name", "album", "track_on")),
        attributes=(AttributeColumn("Genre", AttributeKind.TEXT, name="genre"),
                    AttributeColumn("Price", AttributeKind.NUMBER, name="price"),
                    AttributeColumn("CopyRight", AttributeKind.TEXT, name="copyright"),
                    AttributeColumn("Time", AttributeKind.DURATION, name="duration"),
                    AttributeColumn("Released", AttributeKind.DATE, name="released")),
        derived_relations=(DerivedRelation("Album_Name", "Artist_Name", "album_by"),),
        gold_file=None,
    ),
}


def write_preset(name: str, path: str | Path) -> Path:
    """Write preset ``name`` as a mapping JSON file, to edit for another dataset."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; presets: {sorted(PRESETS)}")
    path = Path(path)
    atomic_write_text(path, PRESETS[name].to_json())
    return path


def resolve_mapping(mapping: TableMapping | str | Path) -> TableMapping:
    """A mapping object, a preset name, or the path of a mapping JSON file."""
    if isinstance(mapping, TableMapping):
        return mapping
    if isinstance(mapping, str) and mapping in PRESETS:
        return PRESETS[mapping]
    path = Path(mapping)
    if not path.exists() and isinstance(mapping, str) and "/" not in mapping and not mapping.endswith(".json"):
        raise DataError([Problem(str(path), None, f"neither a mapping preset {sorted(PRESETS)} nor a mapping file")])
    return TableMapping.from_path(path)
