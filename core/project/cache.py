"""A binary cache of a project's parsed graphs, next to its files, so a big project opens in seconds.

Parsing the TSV files of a 2.7M-node project (strings, ids, attribute columns, the CSR adjacency)
takes about a minute; reading the same arrays back from one raw binary file takes seconds.
:func:`open_project` returns what :func:`core.formats.native.load_project` returns, through the
cache whenever it can be trusted::

    PROJECT/.cache/project.bin    the arrays' raw bytes, one after another (no pickles: strings
                                  are stored as UTF-8 bytes); read in one go, the arrays are
                                  views of that buffer
    PROJECT/.cache/project.json   format version, the SHA-256 of every source file, the SHA-256
                                  of project.bin and where each array lies in it (dtype, shape,
                                  offset), and the small things (schema, type names)

The cache is used only when all of these hold, otherwise the project is loaded from its files
(validated as always) and the cache written anew:

- the manifest parses and names this format version;
- every source file (``schema.json``, ``links.tsv``, ``left/``, ``right/`` entities and triples)
  has the content hash recorded in it: a changed file makes the cache *stale*, and a cache
  copied from another project is *foreign* for the same reason;
- ``project.bin`` has the recorded size and SHA-256 (a *damaged* or half-written file is never
  read) and holds every array the manifest lists, with the right lengths.

Content hashes, not modification times: a file restored from a backup or rewritten with the
same bytes keeps its cache, an edited file with a preserved mtime does not. A project directory
that cannot be written to is simply loaded from its files.

Encoded features (hashed name n-grams, scaled attributes) are cached beside the graphs
(``features-left.bin``/``features-right.bin``, one spec at a time: the latest model's), under the
same rules plus the feature spec's hash (:class:`FeatureStore`).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.data.dataset import AlignmentDataset
from core.data.kg import Adjacency, KnowledgeGraph
from core.data.links import Links
from core.data.schema import SchemaMapping

CACHE_DIR = ".cache"
FORMAT = "mualign-project-cache/2"
SOURCES = ("schema.json", "links.tsv", "left/entities.tsv", "left/triples.tsv", "right/entities.tsv",
           "right/triples.tsv")
_SIDES = ("left", "right")
_HASH_CHUNK = 1 << 22


@dataclass(frozen=True)
class CacheOutcome:
    """How a project was opened: ``used`` the cache, or loaded from the files and why (``reason``)."""

    used: bool
    reason: str  # "fresh" when used; else "missing", "stale", "damaged", "foreign format", ...
    written: bool = False  # a new cache was written after loading from the files


# ---------------------------------------------------------------------------------- hashing ---
def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (hardware SHA makes this about 1 GB/s)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def arrays_digest(*arrays) -> str:
    """SHA-256 of arrays' values as int64, one after another: the key of what was computed from them
    (the candidates of a score table, the links and candidates of a recorded evaluation)."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array, dtype=np.int64).tobytes())
    return digest.hexdigest()


def source_digests(directory: Path) -> dict[str, str]:
    """Content hash of every source file of the project (a missing file hashes to "missing")."""
    return {name: file_digest(directory / name) if (directory / name).is_file() else "missing" for name in SOURCES}


# ------------------------------------------------------------------------------ (de)coding ----
def _encode_strings(values) -> np.ndarray:
    """Strings as one UTF-8 byte array, joined by newlines (project cells never hold one)."""
    return np.frombuffer("\n".join(map(str, values)).encode("utf-8"), dtype=np.uint8)


def _decode_strings(blob: np.ndarray, n: int) -> np.ndarray:
    if n == 0:
        return np.array([], dtype=object)
    values = blob.tobytes().decode("utf-8").split("\n")
    if len(values) != n:
        raise ValueError(f"expected {n} strings, found {len(values)}")
    out = np.empty(n, dtype=object)
    out[:] = values
    return out


def _graph_arrays(kg: KnowledgeGraph, side: str) -> tuple[dict[str, np.ndarray], dict]:
    arrays = {f"{side}.ids": _encode_strings(kg.entity_ids), f"{side}.names": _encode_strings(kg.names),
              f"{side}.entity_types": kg.entity_types, f"{side}.heads": kg.heads,
              f"{side}.relations": kg.relations, f"{side}.tails": kg.tails}
    adjacency = kg.adjacency
    arrays.update({f"{side}.adj_indptr": adjacency.indptr, f"{side}.adj_neighbours": adjacency.neighbours,
                   f"{side}.adj_relations": adjacency.relations})
    columns = []
    for i, column in enumerate(kg.attributes.columns):
        kind = kg.attribute_kind(column)
        values = kg.attributes[column]
        key = f"{side}.attr{i}"
        if kind == "text":
            arrays[key] = _encode_strings(values.to_numpy(dtype=object))
        elif kind == "date":
            arrays[key] = values.to_numpy().view(np.int64)
        else:
            arrays[key] = values.to_numpy(dtype=np.float64)
        columns.append({"name": str(column), "kind": kind, "dtype": str(values.dtype)})
    meta = {"n_entities": kg.n_entities, "n_triples": kg.n_triples, "type_names": list(kg.type_names),
            "relation_names": list(kg.relation_names), "attributes": columns,
            "n_relations": adjacency.n_relations}
    return arrays, meta


def _graph_from_arrays(arrays, meta: dict, side: str) -> KnowledgeGraph:
    n = meta["n_entities"]
    attributes = {}
    for i, column in enumerate(meta["attributes"]):
        raw = arrays[f"{side}.attr{i}"]
        if column["kind"] == "text":
            values = pd.Series(_decode_strings(raw, n), dtype=object)
        elif column["kind"] == "date":
            values = pd.Series(raw.view(column["dtype"]))
        else:
            values = pd.Series(raw, dtype=column["dtype"])
        attributes[column["name"]] = values
    kg = KnowledgeGraph(
        entity_ids=_decode_strings(arrays[f"{side}.ids"], n), entity_types=arrays[f"{side}.entity_types"],
        type_names=tuple(meta["type_names"]), names=_decode_strings(arrays[f"{side}.names"], n),
        attributes=pd.DataFrame(attributes, index=pd.RangeIndex(n)), heads=arrays[f"{side}.heads"],
        relations=arrays[f"{side}.relations"], tails=arrays[f"{side}.tails"],
        relation_names=tuple(meta["relation_names"]))
    indptr = arrays[f"{side}.adj_indptr"]
    if len(indptr) != n + 1 or len(arrays[f"{side}.adj_neighbours"]) != 2 * kg.n_triples:
        raise ValueError("adjacency arrays do not fit the graph")
    # the adjacency is a cached property of the graph: fill it with the stored CSR arrays
    kg.__dict__["adjacency"] = Adjacency(indptr, arrays[f"{side}.adj_neighbours"], arrays[f"{side}.adj_relations"],
                                         meta["n_relations"])
    return kg


def _dataset_arrays(dataset: AlignmentDataset) -> tuple[dict[str, np.ndarray], dict]:
    arrays: dict[str, np.ndarray] = {}
    meta: dict = {"schema": dataset.schema.to_dict(), "n_links": len(dataset.links)}
    for side in _SIDES:
        side_arrays, meta[side] = _graph_arrays(getattr(dataset, side), side)
        arrays.update(side_arrays)
    for field in ("left", "right", "type", "label", "split"):
        arrays[f"links.{field}"] = getattr(dataset.links, field)
    return arrays, meta


def _dataset_from_arrays(arrays, meta: dict, name: str) -> AlignmentDataset:
    left, right = (_graph_from_arrays(arrays, meta[side], side) for side in _SIDES)
    links = Links(*(arrays[f"links.{field}"] for field in ("left", "right", "type", "label", "split")))
    if len(links) != meta["n_links"]:
        raise ValueError("links do not have the recorded length")
    return AlignmentDataset(left, right, SchemaMapping.from_dict(meta["schema"]), links, name=name)


# ------------------------------------------------------------------------------- the files ----
_ALIGN = 64


def _layout(arrays: dict[str, np.ndarray]) -> tuple[dict[str, dict], int]:
    """Where each array's bytes go in the payload: {name: dtype, shape, offset}, and the total size."""
    layout, offset = {}, 0
    for name, array in arrays.items():
        if array.dtype.kind in "OV":
            raise TypeError(f"{name}: only plain numeric arrays are cached, not {array.dtype}")
        layout[name] = {"dtype": array.dtype.str, "shape": list(array.shape), "offset": offset}
        offset += -(-array.nbytes // _ALIGN) * _ALIGN
    return layout, offset


def _write_payload(path: Path, arrays: dict[str, np.ndarray], layout: dict[str, dict]) -> str:
    """The arrays' raw bytes at their offsets (temporary file, then a rename); returns the SHA-256."""
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-{os.getpid()}-")
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; the project's other files are readable by the group
        with open(fd, "wb") as fh:
            for name, array in arrays.items():
                data = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
                padding = bytes(-(-len(data) // _ALIGN) * _ALIGN - len(data))
                for chunk in (data, padding):
                    fh.write(chunk)
                    digest.update(chunk)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest.hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-{os.getpid()}-")
    try:
        os.fchmod(fd, 0o644)
        with open(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_entry(folder: Path, stem: str, arrays: dict[str, np.ndarray], manifest: dict) -> bool:
    """Write ``stem.bin`` then ``stem.json`` (which names the payload's hash and layout); False if the
    folder is not writable. A crash between the two leaves a manifest that does not match: rebuilt."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        layout, size = _layout(arrays)
        digest = _write_payload(folder / f"{stem}.bin", arrays, layout)
        manifest = {**manifest, "format": FORMAT, "arrays": layout, "payload_bytes": size, "payload_sha256": digest}
        _write_atomically(folder / f"{stem}.json", json.dumps(manifest, indent=1).encode("utf-8"))
        return True
    except OSError:
        return False


def _read_entry(folder: Path, stem: str, sources: dict[str, str]):
    """(arrays, manifest) of a trusted cache entry, or (None, reason) when it must not be used.

    The payload is read once; its arrays are views into that one buffer (no copy, no parsing).
    """
    manifest_path, payload_path = folder / f"{stem}.json", folder / f"{stem}.bin"
    if not manifest_path.is_file() or not payload_path.is_file():
        return None, "missing"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None, "damaged manifest"
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return None, "foreign format"
    if manifest.get("sources") != sources:
        return None, "stale"
    try:
        if payload_path.stat().st_size != manifest.get("payload_bytes"):
            return None, "damaged"
        payload = np.fromfile(payload_path, dtype=np.uint8)
    except OSError:
        return None, "unreadable"
    if hashlib.sha256(payload).hexdigest() != manifest.get("payload_sha256"):
        return None, "damaged"
    try:
        arrays = {}
        for name, spec in manifest["arrays"].items():
            dtype, shape, offset = np.dtype(spec["dtype"]), tuple(int(n) for n in spec["shape"]), int(spec["offset"])
            count = int(np.prod(shape, dtype=np.int64))
            if dtype.kind in "OV" or offset < 0 or offset + count * dtype.itemsize > len(payload):
                raise ValueError(f"array {name!r} does not fit the payload")
            arrays[name] = payload[offset:offset + count * dtype.itemsize].view(dtype).reshape(shape)
    except (KeyError, ValueError, TypeError, AttributeError) as exc:  # a manifest that vouches for another file
        return None, f"inconsistent ({type(exc).__name__})"
    return arrays, manifest


#: The entry format, for other caches of a project (the score tables: core.project.score_table).
encode_strings, decode_strings, read_entry, write_entry = _encode_strings, _decode_strings, _read_entry, _write_entry


# ------------------------------------------------------------------------------- the entry ----
def open_project(directory: str | Path) -> tuple[AlignmentDataset, CacheOutcome]:
    """The project's dataset (as :func:`core.formats.native.load_project` gives it) and how it was read.

    Raises
    ------
    DataError
        As ``load_project`` does, when the files are read and are not valid.
    """
    from core.formats.native import load_project

    directory = Path(directory)
    if not directory.is_dir():
        return load_project(directory), CacheOutcome(False, "no directory")
    sources = source_digests(directory)
    folder = directory / CACHE_DIR
    arrays, manifest = _read_entry(folder, "project", sources)
    if arrays is not None:
        try:
            dataset = _dataset_from_arrays(arrays, manifest["meta"], directory.name)
            _remember(dataset, directory, sources)
            return dataset, CacheOutcome(True, "fresh")
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            reason = f"inconsistent ({type(exc).__name__})"
    else:
        reason = manifest
    dataset = load_project(directory)
    arrays, meta = _dataset_arrays(dataset)
    written = _write_entry(folder, "project", arrays, {"sources": sources, "meta": meta})
    _remember(dataset, directory, sources)
    return dataset, CacheOutcome(False, reason, written)


def load_project_cached(directory: str | Path) -> AlignmentDataset:
    """:func:`open_project` without the outcome: the drop-in for ``load_project``."""
    return open_project(directory)[0]


def _remember(dataset: AlignmentDataset, directory: Path, sources: dict[str, str]) -> None:
    """Register both graphs' feature store (see :data:`core.features.FEATURE_STORES`)."""
    from core.features import FEATURE_STORES

    graph_digest = hashlib.sha256(json.dumps(sources, sort_keys=True).encode("utf-8")).hexdigest()
    for side in _SIDES:
        FEATURE_STORES[getattr(dataset, side)] = FeatureStore(directory, graph_digest)
    from core.matching import ALIGNMENT_STORES

    ALIGNMENT_STORES[dataset.left] = AlignmentStore(directory, graph_digest)


# ----------------------------------------------------------------------------- candidates -----
def load_candidates_cached(dataset: AlignmentDataset, directory: str | Path):
    """``core.formats.native.load_candidates(dataset, directory)``, from the cache when it is fresh.

    The entry (``.cache/candidates.bin``) is keyed by the content hash of ``candidates.tsv`` and
    of the project's source files, so new candidates or changed graphs are read (and checked) from
    the TSV again. Reading 2.7M candidates from the TSV took 9.7 s.
    """
    from core.features import FEATURE_STORES
    from core.formats.native import CANDIDATES_FILE, load_candidates
    from core.data.candidates import CandidatePairs

    directory = Path(directory)
    path = directory / CANDIDATES_FILE
    store = FEATURE_STORES.get(dataset.left)
    if store is None or not isinstance(store, FeatureStore) or not path.is_file():
        return load_candidates(dataset, directory)  # a dataset not opened from this project's cache
    key = {"graph": store.graph_digest, "candidates": file_digest(path)}
    arrays, _ = _read_entry(directory / CACHE_DIR, "candidates", key)
    if arrays is not None:
        try:
            candidates = CandidatePairs(arrays["left"], arrays["right"], arrays["type"], arrays["name_score"])
            if len(candidates) == 0 or (candidates.left.max() < dataset.left.n_entities
                                        and candidates.right.max() < dataset.right.n_entities):
                return candidates
        except (KeyError, ValueError):
            pass
    candidates = load_candidates(dataset, directory)
    _write_candidates_entry(directory, key, candidates)
    return candidates


def remember_candidates(dataset: AlignmentDataset, directory: str | Path, candidates, *,
                        digest: str | None = None) -> bool:
    """Write the cache entry of ``candidates`` just saved to ``candidates.tsv`` (blocking calls this).

    So the next command reads them from the cache instead of parsing the file: on the 2.7M-node
    pair, parsing its 26.4M candidates took 75-91 s and 14-15.6 GB at its peak, more than anything
    else ``mualign score`` did. The entry holds what reading the file gives: the name scores as
    written (rounded to 6 decimals, then float32). False where the graphs were not opened from
    this project's cache (no digest to key the entry by) or the cache folder is not writable.
    ``digest``: the file's :func:`file_digest` when the caller has it (blocking does).
    """
    from core.data.candidates import CandidatePairs
    from core.features import FEATURE_STORES
    from core.formats.native import CANDIDATES_FILE

    directory = Path(directory)
    store = FEATURE_STORES.get(dataset.left)
    if not isinstance(store, FeatureStore):
        return False
    as_read = CandidatePairs(np.asarray(candidates.left, dtype=np.int64), np.asarray(candidates.right, dtype=np.int64),
                             np.asarray(candidates.type, dtype=np.int32),
                             np.round(np.asarray(candidates.name_score, dtype=np.float64), 6).astype(np.float32))
    key = {"graph": store.graph_digest, "candidates": digest or file_digest(directory / CANDIDATES_FILE)}
    return _write_candidates_entry(directory, key, as_read)


def _write_candidates_entry(directory: Path, key: dict, candidates) -> bool:
    return _write_entry(directory / CACHE_DIR, "candidates",
                        {"left": candidates.left, "right": candidates.right, "type": candidates.type,
                         "name_score": candidates.name_score}, {"sources": key})


# ------------------------------------------------------------------------------- features -----
@dataclass(frozen=True)
class FeatureStore:
    """Encoded features of one project's graphs, one cache entry per feature spec and side.

    Called by :func:`core.features.entity_features.encode_entities` for the graphs that
    :func:`open_project` opened: the entry is read when its manifest names the same graph sources
    and spec and its checksum holds, and computed (then written) otherwise.
    """

    directory: Path
    graph_digest: str

    def __call__(self, spec, side: str, compute):
        from core.features.entity_features import EntityFeatures

        spec_digest = hashlib.sha256(json.dumps(spec.to_dict(), sort_keys=True, default=str).encode("utf-8")).hexdigest()
        stem, key = f"features-{side}", {"graph": self.graph_digest, "spec": spec_digest, "side": side}
        arrays, _ = _read_entry(self.directory / CACHE_DIR, stem, key)
        if arrays is not None:
            try:
                import scipy.sparse as sp

                shape = tuple(int(v) for v in arrays["shape"])
                data, indices, indptr = arrays["data"], arrays["indices"], arrays["indptr"]
                if len(indptr) == shape[0] + 1 and int(indptr[-1]) == len(indices) == len(data) \
                        and len(arrays["dense"]) == shape[0]:
                    # set the arrays directly: the constructor's format check copies every array
                    # that is a view (all of these are views of the payload): 1.4 s at 2.7M nodes
                    names = sp.csr_matrix(shape, dtype=data.dtype)
                    names.data, names.indices, names.indptr = data, indices, indptr
                    return EntityFeatures(names, arrays["dense"])
            except (KeyError, ValueError, TypeError):
                pass
        features = compute()
        names = features.name_ngrams
        _write_entry(self.directory / CACHE_DIR, stem,
                     {"data": names.data, "indices": names.indices, "indptr": names.indptr,
                      "shape": np.array(names.shape, dtype=np.int64), "dense": features.dense}, {"sources": key})
        return features


# ---------------------------------------------------------------------------- alignments -----
@dataclass(frozen=True)
class AlignmentStore:
    """The label propagation's result for one project's graphs (``.cache/alignment.bin``), one at a time.

    Registered in :data:`core.matching.label_propagation.ALIGNMENT_STORES` for the graphs that
    :func:`open_project` opened. The entry is read when its manifest names the same graph sources,
    anchor links, settings and aligned types, and its checksum holds; otherwise the propagation
    runs and the entry is written anew (the latest anchors replace the earlier ones: block, train
    and evaluate ask for the same TRAIN links).
    """

    directory: Path
    graph_digest: str

    def __call__(self, key: dict, compute):
        from core.matching.label_propagation import alignment_arrays, alignment_from_arrays

        sources = {"graph": self.graph_digest, **key}
        arrays, manifest = _read_entry(self.directory / CACHE_DIR, "alignment", sources)
        if arrays is not None:
            try:
                return alignment_from_arrays(arrays, manifest["rounds"])
            except (KeyError, ValueError, TypeError):
                pass
        alignment = compute()
        arrays, rounds = alignment_arrays(alignment)
        _write_entry(self.directory / CACHE_DIR, "alignment", arrays, {"sources": sources, "rounds": rounds})
        return alignment
