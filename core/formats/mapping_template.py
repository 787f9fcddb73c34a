"""A first table mapping for tables mualign has never seen, written from their columns.

``mualign import tables SOURCE --write-mapping FILE`` calls :func:`write_mapping_template`: it
reads the two tables' headers and a sample of their values, guesses what each column is, and
writes a mapping JSON in which every key carries a ``"_comment..."`` saying what it means and
why it was guessed so (the reader skips those keys, see :mod:`core.formats.table_mapping`). The
guesses are a start to edit, never a silent decision: the import itself reads only the file.

The guesses, per column shared by both tables (the id column and the name column aside):

- ``duration`` when nearly all values read like ``3:41``; ``number`` when nearly all parse as
  numbers (``$ 1.29``, ``1999``); ``date`` when nearly all parse as dates;
- an **entity column** when the values (or, for ``a , b`` lists, their pieces) repeat across
  rows, as venues, artists or authors do: these become nodes shared by the rows;
- ``text`` otherwise.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from core.formats.errors import DataError, Problem, ProblemLog
from core.formats.table_mapping import AttributeColumn, AttributeKind, EntityColumn, TableMapping
from core.formats.textio import atomic_write_text, parse_csv, read_text
from core.formats.value_parsing import parse_dates, parse_durations, parse_numbers

#: Share of a column's non-empty sampled values that must parse for a kind to be guessed.
PARSE_SHARE = 0.9
#: Values sampled per column for the guesses (date parsing falls back to a slow parser).
SAMPLE = 500
#: Distinct / all (values or list pieces) below which a text column is guessed to hold entities.
REPEAT_RATIO = 0.5

KEY_COMMENTS = {
    "row_type": "What one table row is (paper, song, product): the type of the row entities, whose ids "
                "become '<row_type>:<id>'. Rename it to what your rows are.",
    "name_column": "The column holding each row's name or title. Blocking compares it first and the model "
                   "reads it; pick the most telling text column.",
    "id_column": "The column of integer row ids, unique per table, that the split files name.",
    "left_table": "The left table (CSV, comma-separated, UTF-8, one header line) in the source folder.",
    "right_table": "The right table; it is read with this same mapping, so it needs the same columns.",
    "entity_columns": "Columns whose values are entities of their own, shared by rows (authors, venue, artist): "
                      "each entry {column, type, relation, delimiter, normalise}. 'type' names the new nodes, "
                      "'relation' the edge row -> node, 'delimiter' (optional) splits a list cell like 'a , b', "
                      "'normalise' (optional) lists steps of strip, collapse_spaces, lowercase applied to the "
                      "value before it becomes a node (default strip and collapse_spaces). Move a column here "
                      "from attributes, or back, as fits your data.",
    "attributes": "Columns read as attributes of the rows: each entry {column, kind, name, dayfirst}. kind is "
                  "number ('$ 1.29' -> 1.29), date, duration ('3:41' -> 221 s) or text; 'name' (optional) "
                  "renames it; 'dayfirst' (dates only) reads 03/04/2015 as 3 April. A value that does not parse "
                  "is kept as missing and counted in the import report, not refused.",
    "derived_relations": "Edges between two entity columns of the same row, e.g. "
                         "{\"source\": \"Album_Name\", \"target\": \"Artist_Name\", \"relation\": \"album_by\"} "
                         "links each album to its artist. Empty unless you add some.",
    "train_file": "Labelled pairs for training: either ltable_id,rtable_id,label or DeepMatcher's joined form "
                  "label,left_id,left_<column>...,right_id,right_<column>... (label 1 match, 0 non-match).",
    "valid_file": "Labelled pairs for validation (the F1 threshold and early stopping), same forms.",
    "test_file": "Labelled pairs the reported metrics are computed on, same forms.",
    "gold_file": "Optional: every true match (ltable_id,rtable_id), to measure blocking recall; null when "
                 "there is none.",
}


def write_mapping_template(source: str | Path, path: str | Path) -> Path:
    """Write a commented template mapping for the tables in ``source`` to ``path``.

    Raises
    ------
    DataError
        ``source`` has no recognisable pair of tables, or a table cannot be read.
    ValueError
        ``path`` exists already (a mapping someone edited is never overwritten) or is a directory.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a directory; name the mapping file to write, e.g. {path / 'mapping.json'}")
    if path.exists():
        raise ValueError(f"{path} exists; a template never replaces a mapping file (remove it or pick another name)")
    atomic_write_text(path, template_json(Path(source)))
    return path


def template_json(source: Path) -> str:
    """The commented template mapping for the tables in ``source``, as JSON text."""
    left_name, right_name = _find_tables(source)
    log = ProblemLog()
    tables = {}
    for name in (left_name, right_name):
        text = read_text(source / name, log)
        parsed = parse_csv(text, source / name, log) if text is not None else None
        if parsed is not None:
            tables[name] = parsed
    log.raise_if_any()
    (left_header, left), (right_header, right) = tables[left_name], tables[right_name]
    shared = [c for c in left_header if c in right_header]
    id_column = _guess_id_column(shared, source / left_name)
    name_column = _guess_name_column([c for c in shared if c != id_column], left)
    notes: dict[str, str] = {}
    entity_columns, attributes = [], []
    for column in shared:
        if column in (id_column, name_column):
            continue
        values = pd.concat([left[column], right[column]], ignore_index=True)
        guess, note = _guess_column(column, values)
        notes[column] = note
        (entity_columns if isinstance(guess, EntityColumn) else attributes).append(guess)
    splits = {"train_file": "train.csv", "valid_file": "valid.csv", "test_file": "test.csv"}
    gold = "gold_matches.csv" if (source / "gold_matches.csv").exists() else None
    mapping = TableMapping(row_type="record", name_column=name_column, id_column=id_column, left_table=left_name,
                           right_table=right_name, entity_columns=tuple(entity_columns),
                           attributes=tuple(attributes), gold_file=gold, **splits)
    only_one = sorted((set(left_header) ^ set(right_header)))
    head = (f"Template written by `mualign import tables {source} --write-mapping`. Keys starting with "
            "_comment are comments: the reader skips them. Check every guess, then import with --mapping.")
    if only_one:
        head += f" Columns in one table only, left out: {only_one}."
    missing = [v for v in splits.values() if not (source / v).exists()]
    if missing:
        head += f" Split files not found in {source}: {missing}; name yours in train_file/valid_file/test_file."
    return _commented_json(mapping, head, notes)


def _find_tables(source: Path) -> tuple[str, str]:
    """File names of the left and right tables (tableA.csv, and tableB.csv or the one tableB*.csv)."""
    if not source.is_dir():
        raise DataError([Problem(str(source), None, "table directory not found")])
    csvs = sorted(p.name for p in source.glob("*.csv"))
    rights = ["tableB.csv"] if "tableB.csv" in csvs else [n for n in csvs if re.fullmatch(r"tableB[^/]*\.csv", n)
                                                          and "provenance" not in n]
    if "tableA.csv" not in csvs or len(rights) != 1:
        raise DataError([Problem(str(source), None, "expected the DeepMatcher layout: tableA.csv (left) and one "
                                                    f"tableB*.csv (right); found CSV files {csvs}. Write the "
                                                    "mapping by hand (see the README's table mapping section)")])
    return "tableA.csv", rights[0]


def _guess_id_column(columns: list[str], table: Path) -> str:
    for candidate in ("id", "ID", "Id", "_id"):
        if candidate in columns:
            return candidate
    raise DataError([Problem(str(table), 1, f"no id column ('id') shared by both tables; columns: {columns}. "
                                            "Each table needs integer row ids that the split files name")])


def _guess_name_column(columns: list[str], frame: pd.DataFrame) -> str:
    for pattern in (r"title", r"name", r".*_?title", r".*_?name"):
        for column in columns:
            if re.fullmatch(pattern, column, flags=re.IGNORECASE):
                return column
    texts = [c for c in columns if parse_numbers(_sample(frame[c])).isna().mean() > 0.5]
    if texts:  # the text column with the longest values reads most like a name
        return max(texts, key=lambda c: _sample(frame[c]).str.len().mean())
    return columns[0]


def _sample(values: pd.Series) -> pd.Series:
    values = pd.Series(values.to_numpy(dtype=object), dtype=object)
    present = values[values.str.strip() != ""]
    return present.sample(min(SAMPLE, len(present)), random_state=0) if len(present) > SAMPLE else present


def _guess_column(column: str, values: pd.Series) -> tuple[EntityColumn | AttributeColumn, str]:
    """(entry for the column, why it was guessed so)."""
    sample = _sample(values)
    if not len(sample):
        return AttributeColumn(column, AttributeKind.TEXT), "guessed text: every value is empty"
    for kind, parse in ((AttributeKind.DURATION, _durations), (AttributeKind.NUMBER, parse_numbers),
                        (AttributeKind.DATE, parse_dates)):
        share = float(parse(sample).notna().mean())
        if share >= PARSE_SHARE:
            return AttributeColumn(column, kind), f"guessed {kind.value}: {share:.0%} of sampled values parse as one"
    present = pd.Series(values.to_numpy(dtype=object), dtype=object)
    present = present[present.str.strip() != ""]
    pieces = present.str.split(",").explode().str.strip()
    pieces = pieces[pieces != ""]
    type_name = re.sub(r"[^0-9a-z]+", "_", re.sub(r"(?i)[ _]?name$", "", column).lower()).strip("_") or "entity"
    if type_name.endswith("s") and not type_name.endswith("ss") and len(type_name) > 3:
        type_name = type_name[:-1]  # authors -> author: a node is one of them
    relation = f"has_{type_name}"
    if len(pieces) >= 1.5 * len(present) and pieces.nunique() / len(pieces) < REPEAT_RATIO:
        return (EntityColumn(column, type_name, relation, delimiter=","),
                f"guessed a list of entities: cells hold {len(pieces) / len(present):.1f} comma-separated values "
                f"on average, and only {_share(pieces.nunique() / len(pieces))} of them are distinct")
    if present.nunique() / len(present) < REPEAT_RATIO:
        return (EntityColumn(column, type_name, relation),
                f"guessed entities: only {_share(present.nunique() / len(present))} of the values are distinct, so rows "
                "share them")
    return AttributeColumn(column, AttributeKind.TEXT), "guessed text: values are mostly distinct and not numbers or dates"


def _share(ratio: float) -> str:
    return "under 1%" if 0 < ratio < 0.01 else f"{ratio:.0%}"


def _durations(sample: pd.Series) -> pd.Series:
    """Durations only where the value reads like one (``3:41``): plain numbers are numbers."""
    looks = sample.str.fullmatch(r"\s*[0-9]+:[0-5][0-9](:[0-5][0-9])?\s*").fillna(False).astype(bool)
    return parse_durations(sample).where(looks.to_numpy())


def _commented_json(mapping: TableMapping, head: str, notes: dict[str, str]) -> str:
    """The mapping as JSON with a ``_comment_<key>`` before each key and a ``_comment`` per entry."""
    lines = [f"  {json.dumps('_comment')}: {json.dumps(head, ensure_ascii=False)}"]
    for key, value in mapping.to_dict().items():
        lines.append(f"  {json.dumps('_comment_' + key)}: {json.dumps(KEY_COMMENTS[key], ensure_ascii=False)}")
        if isinstance(value, list):
            items = []
            for entry in value:
                column = entry.get("column")
                commented = {"_comment": notes[column], **entry} if column in notes else entry
                items.append(f"    {json.dumps(commented, ensure_ascii=False)}")
            body = "[\n" + ",\n".join(items) + "\n  ]" if items else "[]"
            lines.append(f"  {json.dumps(key)}: {body}")
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"
