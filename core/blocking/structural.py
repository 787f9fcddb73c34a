"""Candidates from structure and from embeddings, unioned with the name candidates per type.

Name blocking (:mod:`core.blocking.name_blocking`) never proposes a pair whose names share no
character n-gram: another script or language, a renamed product, or a graph whose names are
bare ids. Two more sources close that gap, each a top-k per left entity of the same aligned type:

- **structure**: the similarity of three-view label propagation
  (:mod:`core.matching.label_propagation`, after LightEA). Anchors are the TRAIN links (and,
  where the caller has them, accepted labels); each gets one random label on both sides, spread
  over entities and relations of each graph, with a few self-training rounds in which confident
  mutual pairs become extra anchors. Two entities whose neighbours (and relations) are linked to
  each other get similar labels whatever their names. It uses *every* relation of each graph, not
  only the aligned ones: on a cross-lingual pair (DBP15K FR-EN) only 75 of 900+ relation names are
  shared. On DBP15K FR-EN structure only it keeps 0.899 of the TEST matches at top 10, where the
  anchor profiles (:func:`side_profiles`, still what :mod:`core.blocking.anchor_rounds` uses) kept
  0.758.
- **embedding**: the cosine of per-entity vectors from a trained model (any ``(n, d)`` matrix
  per side), top k by a blocked dense product, so ``n_left x n_right`` is never held at once.

:func:`union_candidates` joins the sources with the name candidates, keeps each pair once with
its name cosine as ``name_score`` (0 where names share nothing), respects the exact keys of
:class:`~core.blocking.name_blocking.BlockingConfig` as name blocking does, and records per
source how many pairs it proposed and how many known matches it kept
(:class:`~core.blocking.name_blocking.SourceStats`). Because the TRAIN links are anchors, the
structure source finds them trivially (an anchor's hop-0 profile is its own link), so the
completeness that matters is the one on *held-out* matches (links that are not anchors:
VALID, TEST, UNUSED), reported beside the overall one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from core.blocking.config import BlockingConfig
from core.blocking.name_blocking import key_codes, pair_cosines, row_score_order, type_name_vectors
from core.blocking.report import BlockingReport, SourceStats, TypeBlockingStats
from core.data.candidates import CandidatePairs, pair_keys
from core.data.dataset import AlignmentDataset
from core.data.kg import KnowledgeGraph
from core.data.links import Split
from core.data.sets import isin, locate, unique
from core.matching.label_propagation import LabelPropagationConfig, cached_alignment, propagation_fits, ranked_densely
from core.matching.propagation import (AnchorProfiles, StructuralCandidates, anchor_profiles, combined_profile,
                                       structural_candidates)

__all__ = ["SOURCES", "Anchors", "anchor_links", "graph_adjacency", "side_profiles", "label_candidates",
           "embedding_candidates", "union_candidates"]

#: Candidate sources, in the order they are reported; "union" is the candidates kept.
SOURCES = ("name", "structure", "embedding")


@dataclass(frozen=True, eq=False)
class Anchors:
    """Known links used as anchors: parallel (left, right) entity arrays, one row per link."""

    left: np.ndarray
    right: np.ndarray

    def __len__(self) -> int:
        return len(self.left)


def anchor_links(dataset: AlignmentDataset, extra: tuple[np.ndarray, np.ndarray] | None = None) -> Anchors:
    """TRAIN positive links plus ``extra`` (accepted labels: (left, right) arrays), each pair once.

    VALID and TEST links are never anchors: they measure what the anchors find.
    """
    train = dataset.links.positives().in_split(Split.TRAIN)
    left, right = [train.left.astype(np.int64)], [train.right.astype(np.int64)]
    if extra is not None:
        left.append(np.asarray(extra[0], dtype=np.int64))
        right.append(np.asarray(extra[1], dtype=np.int64))
    left, right = np.concatenate(left), np.concatenate(right)
    _, first = np.unique(pair_keys(left, right, dataset.right.n_entities), return_index=True)
    first = np.sort(first)
    return Anchors(left[first], right[first])


def graph_adjacency(kg: KnowledgeGraph) -> sp.csr_matrix:
    """(n, n) binary adjacency of every triple of the graph, relations merged (direction is added by the walk)."""
    n = kg.n_entities
    ones = np.ones(len(kg.heads))
    return sp.csr_matrix((ones, (np.asarray(kg.heads, dtype=np.int64), np.asarray(kg.tails, dtype=np.int64))),
                         shape=(n, n))


def side_profiles(dataset: AlignmentDataset, anchors: Anchors, *, hops: int = 2, threads: int = 2
                  ) -> tuple[AnchorProfiles, AnchorProfiles]:
    """(left, right) anchor profiles over each graph's triples; column k is anchor link k on both sides.

    The two sides' walks are independent sparse products (SciPy releases the GIL in them), so
    with ``threads`` > 1 they run side by side: on the 2.7M-node pair each side's walk takes
    about 15 s.
    """
    def side(kg, side_anchors) -> AnchorProfiles:
        return anchor_profiles([graph_adjacency(kg)], side_anchors, n_entities=kg.n_entities, hops=hops)

    if threads < 2:
        return side(dataset.left, anchors.left), side(dataset.right, anchors.right)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        left = pool.submit(side, dataset.left, anchors.left)
        right = pool.submit(side, dataset.right, anchors.right)
        return left.result(), right.result()


def label_candidates(dataset: AlignmentDataset, anchors: Anchors, top_k: int) -> StructuralCandidates:
    """Each left entity's ``top_k`` right entities (same aligned type) by label-propagation similarity.

    The alignment is the one the matcher's features use for the same anchors (computed once per
    process, :func:`~core.matching.label_propagation.cached_alignment`); only pairs of positive
    similarity, best first per left entity.
    """
    alignment = cached_alignment(dataset, anchors.left, anchors.right,
                                 LabelPropagationConfig(top_k=max(LabelPropagationConfig.top_k, top_k)))
    if alignment is None:  # too large to propagate: no candidates from here
        empty = np.zeros(0, dtype=np.int64)
        return StructuralCandidates(empty, empty, np.zeros(0))
    left = alignment.candidate_left
    run_start = np.flatnonzero(np.r_[True, left[1:] != left[:-1]]) if len(left) else np.zeros(0, dtype=np.int64)
    rank = np.arange(len(left)) - np.repeat(run_start, np.diff(np.r_[run_start, len(left)]))
    keep = rank < top_k
    return StructuralCandidates(left[keep], alignment.candidate_right[keep], alignment.candidate_similarity[keep])


def _of_rows(found: StructuralCandidates, left_rows: np.ndarray) -> StructuralCandidates:
    keep = isin(found.left, left_rows)
    return StructuralCandidates(found.left[keep], found.right[keep], found.similarity[keep])


def embedding_candidates(left_embeddings: np.ndarray, right_embeddings: np.ndarray, top_k: int, *,
                         left_rows: np.ndarray | None = None, right_rows: np.ndarray | None = None,
                         chunk: int = 2048) -> StructuralCandidates:
    """Each left entity's ``top_k`` right entities by cosine of their embedding rows.

    Parameters
    ----------
    left_embeddings, right_embeddings : (n_left, d) and (n_right, d) float arrays
        One row per entity of each graph (NumPy, on the host: never a GPU tensor), e.g. a trained
        model's per-entity output. Rows are L2-normalised here; a zero row matches nothing.
    top_k : int
    left_rows, right_rows : int arrays, optional
        Restrict to these entities (one aligned type); returned indices are entity indices.
    chunk : int
        Left rows per dense block: memory is ``chunk x len(right_rows)`` floats.

    Returns
    -------
    StructuralCandidates
        Best first per left entity; only pairs of positive cosine.

    Examples
    --------
    >>> left = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> right = np.array([[0.0, 2.0], [3.0, 0.1]])
    >>> c = embedding_candidates(left, right, 1)
    >>> c.left.tolist(), c.right.tolist()
    ([0, 1], [1, 0])
    """
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    left_embeddings = np.asarray(left_embeddings, dtype=np.float32)
    right_embeddings = np.asarray(right_embeddings, dtype=np.float32)
    if left_embeddings.ndim != 2 or right_embeddings.ndim != 2 or left_embeddings.shape[1] != right_embeddings.shape[1]:
        raise ValueError(f"embeddings must be (n, d) on both sides with the same d, got {left_embeddings.shape} "
                         f"and {right_embeddings.shape}")
    left_rows = np.arange(len(left_embeddings)) if left_rows is None else np.asarray(left_rows, dtype=np.int64)
    right_rows = np.arange(len(right_embeddings)) if right_rows is None else np.asarray(right_rows, dtype=np.int64)
    empty = np.zeros(0, dtype=np.int64)
    if len(left_rows) == 0 or len(right_rows) == 0:
        return StructuralCandidates(empty, empty, np.zeros(0))
    right = _unit_rows(right_embeddings[right_rows])
    k = min(top_k, len(right_rows))
    lefts, rights, sims = [], [], []
    for start in range(0, len(left_rows), chunk):
        rows = left_rows[start:start + chunk]
        sim = _unit_rows(left_embeddings[rows]) @ right.T
        top = np.argpartition(-sim, k - 1, axis=1)[:, :k] if k < sim.shape[1] else np.tile(np.arange(k), (len(rows), 1))
        top_sim = np.take_along_axis(sim, top, axis=1)
        order = np.argsort(-top_sim, axis=1, kind="stable")
        top, top_sim = np.take_along_axis(top, order, axis=1), np.take_along_axis(top_sim, order, axis=1)
        keep = top_sim > 0
        lefts.append(np.repeat(rows, keep.sum(axis=1)))
        rights.append(right_rows[top[keep]])
        sims.append(top_sim[keep].astype(np.float64))
    return StructuralCandidates(np.concatenate(lefts), np.concatenate(rights), np.concatenate(sims))


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def _key_conflict(dataset: AlignmentDataset, type_index: int, key: str | None, left: np.ndarray,
                  right: np.ndarray) -> np.ndarray:
    """Whether each pair's exact keys are both present and differ (name blocking's rule)."""
    if key is None or len(left) == 0:
        return np.zeros(len(left), dtype=bool)
    column = {c.name: (c.left, c.right) for c in dataset.schema.attributes}[key]
    left_codes, right_codes = key_codes(dataset.left.attributes[column[0]].iloc[left].reset_index(drop=True),
                                        dataset.right.attributes[column[1]].iloc[right].reset_index(drop=True))
    return (left_codes >= 0) & (right_codes >= 0) & (left_codes != right_codes)


def _source_stats(source: str, keys: np.ndarray, gold_keys: np.ndarray, held_out_keys: np.ndarray) -> SourceStats:
    """One source's counts from its distinct pair keys, sorted (looked up, not sorted again: a type's
    keys run to millions at scale, and every count would otherwise sort them anew)."""
    return SourceStats(source=source, n_candidates=len(keys), gold_kept=int(locate(keys, gold_keys)[0].sum()),
                       held_out_kept=int(locate(keys, held_out_keys)[0].sum()))


def union_candidates(dataset: AlignmentDataset, name_candidates: CandidatePairs, name_report: BlockingReport, *,
                     config: BlockingConfig | None = None, extra_anchors: tuple[np.ndarray, np.ndarray] | None = None,
                     embeddings: tuple[np.ndarray, np.ndarray] | None = None
                     ) -> tuple[CandidatePairs, BlockingReport]:
    """Name candidates joined with structure (and embedding) candidates per type, with per-source stats.

    Parameters
    ----------
    dataset : AlignmentDataset
    name_candidates, name_report : the output of name blocking
    config : BlockingConfig, optional
        ``structure_top_k`` (0: no structure source), ``embedding_top_k``
        (used only with ``embeddings``), ``keys``, ``ngram_range``. Default: the name report's.
    extra_anchors : (left, right) int arrays, optional
        Accepted labels, anchors beside the TRAIN links.
    embeddings : (left (n_left, d), right (n_right, d)) arrays, optional
        Per-entity vectors of a trained model; None: no embedding source.

    Returns
    -------
    (candidates, report)
        Candidates sorted by type, left entity and decreasing ``name_score`` (the names' TF-IDF
        cosine, computed for every added pair); the report's per-type stats describe the union,
        and their ``sources`` give each source's own pairs and kept matches.
    """
    config = config or name_report.config
    anchors = anchor_links(dataset, extra_anchors)
    by_labels = label_candidates(dataset, anchors, config.structure_top_k) \
        if config.structure_top_k > 0 and len(anchors) else None
    use_embeddings = embeddings is not None and config.embedding_top_k > 0
    propagated = propagation_fits(dataset)
    profiles = []

    def profile_candidates(left_rows: np.ndarray, right_rows: np.ndarray) -> StructuralCandidates:
        """A type too large for the dense label ranking: anchor-profile cosine, sparse (the older source)."""
        if not profiles:
            left_profiles, right_profiles = side_profiles(dataset, anchors, hops=config.structure_hops,
                                                          threads=config.n_threads)
            profiles.extend([combined_profile(left_profiles), combined_profile(right_profiles)])
        return structural_candidates(*profiles, config.structure_top_k, left_rows=left_rows, right_rows=right_rows,
                                     n_threads=config.n_threads if config.n_threads > 1 else None,
                                     hub_share=config.structure_hub_share or None)

    n_right = dataset.right.n_entities
    gold = dataset.gold_pairs()
    anchor_keys = pair_keys(anchors.left, anchors.right, n_right)
    parts, stats = [], []
    for type_stats, type_index in zip(name_report.per_type, range(len(dataset.schema.types))):
        start = time.perf_counter()
        names = name_candidates.of_type(type_index)
        left_entities, right_entities = dataset.entities_of_aligned_type(type_index)
        type_gold = gold.of_type(type_index)
        gold_keys = pair_keys(type_gold.left, type_gold.right, n_right)
        held_out_keys = gold_keys[~isin(gold_keys, anchor_keys)]
        name_keys = unique(names.pair_keys(n_right))
        sources = [_source_stats("name", name_keys, gold_keys, held_out_keys)]
        extra_keys = []
        for source, found in (("structure", None if by_labels is None else
                               _of_rows(by_labels, left_entities) if propagated and ranked_densely(len(left_entities),
                                                                                                   len(right_entities))
                               else profile_candidates(left_entities, right_entities)),
                              ("embedding", None if not use_embeddings else embedding_candidates(
                                  *embeddings, config.embedding_top_k, left_rows=left_entities,
                                  right_rows=right_entities))):
            if found is None:
                continue
            ok = ~_key_conflict(dataset, type_index, type_stats.key, found.left, found.right)
            extra_keys.append(unique(pair_keys(found.left[ok], found.right[ok], n_right)))
            sources.append(_source_stats(source, extra_keys[-1], gold_keys, held_out_keys))
        pairs, added_keys = _join(dataset, type_index, names, name_keys, extra_keys, left_entities, right_entities,
                                  config)
        parts.append(pairs)
        union_keys = np.sort(np.concatenate([name_keys, added_keys]), kind="stable")  # two sorted runs: a merge
        stats.append(_union_stats(type_stats, pairs, union_keys, left_entities, sources, gold_keys, held_out_keys,
                                  type_stats.seconds + time.perf_counter() - start))
    return CandidatePairs.concat(parts), BlockingReport(tuple(stats), config)


def _join(dataset: AlignmentDataset, type_index: int, names: CandidatePairs, name_keys: np.ndarray,
          extra_keys: list[np.ndarray], left_entities: np.ndarray, right_entities: np.ndarray,
          config: BlockingConfig) -> tuple[CandidatePairs, np.ndarray]:
    """(the name pairs plus the new pairs of the other sources, each once, sorted as name blocking
    sorts; the added pairs' keys, sorted). ``name_keys`` and each of ``extra_keys`` are sorted distinct keys."""
    n_right = dataset.right.n_entities
    if not extra_keys:
        return names, np.zeros(0, dtype=np.int64)
    keys = unique(np.concatenate(extra_keys)) if len(extra_keys) > 1 else extra_keys[0]
    keys = keys[~locate(name_keys, keys)[0]]
    left, right = keys // n_right, keys % n_right
    scores = np.zeros(len(keys), dtype=np.float32)
    if len(keys):
        left_vectors, right_vectors = type_name_vectors(dataset, type_index, config)
        if left_vectors.shape[1]:
            scores = pair_cosines(left_vectors, right_vectors, np.searchsorted(left_entities, left),
                                  np.searchsorted(right_entities, right)).astype(np.float32)
    added = CandidatePairs(left.astype(np.int64), right.astype(np.int64), np.full(len(keys), type_index, dtype=np.int32),
                           scores)
    joined = CandidatePairs.concat([names, added])
    order = row_score_order(joined.left, joined.name_score)
    return joined.select(order), keys


def _union_stats(name_stats: TypeBlockingStats, pairs: CandidatePairs, keys: np.ndarray, left_entities: np.ndarray,
                 sources: list[SourceStats], gold_keys: np.ndarray, held_out_keys: np.ndarray,
                 seconds: float) -> TypeBlockingStats:
    """The type's stats recomputed on the union (``keys``: its pair keys, sorted), with the per-source records."""
    per_left = np.bincount(np.searchsorted(left_entities, pairs.left), minlength=len(left_entities))
    return replace(name_stats, n_candidates=len(pairs),
                   candidates_per_left=float(per_left.mean()) if len(per_left) else 0.0,
                   max_candidates_per_left=int(per_left.max()) if len(per_left) else 0,
                   left_without_candidates=int((per_left == 0).sum()),
                   gold_kept=int(locate(keys, gold_keys)[0].sum()), seconds=seconds,
                   n_held_out=len(held_out_keys), held_out_kept=int(locate(keys, held_out_keys)[0].sum()),
                   sources=tuple(sources))
