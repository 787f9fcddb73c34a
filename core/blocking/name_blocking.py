"""Blocking: for each aligned type, keep the few right entities whose names are closest.

Comparing every left entity with every right one is quadratic, so each left entity keeps its
``top_k`` right entities of the same aligned type by cosine similarity of character n-gram
TF-IDF vectors (sklearn's ``TfidfVectorizer``), computed as a sparse matrix product that retains
only the top k per row (``sparse_dot_topn``, multi-threaded C++). Rare n-grams weigh most, so
"Aditya Raj" still finds "Aditya Raj Kapoor" while common fragments ("the ", "son") count little.

An optional exact key per type (year for films, date of birth for people) removes pairs whose
keys are both present and differ; a missing key on either side never removes a pair, as in the
paper's Magellan blocking. Keys act before the top-k cut, so conflicting look-alikes do not use
up the k slots.

At the paper's scale (a type with 400K names a side) the exact product is too slow: its cost is
the sum over n-grams of left x right document frequency, and frequent n-grams ("the ", " jo") pair
almost everything with everything. Types whose left x right count exceeds
``BlockingConfig.exact_pairs_limit`` therefore take their candidates from sorted neighbourhoods
(:mod:`core.blocking.sorted_neighbourhood`, n log n) and keep the k of highest exact cosine among them;
on the generated movie pair this keeps as many true matches as the exact product (bench/RESULTS.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sparse_dot_topn import sp_matmul_topn

from core.data.candidates import CandidatePairs
from core.data.dataset import AlignmentDataset
from core.data.links import Split
from core.blocking.sorted_neighbourhood import neighbourhood_pairs, sort_keys
from core.blocking.config import BlockingConfig
from core.blocking.report import BlockingReport, SourceStats, TypeBlockingStats  # noqa: F401 (their old home)
from core.matching.sparse_rows import PAIR_CHUNK_ROWS, pair_rows_dot

RankRows = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


def fit_name_vectors(left_names, right_names, config: BlockingConfig) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """L2-normalised char n-gram TF-IDF rows for both sides, with one vocabulary and IDF.

    The vocabulary is fitted on both sides together so that an n-gram frequent on either side is
    discounted; ``char_wb`` pads words with spaces so word starts and ends count as n-grams.
    One ``fit_transform`` over both sides, split by rows, gives the rows that fitting and then
    transforming each side gives, with each name analysed once instead of twice (the analysis is
    Python per name: 32 s of the 864K-character type of the 2.7M-node pair, half of it repeated).
    """
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=config.ngram_range,
                                 strip_accents="unicode" if config.strip_accents else None,
                                 lowercase=True, sublinear_tf=True, dtype=np.float32)
    left_names = [str(n) for n in left_names]
    right_names = [str(n) for n in right_names]
    if not left_names or not right_names:  # nothing to compare (e.g. a type only one side has yet)
        return (sp.csr_matrix((len(left_names), 0), dtype=np.float32),
                sp.csr_matrix((len(right_names), 0), dtype=np.float32))
    both = vectorizer.fit_transform(left_names + right_names).tocsr()
    # fit_transform renumbers the columns into vocabulary order after counting, which leaves each
    # row's entries unsorted; sorted, the rows are transform()'s bit for bit (the products and
    # sums downstream run in storage order, so the order shows in their last bits)
    both.sort_indices()
    return both[:len(left_names)], both[len(left_names):]


def top_k_cosine(left_vectors: sp.csr_matrix, right_vectors: sp.csr_matrix, top_k: int, *,
                 n_threads: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols, scores) of the ``top_k`` largest positive cosines per left row.

    Rows of both matrices must be L2-normalised. Rows with no shared n-gram get fewer entries.
    """
    if left_vectors.shape[0] == 0 or right_vectors.shape[0] == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z.astype(np.float32)
    product = sp_matmul_topn(left_vectors, right_vectors.T.tocsr(), top_n=min(top_k, right_vectors.shape[0]),
                             threshold=0.0, n_threads=n_threads if n_threads > 1 else None)
    rows = np.repeat(np.arange(product.shape[0], dtype=np.int64), np.diff(product.indptr))
    return rows, product.indices.astype(np.int64), product.data.astype(np.float32)


def pair_cosines(left_vectors: sp.csr_matrix, right_vectors: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray,
                 chunk: int = PAIR_CHUNK_ROWS) -> np.ndarray:
    """Cosine of each (left row, right row) pair of L2-normalised rows (their dot product), as float32:
    :func:`~core.matching.sparse_rows.pair_rows_dot`, a chunk of pairs at a time."""
    return pair_rows_dot(left_vectors, right_vectors, rows, cols, chunk_rows=chunk).astype(np.float32)


def top_k_per_row(rows: np.ndarray, cols: np.ndarray, scores: np.ndarray, top_k: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``top_k`` best positive-score pairs of each row, sorted by row, decreasing score, then column."""
    order = _row_score_order(np.asarray(rows), np.asarray(cols), np.asarray(scores))
    rows, cols, scores = rows[order], cols[order], scores[order]
    rank = np.arange(len(rows)) - np.searchsorted(rows, rows, side="left")
    keep = (rank < top_k) & (scores > 0)
    return rows[keep], cols[keep], scores[keep]


def _row_score_order(rows: np.ndarray, cols: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """``np.lexsort((cols, -scores, rows))``, by one stable sort when the pairs come sorted by (row, column).

    The window pairs of a large type do (they are distinct pair keys): row and score then pack
    into one unsigned 64-bit key (the row above, the score's float32 bits flipped to sort
    descending below), whose stable sort keeps equal scores in column order. On 38M pairs the
    three-key lexsort took 25 s, a sixth of ranking the 864K characters of the 2.7M-node pair.
    """
    in_pair_order = len(rows) < 2 or bool(np.all((rows[1:] > rows[:-1]) | ((rows[1:] == rows[:-1]) &
                                                                          (cols[1:] > cols[:-1]))))
    if not in_pair_order:
        return np.lexsort((cols, -scores, rows))
    return row_score_order(rows, scores)  # input order is column order: its ties are the lexsort's


def _packable(rows: np.ndarray, scores: np.ndarray) -> bool:
    return scores.dtype == np.float32 and bool(np.isfinite(scores).all()) and (
        len(rows) == 0 or (int(rows.min()) >= 0 and int(rows.max()) < 2 ** 32))


def row_score_order(rows: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """``np.lexsort((-scores, rows))``: by row, then decreasing score, ties in input order.

    With float32 scores (finite) and rows below 2^32 the two keys pack into one unsigned 64-bit
    key (the row above, the score's bits flipped to sort descending below) and one stable sort
    gives the same order: on the 16.8M candidates of the 2.7M-node pair's characters the two-key
    lexsort took several seconds more. Other inputs take the lexsort itself.
    """
    rows, scores = np.asarray(rows), np.asarray(scores)
    if not _packable(rows, scores):
        return np.lexsort((-scores, rows))
    bits = (scores + np.float32(0)).view(np.uint32)  # + 0: -0.0 becomes 0.0, which -scores also ties
    ascending = np.where(bits >> np.uint32(31) == 0, bits | np.uint32(0x80000000), ~bits)  # order of the floats
    packed = (rows.astype(np.uint64) << np.uint64(32)) | (np.uint64(0xFFFFFFFF) - ascending.astype(np.uint64))
    return np.argsort(packed, kind="stable")


def top_k_sorted_neighbourhood(left_vectors: sp.csr_matrix, right_vectors: sp.csr_matrix,
                               left_keys: list[np.ndarray], right_keys: list[np.ndarray], top_k: int,
                               window: int, sorted_right: list[tuple[np.ndarray, np.ndarray]] | None = None
                               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`top_k_cosine` among the sorted-neighbourhood pairs only (:mod:`core.blocking.sorted_neighbourhood`)."""
    rows, cols = neighbourhood_pairs(left_keys, right_keys, window, sorted_right)
    return top_k_per_row(rows, cols, pair_cosines(left_vectors, right_vectors, rows, cols), top_k)


def key_codes(left_values: pd.Series, right_values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Shared integer codes for two columns of key values; -1 marks a missing value."""
    codes, _ = pd.factorize(pd.concat([left_values, right_values], ignore_index=True), use_na_sentinel=True)
    return codes[: len(left_values)], codes[len(left_values):]


def block_names(left_vectors: sp.csr_matrix, right_vectors: sp.csr_matrix, top_k: int, *,
                left_keys: np.ndarray | None = None, right_keys: np.ndarray | None = None,
                n_threads: int = 2, rank: RankRows | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-k name matches per left row, among right rows whose key does not conflict.

    Left rows are grouped by key; a group with key ``v`` is compared with the right rows whose
    key is ``v`` or missing, and left rows with a missing key with all right rows. Each left row
    is thus ranked exactly once, against exactly the rows it may match. ``rank(left_rows,
    right_rows)`` ranks one group (default: :func:`top_k_cosine` of those rows' vectors).
    """
    if rank is None:
        def rank(left_rows, right_rows):
            return top_k_cosine(take_rows(left_vectors, left_rows), take_rows(right_vectors, right_rows), top_k,
                                n_threads=n_threads)
    if left_keys is None or right_keys is None:
        return rank(np.arange(left_vectors.shape[0]), np.arange(right_vectors.shape[0]))
    right_missing = right_keys < 0
    order = np.argsort(right_keys, kind="stable")
    sorted_keys = right_keys[order]
    parts = []
    for key in np.unique(left_keys):
        left_rows = np.flatnonzero(left_keys == key)
        if key < 0:
            right_rows = np.arange(right_vectors.shape[0])
        else:
            lo, hi = np.searchsorted(sorted_keys, [key, key + 1])
            right_rows = np.sort(np.concatenate([order[lo:hi], np.flatnonzero(right_missing)]))
        rows, cols, scores = rank(left_rows, right_rows)
        parts.append((left_rows[rows], right_rows[cols], scores))
    if not parts:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z.astype(np.float32)
    return tuple(np.concatenate(a) for a in zip(*parts))  # type: ignore[return-value]


def take_rows(matrix, rows: np.ndarray):
    """``matrix[rows]`` for sorted distinct ``rows``; the matrix itself when they are all its rows.

    A shard of a type ranks its few left rows against the whole right side: copying that side
    for every shard would cost as much as the shard's own work at large sizes.
    """
    n = matrix.shape[0]
    return matrix if len(rows) == n and (n == 0 or (rows[0] == 0 and rows[-1] == n - 1)) else matrix[rows]


def sorted_neighbourhood_ranker(left_names, right_names, left_vectors: sp.csr_matrix, right_vectors: sp.csr_matrix,
                                config: BlockingConfig) -> RankRows:
    """A ``rank`` for :func:`block_names` that ranks by sorted neighbourhood instead of the full product."""
    return keyed_neighbourhood_ranker(sort_keys(list(left_names)), sort_keys(list(right_names)), left_vectors,
                                      right_vectors, config)


def keyed_neighbourhood_ranker(left_keys: list[np.ndarray], right_keys: list[np.ndarray], left_vectors: sp.csr_matrix,
                               right_vectors: sp.csr_matrix, config: BlockingConfig,
                               sorted_right: list[tuple[np.ndarray, np.ndarray]] | None = None) -> RankRows:
    """:func:`sorted_neighbourhood_ranker` from sort keys already computed (a shard reuses the type's).

    ``sorted_right``: each right key's stable argsort and the key in that order, used when a group
    ranks against the whole right side (no exact key), so the right side is sorted once per type,
    not once per shard.
    """

    def rank(left_rows: np.ndarray, right_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        whole = take_rows(right_vectors, right_rows) is right_vectors
        return top_k_sorted_neighbourhood(take_rows(left_vectors, left_rows), take_rows(right_vectors, right_rows),
                                          [take_rows(k, left_rows) for k in left_keys],
                                          [take_rows(k, right_rows) for k in right_keys], config.top_k, config.window,
                                          sorted_right if whole else None)
    return rank


# --------------------------------------------------------------------------- the pipeline -----
@dataclass(frozen=True, eq=False)
class TypeBlockingInputs:
    """One aligned type, ready to rank: both sides' TF-IDF rows, exact keys and sort keys.

    Built once per type (the vocabulary and IDF need every name of both sides). Each left row is
    then ranked on its own against the whole right side, so any split of the left rows into shards
    (:meth:`left_shard`, :func:`rank_left_rows`) gives, concatenated, exactly the rows, columns and
    scores of ranking them all at once: the distributed engine relies on it.
    """

    type_index: int
    left_entities: np.ndarray
    right_entities: np.ndarray
    left_vectors: sp.csr_matrix
    right_vectors: sp.csr_matrix
    left_keys: np.ndarray | None = None  # exact-key codes (-1 missing); None when the type has no key
    right_keys: np.ndarray | None = None
    left_sort_keys: list[np.ndarray] | None = None  # sorted-neighbourhood keys; None on the exact path
    right_sort_keys: list[np.ndarray] | None = None
    key: str | None = None
    right_sorted: list[tuple[np.ndarray, np.ndarray]] | None = None  # (stable argsort, sorted key) per sort key

    @property
    def n_left(self) -> int:
        return len(self.left_entities)

    @property
    def sorted_neighbourhood(self) -> bool:
        return self.left_sort_keys is not None

    def left_shard(self, start: int, stop: int) -> "TypeBlockingInputs":
        """The same type with only left rows ``start:stop`` (the right side whole)."""
        return replace(self, left_entities=self.left_entities[start:stop], left_vectors=self.left_vectors[start:stop],
                       left_keys=None if self.left_keys is None else self.left_keys[start:stop],
                       left_sort_keys=None if self.left_sort_keys is None else [k[start:stop] for k in self.left_sort_keys])


def type_blocking_inputs(dataset: AlignmentDataset, type_index: int, config: BlockingConfig) -> TypeBlockingInputs:
    """Vectors, exact keys and (above ``config.exact_pairs_limit``) sort keys of one aligned type."""
    correspondence = dataset.schema.types[type_index]
    attribute_columns = {c.name: (c.left, c.right) for c in dataset.schema.attributes}
    left_entities, right_entities = dataset.entities_of_aligned_type(type_index)
    left_names, right_names = dataset.left.names[left_entities], dataset.right.names[right_entities]
    left_vectors, right_vectors = type_name_vectors(dataset, type_index, config)
    key = config.key_for(correspondence.name)
    left_keys = right_keys = None
    if key is not None:
        if key not in attribute_columns:
            raise ValueError(f"blocking key {key!r} for type {correspondence.name!r} is not an aligned "
                             f"attribute; aligned attributes: {sorted(attribute_columns)}")
        left_col, right_col = attribute_columns[key]
        left_keys, right_keys = key_codes(dataset.left.attributes[left_col].iloc[left_entities],
                                          dataset.right.attributes[right_col].iloc[right_entities])
    left_sort = right_sort = right_sorted = None
    if len(left_entities) * len(right_entities) > config.exact_pairs_limit:
        left_sort, right_sort = sort_keys(list(left_names)), sort_keys(list(right_names))
        right_sorted = [presorted(k) for k in right_sort]
    return TypeBlockingInputs(type_index, left_entities, right_entities, left_vectors, right_vectors,
                              left_keys, right_keys, left_sort, right_sort, key, right_sorted)


# The name vectors of the types blocked last, with the dataset they are of: name blocking and the
# other sources (which score their added pairs by the same cosine) share them within one run.
_VECTORS: dict = {}


def type_name_vectors(dataset: AlignmentDataset, type_index: int, config: BlockingConfig
                      ) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """:func:`fit_name_vectors` of one aligned type's names, fitted once per dataset and n-gram setting.

    The cache holds the dataset object itself, so another one cannot take its identity;
    :func:`forget_name_vectors` empties it (``block`` does, once done).
    """
    key = (type_index, config.ngram_range, config.strip_accents)
    if _VECTORS.get("dataset") is not dataset:
        _VECTORS.clear()
        _VECTORS["dataset"] = dataset
    if key not in _VECTORS:
        left_entities, right_entities = dataset.entities_of_aligned_type(type_index)
        _VECTORS[key] = fit_name_vectors(dataset.left.names[left_entities], dataset.right.names[right_entities],
                                         config)
    return _VECTORS[key]


def forget_name_vectors() -> None:
    _VECTORS.clear()


def presorted(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(stable argsort of ``key``, ``key`` in that order): what every shard would otherwise sort again."""
    order = np.argsort(key, kind="stable")
    return order, key[order]


#: Left rows per shard when a sorted-neighbourhood type is ranked on several threads: about 6M
#: window pairs a shard, so a shard's pairs and gathered rows stay a few hundred MB.
SHARD_LEFT_ROWS = 100_000


def rank_type(inputs: TypeBlockingInputs, config: BlockingConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`rank_left_rows` of a whole type, its left rows in shards on ``config.n_threads`` threads.

    Only the sorted-neighbourhood path is split: the exact path's product is multi-threaded
    already (``sparse_dot_topn``), while ranking window pairs is NumPy and SciPy work that runs
    on one core unless shards run beside each other (their sorts, gathers and sparse products
    release the GIL). Each left row is ranked on its own (see :class:`TypeBlockingInputs`), so
    the shards give exactly the candidates of one call.
    """
    threads = max(1, int(config.n_threads))
    if not inputs.sorted_neighbourhood or threads == 1 or inputs.n_left <= SHARD_LEFT_ROWS:
        return rank_left_rows(inputs, config)
    from concurrent.futures import ThreadPoolExecutor

    shard_config = replace(config, n_threads=1)
    bounds = [(start, min(start + SHARD_LEFT_ROWS, inputs.n_left)) for start in range(0, inputs.n_left, SHARD_LEFT_ROWS)]

    def rank_shard(bound: tuple[int, int]):
        rows, cols, scores = rank_left_rows(inputs.left_shard(*bound), shard_config)
        return rows + bound[0], cols, scores

    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(rank_shard, bounds))
    return tuple(np.concatenate([r[i] for r in results]) for i in range(3))  # type: ignore[return-value]


def rank_left_rows(inputs: TypeBlockingInputs, config: BlockingConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(left row, right row, cosine) of the top-k of every left row of ``inputs`` (a type or a shard of it)."""
    rank = (keyed_neighbourhood_ranker(inputs.left_sort_keys, inputs.right_sort_keys, inputs.left_vectors,
                                       inputs.right_vectors, config, inputs.right_sorted)
            if inputs.sorted_neighbourhood else None)
    return block_names(inputs.left_vectors, inputs.right_vectors, config.top_k, left_keys=inputs.left_keys,
                       right_keys=inputs.right_keys, n_threads=config.n_threads, rank=rank)


def type_candidates(dataset: AlignmentDataset, inputs: TypeBlockingInputs, rows: np.ndarray, cols: np.ndarray,
                    scores: np.ndarray, seconds: float, gold=None) -> tuple[CandidatePairs, TypeBlockingStats]:
    """The type's ranked rows as candidate pairs (by left entity, decreasing score) and their stats.

    ``gold``: ``dataset.gold_pairs()``, when the caller has it already (it is the same for every type).
    """
    order = row_score_order(rows, scores)
    pairs = CandidatePairs(inputs.left_entities[rows[order]], inputs.right_entities[cols[order]],
                           np.full(len(rows), inputs.type_index, dtype=np.int32), scores[order])
    type_gold = (dataset.gold_pairs() if gold is None else gold).of_type(inputs.type_index)
    kept = pairs.contains(type_gold.left, type_gold.right, dataset.right.n_entities)
    per_left = np.bincount(rows, minlength=inputs.n_left)
    stats = TypeBlockingStats(
        type=dataset.schema.types[inputs.type_index].name, n_left=inputs.n_left, n_right=len(inputs.right_entities),
        n_candidates=len(pairs), candidates_per_left=float(per_left.mean()) if len(per_left) else 0.0,
        max_candidates_per_left=int(per_left.max()) if len(per_left) else 0,
        left_without_candidates=int((per_left == 0).sum()), n_gold=len(type_gold),
        gold_kept=int(kept.sum()), seconds=seconds, key=inputs.key,
        sorted_neighbourhood=inputs.sorted_neighbourhood)
    return pairs, stats


def block(dataset: AlignmentDataset, config: BlockingConfig | None = None, *,
          extra_anchors: tuple[np.ndarray, np.ndarray] | None = None,
          embeddings: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[CandidatePairs, BlockingReport]:
    """Candidate pairs for every aligned type, with blocking quality measured on the known links.

    Names first; then, when the dataset has TRAIN links and ``config.structure_top_k > 0`` (or
    ``embeddings`` are given), the structure and embedding sources of
    :func:`core.blocking.structural.union_candidates` are added, with per-source stats.
    ``extra_anchors`` (accepted labels) join the TRAIN links as anchors.

    Returns pairs sorted by type, left entity and decreasing name score.
    """
    config = config or BlockingConfig()
    try:
        candidates, report = block_by_name(dataset, config)
        return add_other_sources(dataset, candidates, report, extra_anchors=extra_anchors, embeddings=embeddings)
    finally:
        forget_name_vectors()  # hundreds of MB on a large pair: not kept past the run


def add_other_sources(dataset: AlignmentDataset, candidates: CandidatePairs, report: BlockingReport, *,
                      extra_anchors: tuple[np.ndarray, np.ndarray] | None = None,
                      embeddings: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[CandidatePairs, BlockingReport]:
    """Name candidates (of :func:`block_by_name` or the distributed engine) joined with the other sources.

    Unchanged when no other source applies (``structure_top_k == 0`` or no anchor, and no embeddings).
    """
    config = report.config
    has_anchors = extra_anchors is not None and len(extra_anchors[0]) > 0
    has_anchors = has_anchors or bool(((dataset.links.label == 1) & (dataset.links.split == Split.TRAIN.code)).any())
    structure = config.structure_top_k > 0 and has_anchors
    embedding = embeddings is not None and config.embedding_top_k > 0
    if not (structure or embedding):
        return candidates, report
    from core.blocking.structural import union_candidates  # it builds on this module

    return union_candidates(dataset, candidates, report, extra_anchors=extra_anchors, embeddings=embeddings)


def block_by_name(dataset: AlignmentDataset, config: BlockingConfig | None = None
                  ) -> tuple[CandidatePairs, BlockingReport]:
    """Name candidates only (top-k TF-IDF cosine per left entity), sorted by type, left entity, decreasing score."""
    config = config or BlockingConfig()
    gold = dataset.gold_pairs()
    parts, stats = [], []
    for type_index in range(len(dataset.schema.types)):
        start = time.perf_counter()
        inputs = type_blocking_inputs(dataset, type_index, config)
        rows, cols, scores = rank_type(inputs, config)
        pairs, type_stats = type_candidates(dataset, inputs, rows, cols, scores, time.perf_counter() - start, gold)
        parts.append(pairs)
        stats.append(type_stats)
    return CandidatePairs.concat(parts), BlockingReport(tuple(stats), config)
