"""Importer for JAPE's DBP15K id files (e.g. ``dbp15k_fr_en``): two untyped KGs and their entity links.

::

    DIRECTORY/
      ent_ids_1, ent_ids_2      id \\t URI        entities of KG1 (left) and KG2 (right)
      rel_ids_1, rel_ids_2      id \\t URI        relations of KG1 and KG2
      triples_1, triples_2      head \\t rel \\t tail   (ids)
      ref_ent_ids               id1 \\t id2       gold links, KG1 id first
      ent_ids_1_trans_en        id \\t URI        optional: KG1 names translated to English (ZeroEA)

Every file is UTF-8, tab-separated, without a header. Ids are non-negative integers, global and
disjoint between the two KGs (the triples and links rely on that), so the external entity ids of
the result are the files' ids as decimal strings (``"10500"``), with no side prefix.

What the import makes of the files:

- **Names** are the URIs' local names: the part after ``/resource/`` for entities (entity names
  may contain ``/``, as in ``AC/DC``), after ``/property/`` or ``/ontology/`` for relations (a
  few relation names contain ``/`` too, e.g. ``battles/wars``), else after the last ``/``;
  ``_`` becomes a space for entities, raw UTF-8 is kept. Relations keep their local name as is.
  If two relations of one KG share a local name, those keep their full URI instead, so
  relation names stay unique (the native format keys relations by name).
- ``names="translated"`` takes KG1's names from ``ent_ids_1_trans_en`` (ZeroEA's English
  translations, which make many more links match by name): a name shortcut, to be reported
  separately from results with the original names.
- ``names="ids"`` replaces every entity's name, on both sides, by its id (``"10500"``): the
  *structure-only* setting of the EA literature (GCN-Align, Dual-AMN), where only the triples
  and the seed links can align entities. Ids carry no meaning across the KGs: a TEST link is
  ``(i, 10500 + i)`` while the seeds pair unrelated numbers, so nothing learnt on seeds from
  the digits transfers to TEST.
- **One entity type**, ``"entity"``, on both sides (the files carry no types), aligned as
  ``"entity"``. No attributes.
- **Relations** correspond only where the same local name exists on both sides (75 names in
  FR-EN, e.g. ``album``, ``capital``); those pairs share model parameters, all other relations
  stay side-specific. No translation or fuzzy matching of relation names is attempted.
- **Splits** (see :func:`split_codes`): ``split="jape"`` takes the *last* 30 % of
  ``ref_ent_ids`` as seeds and the first 70 % as test, which is JAPE's ``0_3`` layout (4,500 /
  10,500 for the 15,000 links, as ``SOURCE.md`` explains); ``split="random"`` shuffles the links
  with ``seed`` first, as GCN-Align, RREA and Dual-AMN do. In both, the last ``valid_fraction``
  of the seeds (in seed order) are VALID and the rest TRAIN.

Validation follows :mod:`core.formats.native`: every problem in every file is collected as
``path:line: problem`` and raised once in a :class:`~core.formats.errors.DataError`. The checks are
vectorised (the triples files have about 110K lines each).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import numpy as np
import pandas as pd

from core.data.dataset import AlignmentDataset
from core.formats.errors import ProblemLog
from core.data.kg import KnowledgeGraph
from core.data.links import Links, Split
from core.data.schema import Correspondence, SchemaMapping
from core.formats.textio import clean_names, parse_int_ids, read_tsv

#: Share of the links used as seeds (TRAIN + VALID); the rest is TEST.
SEED_FRACTION = 0.3
#: The one entity type of both sides.
ENTITY_TYPE = "entity"

ENTITY_MARKERS = ("/resource/",)
RELATION_MARKERS = ("/property/", "/ontology/")
TRANSLATION_FILE = "ent_ids_1_trans_en"
SIDES = ({"side": "left", "kg": "KG1", "suffix": "1"}, {"side": "right", "kg": "KG2", "suffix": "2"})


class NameSource(str, Enum):
    """Where the left entity names come from."""

    URI = "uri"
    TRANSLATED = "translated"
    IDS = "ids"  # structure only: every name (both sides) is the entity's id


class SplitProtocol(str, Enum):
    """How the links are divided into seeds (TRAIN + VALID) and TEST."""

    JAPE = "jape"
    RANDOM = "random"


def _enum_option(enum: type[Enum], value, option: str):
    try:
        return enum(value)
    except ValueError:
        raise ValueError(f"{option} must be one of {[e.value for e in enum]}, got {value!r}") from None


# ---------------------------------------------------------------------------------- loading ----
def load_dbp15k(directory: str | Path, *, names: str = "uri", split: str = "jape",
                valid_fraction: float = 0.1, seed: int = 0) -> AlignmentDataset:
    """Load and validate a DBP15K-style directory of id files.

    Parameters
    ----------
    directory : path
        Folder holding ``ent_ids_1/2``, ``rel_ids_1/2``, ``triples_1/2`` and ``ref_ent_ids``.
    names : {"uri", "translated", "ids"}
        Left names from the URIs, or from ``ent_ids_1_trans_en`` (a name shortcut), or every
        name on both sides replaced by its entity id (structure only).
    split : {"jape", "random"}
        Seeds are the last 30 % of ``ref_ent_ids`` (``"jape"``), or a random 30 % drawn with
        ``seed`` (``"random"``); the rest is TEST.
    valid_fraction : float in [0, 1)
        Share of the seeds held out as VALID: the last ``round(valid_fraction * n_seeds)`` of them.
    seed : int
        Only used by ``split="random"``.

    Returns
    -------
    AlignmentDataset
        FR-EN: 19,661 / 19,993 entities, 105,998 / 115,722 triples, 15,000 links of which 4,050
        TRAIN, 450 VALID, 10,500 TEST with the defaults.

    Raises
    ------
    DataError
        Every problem of every file as ``path:line: problem``; nothing is returned half-loaded.
    ValueError
        For a bad option (not a data problem).
    """
    name_source = _enum_option(NameSource, names, "names")
    protocol = _enum_option(SplitProtocol, split, "split")
    if not 0.0 <= valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must be in [0, 1), got {valid_fraction!r}")
    directory = Path(directory)
    log = ProblemLog()
    if not directory.is_dir():
        log.add(directory, None, "DBP15K directory not found")
        log.raise_if_any()

    entities = {s["side"]: _read_ids(directory / f"ent_ids_{s['suffix']}", ("id", "uri"), ("id",),
                                     f"{s['kg']} entity", log) for s in SIDES}
    relations = {s["side"]: _read_ids(directory / f"rel_ids_{s['suffix']}", ("id", "uri"), ("id",),
                                      f"{s['kg']} relation", log) for s in SIDES}
    _check_disjoint(entities, directory / "ent_ids_2", log)
    translation = None
    if name_source is NameSource.TRANSLATED:
        translation = _read_ids(directory / TRANSLATION_FILE, ("id", "uri"), ("id",), "KG1 entity", log)

    triples = {}
    for s in SIDES:
        path = directory / f"triples_{s['suffix']}"
        frame = _read_int_columns(path, ("head", "relation", "tail"), log)
        triples[s["side"]] = None if frame is None else _resolve_triples(
            frame, path, s, entities, relations[s["side"]], log)
    links = _read_links(directory / "ref_ent_ids", entities, log)
    left_names = None
    if translation is not None and entities["left"] is not None:
        left_names = _translated_names(translation, entities["left"], directory / TRANSLATION_FILE, log)
    log.raise_if_any()

    graphs = {}
    for s in SIDES:
        side = s["side"]
        ents = entities[side]
        if name_source is NameSource.IDS:
            names_ = ents["id"].astype(str).to_numpy(dtype=object)
        elif side == "left" and left_names is not None:
            names_ = left_names
        else:
            names_ = _entity_names(ents["uri"])
        graphs[side] = _graph(ents, relations[side], triples[side], clean_names(names_))
    shared = sorted(set(graphs["left"].relation_names) & set(graphs["right"].relation_names))
    schema = SchemaMapping(types=(Correspondence(ENTITY_TYPE, ENTITY_TYPE, ENTITY_TYPE),),
                           relations=tuple(Correspondence(r, r, r) for r in shared))
    left_index, right_index = links
    codes = split_codes(len(left_index), protocol=protocol, valid_fraction=valid_fraction, seed=seed)
    n = len(left_index)
    link_set = Links(left=left_index, right=right_index, type=np.zeros(n, dtype=np.int32),
                     label=np.ones(n, dtype=np.int8), split=codes)
    return AlignmentDataset(graphs["left"], graphs["right"], schema, link_set, name=directory.name)


def split_codes(n_links: int, *, protocol: str | SplitProtocol = SplitProtocol.JAPE,
                valid_fraction: float = 0.1, seed: int = 0) -> np.ndarray:
    """:attr:`Split.code` of each link, in file order.

    ``n_seeds = round(0.3 * n_links)`` (half up) and ``n_valid = round(valid_fraction * n_seeds)``
    (half up). JAPE: lines ``n_links - n_seeds ..`` are seeds and the earlier lines TEST. Random:
    a permutation from ``numpy.random.default_rng(seed)``; its first ``n_seeds`` entries are the
    seeds. Either way the *last* ``n_valid`` seeds in seed order are VALID, the others TRAIN.

    >>> [Split.from_code(c).value for c in split_codes(10, valid_fraction=1 / 3)]
    ['test', 'test', 'test', 'test', 'test', 'test', 'test', 'train', 'train', 'valid']
    """
    protocol = _enum_option(SplitProtocol, protocol, "split")
    n_seeds = int(np.floor(n_links * SEED_FRACTION + 0.5))
    n_valid = int(np.floor(n_seeds * valid_fraction + 0.5))
    if protocol is SplitProtocol.JAPE:
        order = np.arange(n_links - n_seeds, n_links)
    else:
        order = np.random.default_rng(seed).permutation(n_links)[:n_seeds]
    codes = np.full(n_links, Split.TEST.code, dtype=np.int8)
    codes[order[:n_seeds - n_valid]] = Split.TRAIN.code
    codes[order[n_seeds - n_valid:]] = Split.VALID.code
    return codes


# ------------------------------------------------------------------------------ file reading ----
def _read_int_columns(path: Path, columns: tuple[str, ...], log: ProblemLog,
                      int_columns: tuple[str, ...] | None = None) -> pd.DataFrame | None:
    """The file as a frame (index = line numbers) with ``int_columns`` parsed to int64 (-1 where bad)."""
    frame = read_tsv(path, log, header=False, names=columns)
    if frame is None:
        return None
    if frame.empty:
        if not any(p.path == str(path) for p in log.problems):
            log.add(path, None, "file is empty")
        return None
    for column in int_columns or columns:
        frame[column] = pd.Series(parse_int_ids(frame[column], path, column, log), index=frame.index)
    return frame


def _read_ids(path: Path, columns: tuple[str, ...], int_columns: tuple[str, ...], what: str,
              log: ProblemLog) -> pd.DataFrame | None:
    """An ``id \\t URI`` file: ids parsed and unique, URIs non-empty; rows with bad ids dropped."""
    frame = _read_int_columns(path, columns, log, int_columns)
    if frame is None:
        return None
    ids = frame["id"].to_numpy()
    lines = frame.index.to_numpy()
    dup = pd.Series(ids).duplicated(keep="first").to_numpy() & (ids >= 0)
    if dup.any():
        first = pd.Series(lines, index=ids).groupby(level=0).first()
        for row in np.flatnonzero(dup):
            log.add(path, int(lines[row]),
                    f"duplicate {what} id {int(ids[row])} (first on line {int(first[ids[row]])})")
    uris = frame["uri"].to_numpy(dtype=object)
    for row in np.flatnonzero(uris == ""):
        log.add(path, int(lines[row]), f"empty URI for {what} id {int(ids[row])}")
    keep = (ids >= 0) & ~dup
    return frame[keep]


def _check_disjoint(entities: dict, right_path: Path, log: ProblemLog) -> None:
    """The files' ids are global: an id in both ent_ids files would make triples and links ambiguous."""
    left, right = entities["left"], entities["right"]
    if left is None or right is None:
        return
    both = np.flatnonzero(np.isin(right["id"].to_numpy(), left["id"].to_numpy()))
    for row in both:
        log.add(right_path, int(right.index[row]),
                f"entity id {int(right['id'].iat[row])} is also a KG1 entity id (ent_ids_1): "
                "DBP15K ids must be disjoint between the KGs")


def _resolve_triples(frame: pd.DataFrame, path: Path, side: dict, entities: dict, relations: pd.DataFrame | None,
                     log: ProblemLog) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(heads, relations, tails) as positions in the side's entity / relation files, or None."""
    own, other = entities[side["side"]], entities["right" if side["side"] == "left" else "left"]
    other_kg = "KG2" if side["kg"] == "KG1" else "KG1"
    lines = frame.index.to_numpy()
    out = []
    n_before = len(log.problems)
    for column, table, what in (("head", own, "entity"), ("relation", relations, "relation"),
                                ("tail", own, "entity")):
        values = frame[column].to_numpy()
        if table is None:  # its id file is missing or broken: reported there
            out.append(None)
            continue
        found = pd.Index(table["id"].to_numpy()).get_indexer(values)
        bad = np.flatnonzero((found < 0) & (values >= 0))
        elsewhere = np.zeros(len(values), dtype=bool)
        if what == "entity" and other is not None and len(bad):
            elsewhere[bad] = np.isin(values[bad], other["id"].to_numpy())
        file = f"{'ent' if what == 'entity' else 'rel'}_ids_{side['suffix']}"
        for row in bad:
            hint = f"; it is a {other_kg} entity" if elsewhere[row] else ""
            label = column if column == what else f"{column} {what}"
            log.add(path, int(lines[row]), f"unknown {label} id {int(values[row])} "
                                           f"(not a {side['kg']} {what} in {file}{hint})")
        out.append(found)
    dup = frame.duplicated(["head", "relation", "tail"], keep="first").to_numpy()
    if dup.any():  # a repeated triple would count twice when neighbours are sampled
        first = pd.Series(lines).groupby([frame[c].to_numpy() for c in ("head", "relation", "tail")],
                                         sort=False).transform("first").to_numpy()
        for row in np.flatnonzero(dup):
            triple = ", ".join(str(int(frame[c].iat[row])) for c in ("head", "relation", "tail"))
            log.add(path, int(lines[row]), f"duplicate triple ({triple}), first on line {int(first[row])}")
    bad_ids = (frame[["head", "relation", "tail"]] < 0).any(axis=None)
    if len(log.problems) > n_before or any(o is None for o in out) or bad_ids:
        return None
    return out[0].astype(np.int64), out[1].astype(np.int32), out[2].astype(np.int64)


def _read_links(path: Path, entities: dict, log: ProblemLog) -> tuple[np.ndarray, np.ndarray] | None:
    """(left positions, right positions) of ``ref_ent_ids``; checks sides, duplicates and 1-to-1.

    Duplicates are checked even when an entity file is broken, so one run reports both.
    """
    frame = _read_int_columns(path, ("left", "right"), log)
    if frame is None:
        return None
    lines = frame.index.to_numpy()
    n_before = len(log.problems)
    pairs = pd.DataFrame({"left": frame["left"].to_numpy(), "right": frame["right"].to_numpy(), "line": lines})
    dup_pair = pairs.duplicated(["left", "right"], keep="first").to_numpy()
    first_line = pairs.groupby(["left", "right"])["line"].transform("first").to_numpy()
    for row in np.flatnonzero(dup_pair):
        pair = f"({int(pairs['left'].iat[row])}, {int(pairs['right'].iat[row])})"
        log.add(path, int(lines[row]), f"duplicate link {pair}, first on line {int(first_line[row])}")
    for column in ("left", "right"):
        again = pairs.duplicated([column], keep="first").to_numpy() & ~dup_pair & (pairs[column].to_numpy() >= 0)
        first = pairs.groupby(column)["line"].transform("first").to_numpy()
        for row in np.flatnonzero(again):
            log.add(path, int(lines[row]), f"{column} id {int(pairs[column].iat[row])} is already linked on line "
                                           f"{int(first[row])} (DBP15K links are 1-to-1)")
    if entities["left"] is None or entities["right"] is None:
        return None
    found = {}
    for column, own_side, other_side, own_kg, other_kg in (("left", "left", "right", "KG1", "KG2"),
                                                           ("right", "right", "left", "KG2", "KG1")):
        values = frame[column].to_numpy()
        found[column] = pd.Index(entities[own_side]["id"].to_numpy()).get_indexer(values)
        bad = np.flatnonzero((found[column] < 0) & (values >= 0))
        swapped = np.isin(values[bad], entities[other_side]["id"].to_numpy())
        own_file = f"ent_ids_{'1' if own_side == 'left' else '2'}"
        for row, is_other in zip(bad, swapped):
            if is_other:
                log.add(path, int(lines[row]), f"{column} id {int(values[row])} is a {other_kg} entity, expected a "
                                               f"{own_kg} entity from {own_file} (are the columns swapped?)")
            else:
                log.add(path, int(lines[row]), f"unknown {column} entity id {int(values[row])} (not in {own_file})")
    if len(log.problems) > n_before or (frame[["left", "right"]] < 0).any(axis=None):
        return None
    return found["left"].astype(np.int64), found["right"].astype(np.int64)


def _translated_names(translation: pd.DataFrame, left: pd.DataFrame, path: Path,
                      log: ProblemLog) -> np.ndarray | None:
    """KG1 names from the translation file, one per ``ent_ids_1`` entity."""
    position = pd.Index(left["id"].to_numpy()).get_indexer(translation["id"].to_numpy())
    for row in np.flatnonzero(position < 0):
        log.add(path, int(translation.index[row]),
                f"id {int(translation['id'].iat[row])} is not a KG1 entity (ent_ids_1)")
    covered = np.zeros(len(left), dtype=bool)
    covered[position[position >= 0]] = True
    if not covered.all():
        missing = left["id"].to_numpy()[~covered]
        log.add(path, None, f"{len(missing)} KG1 entities have no translation, e.g. ids "
                            f"{[int(i) for i in missing[:5]]}; use names='uri' or complete the file")
        return None
    names = np.empty(len(left), dtype=object)
    names[position[position >= 0]] = _entity_names(translation["uri"])[position >= 0]
    return names


# ---------------------------------------------------------------------------------- building ----
def local_names(uris: pd.Series | np.ndarray, markers: tuple[str, ...]) -> np.ndarray:
    """The part of each URI after the first of ``markers`` it contains, else after its last ``/``.

    >>> list(local_names(pd.Series(["http://dbpedia.org/resource/AC/DC", "http://x.org/p/q"]), ENTITY_MARKERS))
    ['AC/DC', 'q']
    """
    uris = pd.Series(np.asarray(uris, dtype=object), dtype=object)
    out = np.array(uris.str.rsplit("/", n=1).str[-1].to_numpy(dtype=object), dtype=object)
    done = np.zeros(len(uris), dtype=bool)
    for marker in markers:
        has = uris.str.contains(marker, regex=False).to_numpy(dtype=bool) & ~done
        if has.any():
            out[has] = uris[has].str.split(marker, n=1).str[1].to_numpy(dtype=object)
            done |= has
    empty = out == ""
    out[empty] = uris.to_numpy(dtype=object)[empty]
    return out


def _entity_names(uris: pd.Series) -> np.ndarray:
    names = local_names(uris, ENTITY_MARKERS)
    return pd.Series(names, dtype=object).str.replace("_", " ", regex=False).to_numpy(dtype=object)


def _relation_names(uris: pd.Series) -> np.ndarray:
    names = np.array(local_names(uris, RELATION_MARKERS), dtype=object)
    clash = pd.Series(names).duplicated(keep=False).to_numpy()
    names[clash] = uris.to_numpy(dtype=object)[clash]  # full URIs keep them apart
    return names


def _graph(entities: pd.DataFrame, relations: pd.DataFrame, triples: tuple, names: np.ndarray) -> KnowledgeGraph:
    heads, rels, tails = triples
    n = len(entities)
    return KnowledgeGraph(
        entity_ids=entities["id"].astype(str).to_numpy(dtype=object),
        entity_types=np.zeros(n, dtype=np.int32),
        type_names=(ENTITY_TYPE,),
        names=np.asarray(names, dtype=object),
        attributes=pd.DataFrame(index=pd.RangeIndex(n)),
        heads=heads, relations=rels, tails=tails,
        relation_names=tuple(str(r) for r in _relation_names(relations["uri"])),
    )
