"""mualign's own project format: a directory of TSV files plus ``schema.json``.

::

    PROJECT/
      schema.json            aligned types, relations, attributes (see README)
      left/entities.tsv      id  type  name  [column:kind ...]   kind = number | date | text
      left/triples.tsv       head  relation  tail                (entity ids)
      right/entities.tsv
      right/triples.tsv
      links.tsv              left_id  right_id  label  split     label 1|0; split train|valid|test|unused

Every file is UTF-8, tab-separated, one header line, no quoting (tabs and newlines inside values
are not allowed; the writer replaces them with spaces). Empty cells are missing values. Dates are
ISO 8601 (``1999-03-31``). Every other loader converts into this format, so a project directory
is always the one thing the rest of mualign reads.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd

from core.data.candidates import pair_keys
from core.data.dataset import AlignmentDataset
from core.formats.errors import ProblemLog
from core.data.kg import ATTRIBUTE_KINDS, KnowledgeGraph
from core.data.links import Links, Split
from core.data.schema import SchemaMapping
from core.formats.textio import atomic_write_text, atomic_write_tsv, clean_names, parse_json, read_text, read_tsv

SIDES = ("left", "right")
_SPLITS = {s.value: s.code for s in Split}


# ---------------------------------------------------------------------------------- loading ----
def load_project(directory: str | Path) -> AlignmentDataset:
    """Load and validate a project directory.

    Raises
    ------
    DataError
        Listing every problem in every file as ``path:line: problem``; nothing is returned
        half-loaded.
    """
    directory = Path(directory)
    log = ProblemLog()
    if not directory.is_dir():
        log.add(directory, None, "project directory not found")
        log.raise_if_any()
    graphs = {side: _load_graph(directory / side, log) for side in SIDES}
    schema = _load_schema(directory / "schema.json", graphs, log)
    links = None
    if graphs["left"] is not None and graphs["right"] is not None and schema is not None:
        links = _load_links(directory / "links.tsv", graphs["left"], graphs["right"], schema, log)
    log.raise_if_any()
    return AlignmentDataset(graphs["left"], graphs["right"], schema, links, name=directory.name)


def _load_graph(folder: Path, log: ProblemLog) -> KnowledgeGraph | None:
    n_before = len(log.problems)
    entities = read_tsv(folder / "entities.tsv", log, required=("id", "type", "name"))
    triples = read_tsv(folder / "triples.tsv", log, required=("head", "relation", "tail"))
    if entities is None or triples is None:
        return None
    epath, tpath = folder / "entities.tsv", folder / "triples.tsv"
    eline, tline = entities.index.to_numpy(), triples.index.to_numpy()

    ids = entities["id"].to_numpy(dtype=object)
    for row in np.flatnonzero(ids == ""):
        log.add(epath, int(eline[row]), "empty entity id")
    dup = pd.Series(ids).duplicated(keep="first").to_numpy() & (ids != "")
    if dup.any():
        first = pd.Series(eline, index=ids).groupby(level=0).first()
        for row in np.flatnonzero(dup):
            log.add(epath, int(eline[row]), f"duplicate entity id {ids[row]!r} "
                                         f"(first on line {int(first[ids[row]])})")
    types = entities["type"].to_numpy(dtype=object)
    for row in np.flatnonzero(types == ""):
        log.add(epath, int(eline[row]), "empty entity type")

    attributes = {}
    for column in entities.columns[3:]:
        name, kind = _split_attribute_header(column, epath, log)
        if name is None:
            continue
        if name in attributes:  # "year:number" and "year:date": one would silently replace the other
            log.add(epath, 1, f"attribute {name!r} has two columns ({column!r} and an earlier one); "
                              "give each attribute one column")
            continue
        attributes[name] = _parse_attribute(entities[column], kind, name, epath, log).reset_index(drop=True)

    type_names, type_codes = np.unique(types, return_inverse=True)
    index = pd.Index(ids)
    heads = index.get_indexer(triples["head"].to_numpy(dtype=object)) if index.is_unique else None
    tails = index.get_indexer(triples["tail"].to_numpy(dtype=object)) if index.is_unique else None
    rel_values = triples["relation"].to_numpy(dtype=object)
    if heads is not None:
        for label, found, column in (("head", heads, "head"), ("tail", tails, "tail")):
            for row in np.flatnonzero(found < 0):
                log.add(tpath, int(tline[row]), f"unknown {label} entity id {triples[column].iat[row]!r} "
                                             f"(not in {epath.name})")
    for row in np.flatnonzero(rel_values == ""):
        log.add(tpath, int(tline[row]), "empty relation")
    _check_duplicate_triples(triples, tpath, log)
    if len(log.problems) > n_before:
        return None
    relation_names, relation_codes = np.unique(rel_values, return_inverse=True)
    return KnowledgeGraph(
        entity_ids=ids,
        entity_types=type_codes.astype(np.int32),
        type_names=tuple(str(t) for t in type_names),
        names=clean_names(entities["name"]),
        attributes=pd.DataFrame(attributes, index=pd.RangeIndex(len(ids))),
        heads=heads.astype(np.int64),
        relations=relation_codes.astype(np.int32),
        tails=tails.astype(np.int64),
        relation_names=tuple(str(r) for r in relation_names),
    )


def _check_duplicate_triples(triples: pd.DataFrame, path: Path, log: ProblemLog) -> None:
    """A triple listed twice would count twice when neighbours are sampled: report the repeat."""
    dup = triples.duplicated(["head", "relation", "tail"], keep="first").to_numpy()
    if not dup.any():
        return
    lines = triples.index.to_numpy()
    first = pd.Series(lines).groupby([triples[c].to_numpy(dtype=object) for c in ("head", "relation", "tail")],
                                     sort=False).transform("first").to_numpy()
    for row in np.flatnonzero(dup):
        triple = ", ".join(repr(triples[c].iat[row]) for c in ("head", "relation", "tail"))
        log.add(path, int(lines[row]), f"duplicate triple ({triple}), first on line {int(first[row])}")


def _split_attribute_header(column: str, path: Path, log: ProblemLog) -> tuple[str | None, str]:
    name, sep, kind = column.rpartition(":")
    if not sep or not name:
        log.add(path, 1, f"attribute column {column!r} must be written name:kind, kind one of {ATTRIBUTE_KINDS}")
        return None, ""
    if kind not in ATTRIBUTE_KINDS:
        log.add(path, 1, f"attribute column {column!r}: unknown kind {kind!r}, expected one of {ATTRIBUTE_KINDS}")
        return None, ""
    return name, kind


def _parse_attribute(values: pd.Series, kind: str, name: str, path: Path, log: ProblemLog) -> pd.Series:
    if kind == "text":
        return values.astype(object)
    present = values != ""
    if kind == "number":
        parsed = pd.to_numeric(values.where(present, None), errors="coerce").astype("float64")
        # inf and nan parse as floats, but a feature cannot use them: they would read as missing
        infinite = parsed.notna().to_numpy() & ~np.isfinite(parsed.to_numpy())
        for row in np.flatnonzero(infinite):
            log.add(path, int(values.index[row]), f"attribute {name!r}: {values.iat[row]!r} is not a finite number")
        parsed = parsed.where(~infinite)
        present = present & ~infinite
        what = "a number"
    else:
        # Exactly YYYY-MM-DD, what the writer produces. pandas' ISO8601 parser would also take
        # "now" and "today" (a different date on every load) and time zones (which it refuses
        # to mix in one column).
        iso = values.str.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}").to_numpy(dtype=bool)
        parsed = pd.to_datetime(values.where(present & iso, None), errors="coerce", format="%Y-%m-%d")
        what = "an ISO date (YYYY-MM-DD)"
    for row in np.flatnonzero(present.to_numpy() & parsed.isna().to_numpy()):
        log.add(path, int(values.index[row]), f"attribute {name!r}: {values.iat[row]!r} is not {what}")
    return parsed


def _load_schema(path: Path, graphs: dict[str, KnowledgeGraph | None], log: ProblemLog) -> SchemaMapping | None:
    text = read_text(path, log)
    if text is None:
        return None
    n_before = len(log.problems)
    data = parse_json(text, path, log, reject_duplicate_keys=True)
    if len(log.problems) > n_before:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("types"), list) or not data["types"]:
        log.add(path, 1, 'expected an object with a non-empty "types" list')
        return None
    n_before = len(log.problems)
    for key in data:
        if key not in ("types", "relations", "attributes"):  # a misspelt "relation" would be ignored
            log.add(path, _line_of(text, json.dumps(key)), f'unknown key {key!r}; expected "types", '
                                                          '"relations" and "attributes"')
    for key in ("types", "relations", "attributes"):
        entries = data.get(key, [])
        if not isinstance(entries, list):
            log.add(path, _line_of(text, f'"{key}"'), f'"{key}" must be a list')
            continue
        for entry in entries:
            if not isinstance(entry, dict) or not all(isinstance(entry.get(s), str) for s in SIDES):
                log.add(path, _line_of(text, json.dumps(entry)[:20]),
                        f'each "{key}" entry needs string "left" and "right" fields, got {entry!r}')
                continue
            if not isinstance(entry.get("name", ""), str):
                log.add(path, _line_of(text, json.dumps(entry["left"])),
                        f'"name" of a "{key}" entry must be a string, got {entry["name"]!r}')
                continue
            unknown = [field for field in entry if field not in _ENTRY_FIELDS]
            if unknown:  # a misspelt "rigth" or "nmae" would otherwise be ignored
                log.add(path, _line_of(text, json.dumps(unknown[0])),
                        f'unknown field(s) {unknown} in a "{key}" entry; an entry has "name" (optional), '
                        '"left" and "right"')
                continue
            for side in SIDES:
                kg = graphs[side]
                if kg is None:
                    continue
                known = {"types": kg.type_names, "relations": kg.relation_names,
                         "attributes": tuple(kg.attributes.columns)}[key]
                if entry[side] not in known:
                    log.add(path, _line_of(text, json.dumps(entry[side])),
                            f"{key[:-1]} {entry[side]!r} is not a {side} {key[:-1]}; "
                            f"known {side} {key}: {sorted(known)[:20]}")
    if len(log.problems) > n_before:
        return None
    _check_attribute_kinds(data.get("attributes", []), text, path, graphs, log)
    if len(log.problems) > n_before:
        return None
    try:
        schema = SchemaMapping.from_dict(data)
    except ValueError as exc:
        log.add(path, None, str(exc))
        return None
    if not schema.attributes and graphs["left"] is not None and graphs["right"] is not None:
        schema = SchemaMapping(schema.types, schema.relations, default_attribute_pairs(graphs["left"], graphs["right"]))
    return schema


_ENTRY_FIELDS = ("name", "left", "right")


def _check_attribute_kinds(entries: list[dict], text: str, path: Path, graphs: dict[str, KnowledgeGraph | None],
                           log: ProblemLog) -> None:
    """A number must not be aligned with a date.

    The two have no common scale to compare on, and the feature builder would drop the pair
    without a word, so the schema is refused instead. A number or date paired with a text
    column stays allowed: text is never a model input, and a model trained on the number reports
    the changed kind when its checkpoint is loaded (core.project.checkpoint).
    """
    if graphs["left"] is None or graphs["right"] is None:
        return
    for entry in entries:
        kinds = [graphs[side].attribute_kind(entry[side]) for side in SIDES]
        if kinds[0] != kinds[1] and "text" not in kinds:
            log.add(path, _line_of(text, json.dumps(entry["left"])),
                    f"attribute {entry.get('name') or entry['left']!r} pairs left {entry['left']!r} ({kinds[0]}) "
                    f"with right {entry['right']!r} ({kinds[1]}); a number and a date have no common scale "
                    "(give both columns one :kind in entities.tsv, or leave the pair out)")


def default_attribute_pairs(left: KnowledgeGraph, right: KnowledgeGraph):
    """Attributes with the same name and kind on both sides are paired by default."""
    from core.data.schema import Correspondence

    return tuple(
        Correspondence(c, c, c) for c in left.attributes.columns
        if c in right.attributes.columns and left.attribute_kind(c) == right.attribute_kind(c)
    )


def _line_of(text: str, needle: str) -> int | None:
    pos = text.find(needle)
    return None if pos < 0 else text.count("\n", 0, pos) + 1


def _load_links(path: Path, left: KnowledgeGraph, right: KnowledgeGraph, schema: SchemaMapping,
                log: ProblemLog) -> Links | None:
    frame = read_tsv(path, log, required=("left_id", "right_id", "label", "split"))
    if frame is None:
        return None
    n_before = len(log.problems)
    line = frame.index.to_numpy()
    li = left.indices_of(frame["left_id"].to_numpy(dtype=object))
    ri = right.indices_of(frame["right_id"].to_numpy(dtype=object))
    for side, found, column in (("left", li, "left_id"), ("right", ri, "right_id")):
        for row in np.flatnonzero(found < 0):
            log.add(path, int(line[row]), f"unknown {side} entity id {frame[column].iat[row]!r}")
    label = frame["label"].map({"1": 1, "0": 0})
    for row in np.flatnonzero(label.isna().to_numpy()):
        log.add(path, int(line[row]), f"label must be 1 or 0, got {frame['label'].iat[row]!r}")
    split = frame["split"].map(_SPLITS)
    for row in np.flatnonzero(split.isna().to_numpy()):
        log.add(path, int(line[row]), f"split must be one of {list(_SPLITS)}, got {frame['split'].iat[row]!r}")

    known = (li >= 0) & (ri >= 0)
    left_type = np.full(len(li), -1, dtype=np.int32)
    right_type = np.full(len(ri), -2, dtype=np.int32)
    left_type[known] = _aligned_types(left, schema, "left")[left.entity_types[li[known]]]
    right_type[known] = _aligned_types(right, schema, "right")[right.entity_types[ri[known]]]
    for row in np.flatnonzero(known & ((left_type < 0) | (left_type != right_type))):
        lt = left.type_names[left.entity_types[li[row]]]
        rt = right.type_names[right.entity_types[ri[row]]]
        log.add(path, int(line[row]), f"link joins a left {lt!r} with a right {rt!r}, "
                                      "which schema.json does not align")
    pair_key = pd.Series(np.where(known, pair_keys(li, ri, right.n_entities), -1 - np.arange(len(li))))
    repeated = pair_key.duplicated(keep="first").to_numpy()
    for row in np.flatnonzero(repeated):
        log.add(path, int(line[row]), f"duplicate link ({frame['left_id'].iat[row]!r}, {frame['right_id'].iat[row]!r})")
    if len(log.problems) == n_before:
        _check_one_to_one(frame, li, ri, left_type, label.to_numpy(dtype=np.int8), schema, path, log)
    if len(log.problems) > n_before:
        return None
    return Links(li.astype(np.int64), ri.astype(np.int64), left_type.astype(np.int32),
                 label.to_numpy(dtype=np.int8), split.to_numpy(dtype=np.int8))


def _check_one_to_one(frame: pd.DataFrame, li: np.ndarray, ri: np.ndarray, types: np.ndarray, label: np.ndarray,
                      schema: SchemaMapping, path: Path, log: ProblemLog) -> None:
    """In an aligned type whose links are all matches, each entity has one counterpart at most.

    Such links (a KG alignment such as DBP15K) name *the* counterpart of an entity; the
    evaluation ranks it as the one true answer among the candidates, so a second match of the
    same entity would be silently dropped. Types with labelled non-matches are pairwise
    benchmarks (DeepMatcher tables), where a record may match several duplicates on the other
    side, and are left alone.
    """
    labelled_types = np.unique(types[label == 0])
    matches = np.flatnonzero((label == 1) & ~np.isin(types, labelled_types))
    line = frame.index.to_numpy()
    for side, entities, column, other in (("left", li, "left_id", "right_id"), ("right", ri, "right_id", "left_id")):
        keyed = pd.Series(entities[matches])
        again = keyed.duplicated(keep="first").to_numpy()
        first = pd.Series(line[matches]).groupby(keyed.to_numpy()).transform("first").to_numpy()
        row_of_line = pd.Series(np.arange(len(line)), index=line)
        for row, first_line in zip(matches[again], first[again]):
            partner = frame[other].iat[int(row_of_line[first_line])]
            log.add(path, int(line[row]), f"{side} entity {frame[column].iat[row]!r} is already linked on line "
                                          f"{int(first_line)} (to {partner!r}); "
                                          f"type {schema.type_names[types[row]]!r} has matches only, so each entity "
                                          "has one counterpart (keep one link, or label the others 0)")


def _aligned_types(kg: KnowledgeGraph, schema: SchemaMapping, side: str) -> np.ndarray:
    """For each of ``kg``'s type codes, its aligned type index (-1 when the schema leaves it out)."""
    return np.array([schema.aligned_type_of(side, t) for t in kg.type_names], dtype=np.int32)


def aligned_types_of_entities(kg: KnowledgeGraph, schema: SchemaMapping, side: str) -> np.ndarray:
    """Aligned type index of every entity of ``kg`` (-1 for types the schema does not align)."""
    return _aligned_types(kg, schema, side)[kg.entity_types]


# ---------------------------------------------------------------------------------- writing ----
def save_project(dataset: AlignmentDataset, directory: str | Path) -> Path:
    """Write ``dataset`` in the native format (each file atomically). Other files are left alone."""
    directory = Path(directory)
    for side in SIDES:
        kg: KnowledgeGraph = getattr(dataset, side)
        atomic_write_text(directory / side / "entities.tsv", _entities_text(kg))
        atomic_write_text(directory / side / "triples.tsv", _triples_text(kg))
    atomic_write_text(directory / "schema.json", json.dumps(dataset.schema.to_dict(), indent=2, ensure_ascii=False) + "\n")
    atomic_write_text(directory / "links.tsv", _links_text(dataset))
    return directory


def _clean(values) -> pd.Series:
    return pd.Series(values, dtype=object).astype(str).str.replace(r"[\t\r\n]+", " ", regex=True)


def _entities_text(kg: KnowledgeGraph) -> str:
    columns = {"id": _clean(kg.entity_ids), "type": _clean(np.asarray(kg.type_names, dtype=object)[kg.entity_types]),
               "name": _clean(kg.names)}
    for column in kg.attributes.columns:
        kind = kg.attribute_kind(column)
        values = kg.attributes[column]
        if kind == "number":
            text = values.map(lambda v: "" if pd.isna(v) else repr(float(v)).removesuffix(".0"))
        elif kind == "date":
            text = values.dt.strftime("%Y-%m-%d").fillna("")
        else:
            text = _clean(values.fillna(""))
        columns[f"{column}:{kind}"] = text.reset_index(drop=True)
    return pd.DataFrame(columns).to_csv(sep="\t", index=False, lineterminator="\n", quoting=3)


def _triples_text(kg: KnowledgeGraph) -> str:
    ids = kg.entity_ids
    rel = np.asarray(kg.relation_names, dtype=object)
    frame = pd.DataFrame({"head": _clean(ids[kg.heads]), "relation": _clean(rel[kg.relations]),
                          "tail": _clean(ids[kg.tails])})
    return frame.to_csv(sep="\t", index=False, lineterminator="\n", quoting=3)


def _links_text(dataset: AlignmentDataset) -> str:
    links = dataset.links
    splits = np.array([s.value for s in Split], dtype=object)
    frame = pd.DataFrame({"left_id": _clean(dataset.left.entity_ids[links.left]),
                          "right_id": _clean(dataset.right.entity_ids[links.right]),
                          "label": links.label.astype(int), "split": splits[links.split]})
    return frame.to_csv(sep="\t", index=False, lineterminator="\n", quoting=3)


# ------------------------------------------------------------------------------ candidates ----
CANDIDATES_FILE = "candidates.tsv"


def save_candidates(dataset: AlignmentDataset, candidates, directory: str | Path) -> Path:
    """Write blocked candidates by external id (``left_id right_id type name_score``)."""
    path = Path(directory) / CANDIDATES_FILE
    frame = candidates.to_frame(dataset.left.entity_ids, dataset.right.entity_ids, dataset.schema.type_names)
    atomic_write_tsv(path, frame, quoting=csv.QUOTE_NONE)
    return path


def load_candidates(dataset: AlignmentDataset, directory: str | Path):
    """Read ``candidates.tsv`` back, checking every id and type against ``dataset``."""
    from core.data.candidates import CandidatePairs

    path = Path(directory) / CANDIDATES_FILE
    log = ProblemLog()
    frame = read_tsv(path, log, required=("left_id", "right_id", "type", "name_score"))
    log.raise_if_any()
    line = frame.index.to_numpy()
    li = dataset.left.indices_of(frame["left_id"].to_numpy(dtype=object))
    ri = dataset.right.indices_of(frame["right_id"].to_numpy(dtype=object))
    types = pd.Index(dataset.schema.type_names).get_indexer(frame["type"].to_numpy(dtype=object))
    scores = pd.to_numeric(frame["name_score"], errors="coerce").to_numpy(dtype=np.float64)
    for row in np.flatnonzero(li < 0):
        log.add(path, int(line[row]), f"unknown left entity id {frame['left_id'].iat[row]!r}")
    for row in np.flatnonzero(ri < 0):
        log.add(path, int(line[row]), f"unknown right entity id {frame['right_id'].iat[row]!r}")
    for row in np.flatnonzero(types < 0):
        log.add(path, int(line[row]), f"unknown aligned type {frame['type'].iat[row]!r}; "
                                      f"schema.json aligns {list(dataset.schema.type_names)}")
    for row in np.flatnonzero(~np.isfinite(scores)):
        log.add(path, int(line[row]), f"name_score {frame['name_score'].iat[row]!r} is not a finite number")
    # A candidate is scored as a pair of its type: both entities must be of that aligned type.
    known = (li >= 0) & (ri >= 0) & (types >= 0)
    for side, index, kg in (("left", li, dataset.left), ("right", ri, dataset.right)):
        aligned = aligned_types_of_entities(kg, dataset.schema, side)
        for row in np.flatnonzero(known & (aligned[np.where(known, index, 0)] != types)):
            own = kg.type_names[kg.entity_types[index[row]]]
            log.add(path, int(line[row]), f"{side} entity {frame[f'{side}_id'].iat[row]!r} is a {side} {own!r}, "
                                          f"not of the candidate's aligned type {frame['type'].iat[row]!r}")
    pair_key = pd.Series(np.where((li >= 0) & (ri >= 0), pair_keys(li, ri, dataset.right.n_entities),
                                  -1 - np.arange(len(li))))
    for row in np.flatnonzero(pair_key.duplicated(keep="first").to_numpy()):
        log.add(path, int(line[row]), f"duplicate candidate ({frame['left_id'].iat[row]!r}, "
                                      f"{frame['right_id'].iat[row]!r})")
    log.raise_if_any()
    return CandidatePairs(li.astype(np.int64), ri.astype(np.int64), types.astype(np.int32), scores.astype(np.float32))
