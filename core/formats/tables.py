"""Importer for paired entity tables in the DeepMatcher / Magellan layout (``dblp_acm``, ``itunes_amazon``).

::

    DIRECTORY/
      tableA.csv            left table: one row per entity, an integer id column
      tableB.csv            right table, same header (itunes_amazon ships tableB_partial.csv)
      train.csv             ltable_id,rtable_id,label      label 1 = match, 0 = labelled non-match
                            (or DeepMatcher's joined form: label,left_id,left_*...,right_id,right_*...)
      valid.csv, test.csv   same
      gold_matches.csv      optional: ltable_id,rtable_id, the complete gold standard

The files are comma-separated UTF-8 with a header and minimal quoting (fields holding commas are
double-quoted). A :class:`TableMapping` says what each column is; presets for the two shared
datasets are in :data:`PRESETS`, and :func:`write_preset` writes one as JSON to start from.

How the rows become a multi-type graph per side:

- Each table row is an entity of ``row_type`` (``paper``, ``song``) with id
  ``"<row_type>:<table id>"`` (``"paper:12"``) and its name from ``name_column``. The split and
  gold files are read through the same rule, so ``ltable_id`` 12 always means ``"paper:12"``.
- Each **entity-valued column** (authors, venue, artist, album) becomes neighbour entities of
  its type, split on the column's delimiter if it has one. Neighbours are keyed by their
  normalised value per type (default: strip and collapse whitespace): identical strings in one
  table are one node, with id ``"<type>:<key>"`` (``"author:jim gray"``) and, as name, the first
  spelling seen (whitespace collapsed). Several columns of one type share the nodes. An empty
  value makes no entity and no edge. Edges go from the row entity to the neighbour, with the
  column's relation (``paper -written_by-> author``); repeated edges are kept once.
- **Derived relations** join two entity-valued columns of the same row (``album -album_by->
  artist``), so the graph also links neighbours to each other.
- **Attribute columns** become attributes of the row entities (other entities have missing
  values): ``number`` (``"$ 1.29"`` -> 1.29, ``"FREE"`` -> 0), ``date``, ``duration``
  (``"3:41"`` -> 221 seconds, stored as a number) and ``text``. A value that cannot be parsed is
  stored as missing, not reported as an error, and counted in :class:`TableLoadReport`.
- Both sides use the same mapping, so every type, relation and attribute is aligned with its
  namesake on the other side.

Links: every row of the three split files, with its label and split (label 0 rows are
labelled non-matches). Gold pairs that are in no split are added as positives of
:attr:`Split.UNUSED` (they measure blocking recall, never training or test). With
``dedup="cg_mualign"`` each split is filtered like the CG-MuAlign reference loader: in file
order, a pair is dropped if its left or its right id was already taken by a kept pair of that
split (itunes_amazon: 321/109/109 -> 273/103/101 pairs); a dropped gold pair then counts as
unused.

Validation follows :mod:`core.formats.native`: every problem of every file is collected as
``path:line: problem`` (line 1 is the header; a quoted value spanning lines is reported at its
record's first line) and raised once as a :class:`~core.formats.errors.DataError`.

The mapping itself lives in :mod:`core.formats.table_mapping` and the value parsers in
:mod:`core.formats.value_parsing`; their public names are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.data.dataset import AlignmentDataset
from core.formats.errors import ProblemLog
from core.data.kg import DATE_DTYPE, KnowledgeGraph
from core.data.links import Links, Split
from core.data.schema import Correspondence, SchemaMapping
from core.formats.table_mapping import (
    DEFAULT_NORMALISATION, PRESETS, AttributeColumn, AttributeKind, DerivedRelation, EntityColumn,
    KeyNormalisation, TableMapping, _line_in_json, resolve_mapping, write_preset,
)
from core.formats.textio import clean_names, parse_csv, parse_int_ids, read_text
from core.formats.value_parsing import (
    FAST_DATE_FORMATS, TWO_DIGIT_YEAR_PIVOT, parse_attribute, parse_dates, parse_durations, parse_numbers,
)

__all__ = [
    # loading (this module)
    "MAX_EXAMPLES", "TableLoadReport", "UnparsedValues", "cg_mualign_dedup", "load_tables",
    "load_tables_with_report", "read_csv_strict",
    # re-exported from core.formats.table_mapping
    "DEFAULT_NORMALISATION", "PRESETS", "AttributeColumn", "AttributeKind", "DerivedRelation",
    "EntityColumn", "KeyNormalisation", "TableMapping", "resolve_mapping", "write_preset",
    # re-exported from core.formats.value_parsing and core.data.kg
    "DATE_DTYPE", "FAST_DATE_FORMATS", "TWO_DIGIT_YEAR_PIVOT", "parse_attribute", "parse_dates",
    "parse_durations", "parse_numbers",
]

#: Examples of unparseable values kept per attribute in the report.
MAX_EXAMPLES = 5


# ----------------------------------------------------------------------------------- reports ----
@dataclass(frozen=True)
class UnparsedValues:
    """Non-empty values of one attribute column that could not be parsed (stored as missing)."""

    side: str
    attribute: str
    column: str
    kind: str
    count: int
    examples: tuple[str, ...]


@dataclass(frozen=True)
class TableLoadReport:
    """What the import did beyond the dataset itself: values it could not parse, pairs it dropped."""

    unparsed: tuple[UnparsedValues, ...]
    dedup_dropped: dict[str, int]  # split -> pairs dropped by ``dedup`` (empty without dedup)
    gold_unused: int  # gold pairs in no split, added as UNUSED positives

    def unparsed_count(self, side: str, attribute: str) -> int:
        return sum(u.count for u in self.unparsed if u.side == side and u.attribute == attribute)


# ----------------------------------------------------------------------------------- loading ----
def load_tables(directory: str | Path, mapping: TableMapping | str | Path, *,
                dedup: str | None = None) -> AlignmentDataset:
    """Load and validate a pair of DeepMatcher tables with their labelled pairs.

    Parameters
    ----------
    directory : path
        Folder holding the tables and the split files.
    mapping : TableMapping, preset name or path
        ``"dblp_acm"``, ``"itunes_amazon"`` (see :data:`PRESETS`) or a mapping JSON file.
    dedup : None or "cg_mualign"
        ``"cg_mualign"`` keeps, per split and in file order, only pairs whose left and right ids
        are both new to the split (the reference loader's rule). Default: every pair.

    Returns
    -------
    AlignmentDataset
        dblp_acm: 2,616 / 2,294 papers, 3,320 / 3,474 authors, 5 / 5 venues, 7,417 / 2,473 /
        2,473 labelled pairs and 4 UNUSED gold matches (2,224 in all).

    Raises
    ------
    DataError
        Every problem of every file as ``path:line: problem``; nothing is returned half-loaded.
    """
    return load_tables_with_report(directory, mapping, dedup=dedup)[0]


def load_tables_with_report(directory: str | Path, mapping: TableMapping | str | Path, *,
                            dedup: str | None = None) -> tuple[AlignmentDataset, TableLoadReport]:
    """:func:`load_tables`, plus a :class:`TableLoadReport` (unparsed values, dropped pairs)."""
    if dedup not in (None, "cg_mualign"):
        raise ValueError(f"dedup must be None or 'cg_mualign', got {dedup!r}")
    mapping = resolve_mapping(mapping)
    directory = Path(directory)
    log = ProblemLog()
    if not directory.is_dir():
        log.add(directory, None, "table directory not found")
        log.raise_if_any()
    tables = {side: _read_table(directory / name, mapping, log)
              for side, name in (("left", mapping.left_table), ("right", mapping.right_table))}
    pairs = _read_pairs(directory, mapping, tables, log)
    log.raise_if_any()

    unparsed: list[UnparsedValues] = []
    graphs = {side: _build_graph(tables[side], mapping, side, unparsed) for side in ("left", "right")}
    links, dropped, gold_unused = _links(pairs, dedup)
    schema = SchemaMapping(
        types=tuple(Correspondence(t, t, t) for t in mapping.type_names()),
        relations=tuple(Correspondence(r, r, r) for r in mapping.relation_names()),
        attributes=tuple(Correspondence(a.name, a.name, a.name) for a in mapping.attributes),
    )
    dataset = AlignmentDataset(graphs["left"], graphs["right"], schema, links, name=directory.name)
    return dataset, TableLoadReport(tuple(unparsed), dropped, gold_unused)


# ---------------------------------------------------------------------------------- CSV files ----
def read_csv_strict(path: Path, log: ProblemLog) -> tuple[list[str], pd.DataFrame] | None:
    """(header, rows) of a comma-separated file; rows as strings, indexed by their first line number.

    Malformed records (wrong field count, bad quoting, empty lines) are logged and left out, so
    the rest of the file is still checked (see :func:`core.formats.textio.parse_csv`).
    """
    text = read_text(path, log)
    if text is None:
        return None
    return parse_csv(text, path, log)


@dataclass(frozen=True)
class _Table:
    path: Path
    frame: pd.DataFrame  # rows with valid, unique ids; index = line numbers
    ids: np.ndarray  # int64 table ids, aligned with frame


def _read_table(path: Path, mapping: TableMapping, log: ProblemLog) -> _Table | None:
    read = read_csv_strict(path, log)
    if read is None:
        return None
    header, frame = read
    missing = [(column, key) for column, key in mapping.columns() if column not in header]
    for column, key in dict.fromkeys(missing):
        _missing_column(path, header, column, key, mapping, log)
    if missing:
        return None
    ids = parse_int_ids(frame[mapping.id_column], path, mapping.id_column, log)
    lines = frame.index.to_numpy()
    dup = pd.Series(ids).duplicated(keep="first").to_numpy() & (ids >= 0)
    if dup.any():
        first = pd.Series(lines, index=ids).groupby(level=0).first()
        for row in np.flatnonzero(dup):
            log.add(path, int(lines[row]), f"duplicate {mapping.id_column} {int(ids[row])} "
                                           f"(first on line {int(first[ids[row]])})")
    keep = (ids >= 0) & ~dup
    return _Table(path, frame[keep], ids[keep])


def _missing_column(table: Path, header: list[str], column: str, key: str, mapping: TableMapping,
                    log: ProblemLog) -> None:
    """Report a mapped column absent from a table: at the mapping file's line when there is a file."""
    if mapping.source:
        text = None
        try:
            text = Path(mapping.source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            pass
        line = _line_in_json(text, key, column) if text is not None else None
        log.add(mapping.source, line, f"{key} {column!r} is not a column of {table}; its header is {header}")
    else:
        log.add(table, 1, f"header lacks column {column!r}, which the mapping names as {key}; "
                          f"header: {header}")


# ------------------------------------------------------------------------------------ pairs ----
@dataclass(frozen=True)
class _Pairs:
    """Labelled pairs of the split files, then gold pairs, as positions in the tables."""

    left: np.ndarray
    right: np.ndarray
    label: np.ndarray
    split: np.ndarray  # Split codes; gold rows carry -1
    in_gold: np.ndarray  # bool per labelled row
    gold_left: np.ndarray
    gold_right: np.ndarray


def _read_pairs(directory: Path, mapping: TableMapping, tables: dict, log: ProblemLog) -> _Pairs | None:
    n_before = len(log.problems)
    files = [(Split.TRAIN, mapping.train_file), (Split.VALID, mapping.valid_file), (Split.TEST, mapping.test_file)]
    chunks = []
    for split, name in files:
        chunk = _read_pair_file(directory / name, ("ltable_id", "rtable_id", "label"), mapping, tables, log)
        if chunk is not None:
            chunk["split"] = split.code
            chunks.append(chunk)
    gold = None
    if mapping.gold_file and (directory / mapping.gold_file).exists():
        gold = _read_pair_file(directory / mapping.gold_file, ("ltable_id", "rtable_id"), mapping, tables, log)
    labelled = pd.concat(chunks, ignore_index=True) if chunks else None
    if labelled is not None:
        _check_duplicates(labelled, "labelled pair", log)
        labels = labelled["label"].to_numpy(dtype=object)
        for row in np.flatnonzero((labels != "0") & (labels != "1")):
            log.add(labelled["path"].iat[row], int(labelled["line"].iat[row]),
                    f"label must be 1 or 0, got {labels[row]!r}")
    if gold is not None:
        _check_duplicates(gold, "gold pair", log)
    in_gold = None
    if labelled is not None and gold is not None:
        key_l = pd.MultiIndex.from_arrays([labelled["l_id"], labelled["r_id"]])
        key_g = pd.MultiIndex.from_arrays([gold["l_id"], gold["r_id"]])
        in_gold = key_l.isin(key_g)
        contradict = np.flatnonzero(in_gold & (labelled["label"].to_numpy(dtype=object) == "0"))
        for row in contradict:
            log.add(labelled["path"].iat[row], int(labelled["line"].iat[row]),
                    f"pair ({labelled['l_id'].iat[row]}, {labelled['r_id'].iat[row]}) is labelled 0 but is in "
                    f"{mapping.gold_file}")
    if len(log.problems) > n_before or labelled is None:
        return None
    n = len(labelled)
    return _Pairs(left=labelled["l"].to_numpy(dtype=np.int64), right=labelled["r"].to_numpy(dtype=np.int64),
                  label=labelled["label"].astype(int).to_numpy(dtype=np.int8),
                  split=labelled["split"].to_numpy(dtype=np.int8),
                  in_gold=np.zeros(n, dtype=bool) if in_gold is None else np.asarray(in_gold, dtype=bool),
                  gold_left=np.zeros(0, np.int64) if gold is None else gold["l"].to_numpy(dtype=np.int64),
                  gold_right=np.zeros(0, np.int64) if gold is None else gold["r"].to_numpy(dtype=np.int64))


def _read_pair_file(path: Path, required: tuple[str, ...], mapping: TableMapping, tables: dict,
                    log: ProblemLog) -> pd.DataFrame | None:
    """One split or gold file as a frame: l / r = positions in the tables (-1 unknown), path, line."""
    read = read_csv_strict(path, log)
    if read is None:
        return None
    header, frame = read
    if "ltable_id" not in header and "rtable_id" not in header and {"left_id", "right_id"} <= set(header):
        # DeepMatcher's joined form: label,left_id,left_<column>...,right_id,right_<column>...; the
        # rows themselves come from the tables, so only the two ids and the label are read.
        frame = frame.rename(columns={"left_id": "ltable_id", "right_id": "rtable_id"})
        header = list(frame.columns)
    missing = [c for c in required if c not in header]
    if missing:
        log.add(path, 1, f"header lacks column(s) {missing}; found {_clip_header(header)} (expected "
                         "ltable_id,rtable_id,label or DeepMatcher's joined label,left_id,...,right_id,...)")
        return None
    out = pd.DataFrame({"path": str(path), "line": frame.index.to_numpy()})
    for column, side, table_name in (("ltable_id", "left", mapping.left_table),
                                     ("rtable_id", "right", mapping.right_table)):
        ids = parse_int_ids(frame[column], path, column, log)
        table = tables[side]
        position = np.full(len(ids), -1, dtype=np.int64)
        if table is not None:
            position = pd.Index(table.ids).get_indexer(ids).astype(np.int64)
            for row in np.flatnonzero((position < 0) & (ids >= 0)):
                log.add(path, int(frame.index[row]), f"{column} {int(ids[row])} is not an id of {table_name}")
        out[column[0]] = position
        out[f"{column[0]}_id"] = ids
    if "label" in frame.columns:
        out["label"] = frame["label"].to_numpy(dtype=object)
    return out


def _clip_header(header: list[str], limit: int = 12) -> list[str]:
    return header if len(header) <= limit else header[:limit] + [f"... {len(header) - limit} more"]


def _check_duplicates(frame: pd.DataFrame, what: str, log: ProblemLog) -> None:
    """A pair (by table ids) listed twice, within or across files, is reported at its repeat."""
    known = (frame["l_id"] >= 0) & (frame["r_id"] >= 0)
    sub = frame[known]
    dup = sub.duplicated(["l_id", "r_id"], keep="first").to_numpy()
    if not dup.any():
        return
    first = sub.groupby(["l_id", "r_id"]).head(1).set_index(["l_id", "r_id"])
    for row in np.flatnonzero(dup):
        key = (sub["l_id"].iat[row], sub["r_id"].iat[row])
        origin = first.loc[key]
        where = f"{Path(origin['path']).name}:{int(origin['line'])}"
        log.add(sub["path"].iat[row], int(sub["line"].iat[row]),
                f"duplicate {what} ({int(key[0])}, {int(key[1])}), first at {where}")


def _links(pairs: _Pairs, dedup: str | None) -> tuple[Links, dict[str, int], int]:
    keep = np.ones(len(pairs.left), dtype=bool)
    dropped: dict[str, int] = {}
    if dedup == "cg_mualign":
        for split in (Split.TRAIN, Split.VALID, Split.TEST):
            rows = np.flatnonzero(pairs.split == split.code)
            kept = cg_mualign_dedup(pairs.left[rows], pairs.right[rows])
            keep[rows[~kept]] = False
            dropped[split.value] = int((~kept).sum())
    # Gold pairs not kept in any split become UNUSED positives, in gold-file order.
    kept_keys = pd.MultiIndex.from_arrays([pairs.left[keep], pairs.right[keep]])
    gold_keys = pd.MultiIndex.from_arrays([pairs.gold_left, pairs.gold_right])
    unused = ~gold_keys.isin(kept_keys) if len(gold_keys) else np.zeros(0, dtype=bool)
    n_unused = int(unused.sum())
    left = np.concatenate([pairs.left[keep], pairs.gold_left[unused]])
    right = np.concatenate([pairs.right[keep], pairs.gold_right[unused]])
    label = np.concatenate([pairs.label[keep], np.ones(n_unused, dtype=np.int8)])
    split = np.concatenate([pairs.split[keep], np.full(n_unused, Split.UNUSED.code, dtype=np.int8)])
    links = Links(left.astype(np.int64), right.astype(np.int64), np.zeros(len(left), dtype=np.int32),
                  label.astype(np.int8), split.astype(np.int8))
    return links, dropped, n_unused


def cg_mualign_dedup(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Boolean mask of the pairs the CG-MuAlign reference loader keeps in one split.

    In order, a pair is kept unless its left or its right id is already in a kept pair.

    >>> cg_mualign_dedup(np.array([1, 1, 2, 3]), np.array([7, 8, 7, 9])).tolist()
    [True, False, False, True]
    """
    seen_left: set[int] = set()
    seen_right: set[int] = set()
    keep = np.zeros(len(left), dtype=bool)
    for i, (a, b) in enumerate(zip(left.tolist(), right.tolist())):
        if a in seen_left or b in seen_right:
            continue
        seen_left.add(a)
        seen_right.add(b)
        keep[i] = True
    return keep


# ---------------------------------------------------------------------------------- building ----
def _build_graph(table: _Table, mapping: TableMapping, side: str, unparsed: list[UnparsedValues]) -> KnowledgeGraph:
    frame, n_rows = table.frame, len(table.frame)
    type_names = mapping.type_names()
    relation_names = mapping.relation_names()
    type_code = {t: i for i, t in enumerate(type_names)}
    relation_code = {r: i for i, r in enumerate(relation_names)}

    new_ids: list[str] = []
    new_names: list[str] = []
    new_types: list[int] = []
    registry: dict[tuple[str, str], int] = {}
    heads: list[int] = []
    rels: list[int] = []
    tails: list[int] = []
    per_row: dict[str, list[list[int]]] = {}
    for spec in mapping.entity_columns:
        r = relation_code[spec.relation]
        cells: list[list[int]] = []
        for row, value in enumerate(frame[spec.column].tolist()):
            parts = value.split(spec.delimiter) if spec.delimiter else [value]
            found: list[int] = []
            for part in parts:
                key = spec.key(part)
                if not key:
                    continue
                index = registry.get((spec.type, key))
                if index is None:
                    index = n_rows + len(new_ids)
                    registry[(spec.type, key)] = index
                    new_ids.append(f"{spec.type}:{key}")
                    new_names.append(" ".join(part.split()))
                    new_types.append(type_code[spec.type])
                found.append(index)
                heads.append(row)
                rels.append(r)
                tails.append(index)
            cells.append(found)
        per_row[spec.column] = cells
    for derived in mapping.derived_relations:
        r = relation_code[derived.relation]
        for sources, targets in zip(per_row[derived.source], per_row[derived.target]):
            for s in sources:
                for t in targets:
                    heads.append(s)
                    rels.append(r)
                    tails.append(t)

    triples = np.array([heads, rels, tails], dtype=np.int64).reshape(3, -1).T
    if len(triples):
        _, first = np.unique(triples, axis=0, return_index=True)
        triples = triples[np.sort(first)]
    n = n_rows + len(new_ids)
    row_type = type_code[mapping.row_type]
    entity_ids = np.array([f"{mapping.row_type}:{i}" for i in table.ids.tolist()] + new_ids, dtype=object)
    names = clean_names(frame[mapping.name_column].tolist() + new_names)
    types = np.concatenate([np.full(n_rows, row_type, dtype=np.int32), np.array(new_types, dtype=np.int32)])
    attributes = {}
    for spec in mapping.attributes:
        values, bad = parse_attribute(frame[spec.column], spec.kind, dayfirst=spec.dayfirst)
        if bad.any():
            raw = frame[spec.column].to_numpy(dtype=object)[bad]
            unparsed.append(UnparsedValues(side, spec.name, spec.column, spec.kind.value, int(bad.sum()),
                                           tuple(dict.fromkeys(raw.tolist()))[:MAX_EXAMPLES]))
        attributes[spec.name] = _pad(values, n)
    return KnowledgeGraph(
        entity_ids=entity_ids, entity_types=types, type_names=type_names, names=names,
        attributes=pd.DataFrame(attributes, index=pd.RangeIndex(n)),
        heads=triples[:, 0].copy(), relations=triples[:, 1].astype(np.int32), tails=triples[:, 2].copy(),
        relation_names=relation_names,
    )


def _pad(values: pd.Series, n: int) -> pd.Series:
    """Extend row values to all ``n`` entities with the kind's missing value."""
    extra = n - len(values)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        filler = pd.Series(pd.NaT, index=range(extra), dtype=values.dtype)
    elif pd.api.types.is_float_dtype(values.dtype):
        filler = pd.Series(np.nan, index=range(extra), dtype="float64")
    else:
        filler = pd.Series([""] * extra, dtype=object)
    return pd.concat([values.reset_index(drop=True), filler], ignore_index=True)
