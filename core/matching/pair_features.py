"""The evidence on candidate pairs of a dataset: one FeatureBlock from names, attributes, structure and the GNN.

This module turns an :class:`~core.data.dataset.AlignmentDataset` and N (left, right) entity
pairs into the columns the combiner learns from, by calling the building blocks of this package
on the dataset's own arrays:

* **name**: every string comparison of the two display names (group ``"name"``).
* **attributes**: every attribute the schema aligns, compared by its value kind, which comes from
  the knowledge graphs' column dtypes (number, date, text); one group per attribute,
  ``"attr:<aligned name>"``. The user's overrides (:func:`comparison_specs`) switch comparisons
  off or on. A type that has no value for an attribute gets NaN similarities and the
  ``missing_on_both`` flag, so one matcher serves every aligned type.
* **structure** (group ``"structure"``): the anchor-profile cosines of
  :mod:`~core.matching.propagation` (hops 1..2; anchors are known links, each pair blind to its
  own), and per aligned relation the Jaccard of normalised neighbour names and the cosine of the
  neighbours' summed character 3-gram TF-IDF name vectors (a fuzzy version that still scores
  "J. Smith" against "John Smith": the authors of two papers, the artist of two songs).
* **gnn**: the CG-MuAlign distance of each pair, when a distance callable is given.

Work is split into the part that does not depend on anchors (:func:`static_pair_features`,
computed once) and the part that does (:func:`anchor_pair_features`, recomputed when iteration
adds anchors). No label is read here: which pairs are anchors is the caller's decision.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from core.data.candidates import pair_keys
from core.data.dataset import AlignmentDataset
from core.matching.comparisons import (
    NAME_ATTRIBUTE,
    ComparisonSpec,
    apply_comparison_overrides,
    compare_attributes,
    default_spec,
    normalise_text,
    parse_comparison_overrides,
)
from core.matching.feature_block import FeatureBlock, concat_blocks
from core.matching.propagation import (
    STRUCTURE_GROUP,
    AnchorProfiles,
    anchor_profiles,
    keep_largest_per_row,
    neighbour_name_features,
)
from core.matching.memo import IdentityMemo, LastPairs
from core.matching.sparse_rows import pair_rows_cosine, pair_rows_dot

__all__ = [
    "ATTRIBUTE_PREFIX",
    "GNN_GROUP",
    "GnnDistance",
    "attribute_group",
    "comparison_specs",
    "aligned_adjacencies",
    "static_pair_features",
    "StructureContext",
    "structure_context",
    "anchor_pair_features",
    "own_anchor_free_cosine",
    "gnn_pair_features",
    "build_pair_features",
]

#: Group (and column prefix) of an aligned attribute: ``"attr:year"``; keeps an attribute called
#: "name" apart from the display name.
ATTRIBUTE_PREFIX = "attr:"
GNN_GROUP = "gnn"

#: (left entity indices, right entity indices) -> distance per pair, lower = closer.
GnnDistance = Callable[[np.ndarray, np.ndarray], np.ndarray]


def attribute_group(aligned_name: str) -> str:
    """The group/column prefix of an aligned attribute (``"year"`` -> ``"attr:year"``)."""
    return f"{ATTRIBUTE_PREFIX}{aligned_name}"


# --------------------------------------------------------------------------------------------
# Which comparisons
# --------------------------------------------------------------------------------------------


def _attribute_kind(dataset: AlignmentDataset, left_column: str, right_column: str) -> str:
    """The comparison kind of an aligned attribute: its dtype kind, or text when the sides disagree.

    A schema may pair a number or a date with text (one source stores "1999" as a string); such
    values are compared as strings, which both sides can become.
    """
    kinds = {dataset.left.attribute_kind(left_column), dataset.right.attribute_kind(right_column)}
    return kinds.pop() if len(kinds) == 1 else "text"


def comparison_specs(dataset: AlignmentDataset, overrides: Mapping | None = None,
                     *, use_attributes: bool = True) -> tuple[ComparisonSpec, ...]:
    """Default comparisons for the name and every aligned attribute, with the user's overrides.

    Parameters
    ----------
    dataset : AlignmentDataset
        The schema's aligned attributes and the graphs' column dtypes decide the kinds.
    overrides : mapping, optional
        The ``comparisons`` object of the schema/mapping JSON, keyed by ``"name"`` or an aligned
        attribute name (see :func:`~core.matching.comparisons.parse_comparison_overrides`), e.g.
        ``{"year": {"off": ["relative_difference"]}, "name": {"off": ["length_ratio"]}}``.
    use_attributes : bool
        False: the name spec only.

    Raises
    ------
    ValueError
        An override that does not parse, or names an attribute the schema does not align, or a
        schema attribute whose column is missing from a graph.
    """
    specs = [default_spec(NAME_ATTRIBUTE, "string")]
    if use_attributes:
        for c in dataset.schema.attributes:
            for side, kg, column in (("left", dataset.left, c.left), ("right", dataset.right, c.right)):
                if column not in kg.attributes.columns:
                    raise ValueError(f"schema attribute {c.name!r}: the {side} graph has no column {column!r}; "
                                     f"its columns: {list(kg.attributes.columns)}")
            specs.append(default_spec(attribute_group(c.name), _attribute_kind(dataset, c.left, c.right),
                                      left_column=c.left, right_column=c.right))
    if not overrides:
        return tuple(specs)
    parsed = parse_comparison_overrides(overrides)
    renamed = {(a if a == NAME_ATTRIBUTE else attribute_group(a)): o for a, o in parsed.items()}
    if not use_attributes:
        renamed = {a: o for a, o in renamed.items() if a == NAME_ATTRIBUTE}
    return apply_comparison_overrides(specs, renamed)


# --------------------------------------------------------------------------------------------
# Anchor-free evidence
# --------------------------------------------------------------------------------------------


_WHOLE_GRAPH = IdentityMemo(size=8)  # adjacencies and neighbour name vectors, per graph (see core.matching.memo)


def aligned_adjacencies(dataset: AlignmentDataset) -> tuple[dict[str, sp.csr_matrix], dict[str, sp.csr_matrix]]:
    """(left, right) adjacency per aligned relation, keyed by the aligned relation name.

    A relation the schema aligns but a graph lacks gets an empty matrix on that side. Built once
    per pair of graphs and schema in a process (the same matrices each call: treat them as read-only).
    """
    return _WHOLE_GRAPH.get((dataset.left, dataset.right, dataset.schema), "adjacencies",
                            lambda: _aligned_adjacencies(dataset))


def _aligned_adjacencies(dataset: AlignmentDataset) -> tuple[dict[str, sp.csr_matrix], dict[str, sp.csr_matrix]]:
    out = []
    for side, kg in (("left", dataset.left), ("right", dataset.right)):
        n = kg.n_entities
        matrices = {}
        for c in dataset.schema.relations:
            name = getattr(c, side)
            sel = (np.asarray(kg.relations) == kg.relation_names.index(name)) if name in kg.relation_names \
                else np.zeros(len(kg.relations), dtype=bool)
            matrices[c.name] = sp.csr_matrix((np.ones(int(sel.sum())), (np.asarray(kg.heads)[sel],
                                                                         np.asarray(kg.tails)[sel])), shape=(n, n))
        out.append(matrices)
    return out[0], out[1]


def _attribute_values(dataset: AlignmentDataset, specs, left: np.ndarray, right: np.ndarray):
    """Per spec, the left and right values of each pair, and the TF-IDF corpus of string specs."""
    left_values, right_values, corpora = {}, {}, {}
    for spec in specs:
        if spec.attribute == NAME_ATTRIBUTE:
            lv, rv = np.asarray(dataset.left.names, dtype=object), np.asarray(dataset.right.names, dtype=object)
        else:
            lv = dataset.left.attributes[spec.left_column].to_numpy()
            rv = dataset.right.attributes[spec.right_column].to_numpy()
            if spec.kind.value == "string":  # a number or date paired with text: compare the text
                lv, rv = _as_text(lv), _as_text(rv)
        left_values[spec.attribute], right_values[spec.attribute] = lv[left], rv[right]
        if spec.kind.value == "string":
            corpora[spec.attribute] = pd.unique(np.concatenate([lv, rv]).astype(object))
    return left_values, right_values, corpora


def _as_text(values: np.ndarray) -> np.ndarray:
    if np.issubdtype(values.dtype, np.datetime64):
        series = pd.Series(values)
        return series.dt.strftime("%Y-%m-%d").where(series.notna(), None).to_numpy(dtype=object)
    return values.astype(object)


def _neighbour_text_vectors(adjacency: sp.csr_matrix, name_vectors: sp.csr_matrix,
                            entities: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    """(vectors, row of each entity): the neighbours' name vectors summed (either direction, repeated triples once).

    One row per distinct entity, computed from the rows gathered before the product, so the
    cost follows the pairs' entities, not the graph nor the number of pairs.
    """
    binary = sp.csr_matrix((adjacency != 0).astype(np.float64))
    both = sp.csr_matrix(binary + binary.T)
    both.data[:] = 1.0  # a triple listed in both directions is still one neighbour
    unique, inverse = np.unique(entities, return_inverse=True)
    return sp.csr_matrix(both[unique] @ name_vectors), inverse.reshape(-1)


def neighbour_text_cosines(left_adjacencies: Mapping[str, sp.csr_matrix], right_adjacencies: Mapping[str, sp.csr_matrix],
                           left_names: np.ndarray, right_names: np.ndarray, left: np.ndarray, right: np.ndarray,
                           *, group: str = STRUCTURE_GROUP) -> FeatureBlock:
    """Columns ``structure.{relation}.neighbour_text_cosine``: fuzzy overlap of neighbour names.

    The neighbours' character 3-gram TF-IDF name vectors (one vocabulary and IDF for both sides)
    are summed per entity and relation; the column is the cosine of the two sums, NaN where an
    entity has no named neighbour along the relation. Unlike the Jaccard of exact names it
    credits spelling variants and abbreviations ("J. Smith", "John Smith").
    """
    relations = list(left_adjacencies)
    vectors = _WHOLE_GRAPH.get((left_names, right_names), "name vectors",
                               lambda: _name_vectors(left_names, right_names)) if relations else None
    if vectors is None:
        return FeatureBlock((), (), np.zeros((len(left), 0)))
    left_vectors, right_vectors = vectors
    columns = []
    for r in relations:
        lv, left_rows = _neighbour_text_vectors(left_adjacencies[r], left_vectors, np.asarray(left))
        rv, right_rows = _neighbour_text_vectors(right_adjacencies[r], right_vectors, np.asarray(right))
        columns.append(pair_rows_cosine(lv, rv, left_rows, right_rows))
    names = tuple(f"{group}.{r}.neighbour_text_cosine" for r in relations)
    return FeatureBlock(names, (group,) * len(names), np.column_stack(columns))


def _name_vectors(left_names: np.ndarray, right_names: np.ndarray) -> tuple[sp.csr_matrix, sp.csr_matrix] | None:
    """Every entity's character 3-gram TF-IDF name vector (one vocabulary for both sides); None without names."""
    left_text, _ = normalise_text(left_names)
    right_text, _ = normalise_text(right_names)
    corpus = [t for t in pd.unique(np.concatenate([left_text, right_text])) if t]
    if not corpus:
        return None
    vectoriser = TfidfVectorizer(lowercase=False, analyzer="char_wb", ngram_range=(3, 3), dtype=np.float64).fit(corpus)
    return vectoriser.transform(list(left_text)), vectoriser.transform(list(right_text))


#: Pairs up to which the last static block is kept for the next call (about 50 float64 columns:
#: 200 MB at this size). ``mualign train`` asks for the fit's pairs (every candidate and the labelled
#: pairs, on a project this small) and then for every candidate again to score them.
STATIC_MEMO_PAIRS = 500_000
_LAST_STATIC = LastPairs()


def static_pair_features(dataset: AlignmentDataset, left: np.ndarray, right: np.ndarray, *,
                         specs: tuple[ComparisonSpec, ...], use_structure: bool = True) -> FeatureBlock:
    """Evidence that needs no anchors: name and attribute comparisons, neighbour-name overlap.

    Each pair's columns depend on that pair alone, so a call for pairs that the previous call
    (same dataset object, same specs) computed takes their rows from it: on DBLP-ACM this is the
    scoring pass of ``mualign train`` after the matcher's fit. Only a block of at most
    :data:`STATIC_MEMO_PAIRS` pairs is kept, and a new one replaces it.

    Parameters
    ----------
    dataset : AlignmentDataset
    left, right : (N,) int arrays
        Entity indices of each pair.
    specs : tuple of ComparisonSpec
        From :func:`comparison_specs` (the name spec first).
    use_structure : bool
        Add the per-relation neighbour-name columns (none when the schema aligns no relation).

    Returns
    -------
    FeatureBlock
        Columns of every spec, then ``structure.{relation}.neighbour_name_jaccard`` and
        ``...neighbour_text_cosine`` per aligned relation.
    """
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    keys = pair_keys(left, right, dataset.right.n_entities)
    settings = (specs, use_structure)
    held = _LAST_STATIC.rows(dataset, settings, keys)
    if held is not None:
        return held[0].select_rows(held[1])
    _LAST_STATIC.clear()  # the old block is not held while the new one is computed
    left_values, right_values, corpora = _attribute_values(dataset, specs, left, right)
    blocks = [compare_attributes(specs, left_values, right_values, corpora=corpora)]
    if use_structure and dataset.schema.relations:
        left_adj, right_adj = aligned_adjacencies(dataset)
        names = (np.asarray(dataset.left.names, dtype=object), np.asarray(dataset.right.names, dtype=object))
        blocks.append(neighbour_name_features(left_adj, right_adj, *names, left, right))
        blocks.append(neighbour_text_cosines(left_adj, right_adj, *names, left, right))
    block = concat_blocks(blocks)
    _LAST_STATIC.keep(dataset, settings, keys, block, limit=STATIC_MEMO_PAIRS)
    return block


# --------------------------------------------------------------------------------------------
# Anchor evidence
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class StructureContext:
    """Both sides' aligned adjacencies, built once and reused for every set of anchors."""

    left_adjacencies: tuple[sp.csr_matrix, ...]
    right_adjacencies: tuple[sp.csr_matrix, ...]
    n_left: int
    n_right: int
    hops: int = 2
    max_profile_entries: int | None = 64
    #: (left, right) adjacency of every triple, relations merged; only when some triple lies outside
    #: the aligned relations (DBP15K aligns 75 of ~1,000 relation names by name: the aligned view
    #: alone sees a fraction of the edges, and its cosine ranks a TEST match first 8% of the time)
    graph_adjacencies: tuple[sp.csr_matrix, sp.csr_matrix] | None = None

    def profiles(self, anchor_left: np.ndarray, anchor_right: np.ndarray, *,
                 graph: bool = False) -> tuple[AnchorProfiles, AnchorProfiles]:
        """Anchor profiles of both sides for these anchor links (column k = link k on both sides).

        Each entity keeps its ``max_profile_entries`` heaviest anchors per hop (None: all). A hub
        (a venue with 500 papers) otherwise gives every paper hundreds of near-zero hop-2
        entries that carry almost no weight in a cosine yet dominate its cost; the heavy
        entries (anchors reached through a co-author) are the evidence.

        The profiles of the last few anchor sets are kept (see :data:`PROFILE_MEMO_ENTRIES`): the
        matcher's fit, its scoring pass over every candidate and the labelled pairs outside them
        each start from the same known anchors, and the walk is most of a round's anchor columns.
        """
        if graph and self.graph_adjacencies is None:
            raise ValueError("this structure context has no whole-graph view (every triple is in an aligned relation)")
        anchor_left = np.asarray(anchor_left, dtype=np.int64)
        anchor_right = np.asarray(anchor_right, dtype=np.int64)
        key = (anchor_left.tobytes(), anchor_right.tobytes(), graph, self.hops, self.max_profile_entries,
               self.n_left, self.n_right)
        inputs = self.left_adjacencies + self.right_adjacencies  # memoised per graph: one object each
        held = _PROFILES.find(inputs, key)
        if held is not None:
            return held
        profiles = self._walk(anchor_left, anchor_right, graph)
        if sum(int(m.nnz) for side in profiles for m in side.by_hop) <= PROFILE_MEMO_ENTRIES:
            _PROFILES.put(inputs, key, profiles)
        return profiles

    def _walk(self, anchor_left: np.ndarray, anchor_right: np.ndarray, graph: bool
              ) -> tuple[AnchorProfiles, AnchorProfiles]:
        out = []
        left_adjacencies, right_adjacencies = (((self.graph_adjacencies[0],), (self.graph_adjacencies[1],)) if graph
                                               else (self.left_adjacencies, self.right_adjacencies))
        for adjacencies, anchors, n in ((left_adjacencies, anchor_left, self.n_left),
                                        (right_adjacencies, anchor_right, self.n_right)):
            profiles = anchor_profiles(adjacencies, anchors, n_entities=n, hops=self.hops)
            if self.max_profile_entries is not None:
                profiles = AnchorProfiles((profiles.by_hop[0],) + tuple(
                    keep_largest_per_row(sp.csr_matrix(p), self.max_profile_entries) for p in profiles.by_hop[1:]))
            out.append(profiles)
        return out[0], out[1]


#: Profile entries (both sides, every hop) up to which an anchor set's profiles are kept for the next
#: call (20M: about 240 MB); a large graph's profiles are walked anew rather than held.
PROFILE_MEMO_ENTRIES = 20_000_000
_PROFILES = IdentityMemo(size=3)


def structure_context(dataset: AlignmentDataset, *, hops: int = 2,
                      max_profile_entries: int | None = 64) -> StructureContext | None:
    """The walk's inputs for this dataset; None when the schema aligns no relation (no structure)."""
    if not dataset.schema.relations:
        return None
    left_adj, right_adj = aligned_adjacencies(dataset)
    return StructureContext(tuple(left_adj.values()), tuple(right_adj.values()),
                            dataset.left.n_entities, dataset.right.n_entities, hops, max_profile_entries,
                            _graph_view(dataset, left_adj, right_adj))


def _graph_view(dataset: AlignmentDataset, left_adj: Mapping[str, sp.csr_matrix],
                right_adj: Mapping[str, sp.csr_matrix]) -> tuple[sp.csr_matrix, sp.csr_matrix] | None:
    """Both graphs' triples with relations merged, or None when the aligned relations hold them all."""
    aligned_edges = sum(int(m.nnz) for m in left_adj.values()) + sum(int(m.nnz) for m in right_adj.values())
    out = []
    for kg in (dataset.left, dataset.right):
        n = kg.n_entities
        out.append(sp.csr_matrix((np.ones(len(kg.heads)), (np.asarray(kg.heads, dtype=np.int64),
                                                          np.asarray(kg.tails, dtype=np.int64))), shape=(n, n)))
    return tuple(out) if sum(int(m.nnz) for m in out) > aligned_edges else None


def anchor_pair_features(context: StructureContext, left: np.ndarray, right: np.ndarray,
                         anchor_left: np.ndarray, anchor_right: np.ndarray) -> FeatureBlock:
    """Columns ``structure.anchor_hop{h}_cosine`` for these anchors, each pair blind to its own anchors.

    Plus ``structure.graph_hop{h}_cosine`` over every triple (relations merged) where the
    context has that view: some relations are not aligned.

    With no anchor at all every value is NaN (no evidence), with the same columns, so a matcher
    fitted with anchors can score a dataset that has none yet.
    """
    links = np.column_stack([np.asarray(anchor_left, dtype=np.int64).reshape(-1),
                             np.asarray(anchor_right, dtype=np.int64).reshape(-1)])
    links = np.unique(links, axis=0)  # a link given twice would count twice in the profiles
    left_profiles, right_profiles = context.profiles(links[:, 0], links[:, 1])
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    hops = range(1, left_profiles.n_hops + 1)
    values = np.column_stack([own_anchor_free_cosine(left_profiles, right_profiles, left, right, hop=h)
                              for h in hops]) if len(hops) else np.zeros((len(left), 0))
    names = tuple(f"{STRUCTURE_GROUP}.anchor_hop{h}_cosine" for h in hops)
    if context.graph_adjacencies is not None:
        graph_left, graph_right = context.profiles(links[:, 0], links[:, 1], graph=True)
        values = np.column_stack([values] + [own_anchor_free_cosine(graph_left, graph_right, left, right, hop=h)
                                             for h in hops])
        names += tuple(f"{STRUCTURE_GROUP}.graph_hop{h}_cosine" for h in hops)
    return FeatureBlock(names, (STRUCTURE_GROUP,) * len(names), values)


def own_anchor_free_cosine(left_profiles: AnchorProfiles, right_profiles: AnchorProfiles, left: np.ndarray,
                           right: np.ndarray, *, hop: int) -> np.ndarray:
    """:func:`~core.matching.propagation.profile_cosine` with own anchors excluded, computed faster.

    Rather than masking each gathered row, the full dot product and the precomputed squared
    norms are corrected by the few entries of the excluded anchors (those that involve the pair's
    own left or right entity): ``dot' = dot - sum_excl L[i,k] R[j,k]`` and
    ``|L'_i|^2 = |L_i|^2 - sum_excl L[i,k]^2``. Same values, one row-wise product instead of
    three, and no sparse subtraction. NaN where either corrected profile is empty.
    """
    profile_left, profile_right = left_profiles.by_hop[hop], right_profiles.by_hop[hop]
    dots = pair_rows_dot(profile_left, profile_right, left, right)
    left_sq = np.asarray(profile_left.multiply(profile_left).sum(axis=1)).ravel()[left]
    right_sq = np.asarray(profile_right.multiply(profile_right).sum(axis=1)).ravel()[right]
    excluded = sp.coo_matrix(left_profiles.by_hop[0][left] + right_profiles.by_hop[0][right])
    if excluded.nnz:
        pair, anchor = excluded.row, excluded.col
        l_values = np.asarray(profile_left[left[pair], anchor]).ravel()
        r_values = np.asarray(profile_right[right[pair], anchor]).ravel()
        n = len(left)
        dots = dots - np.bincount(pair, weights=l_values * r_values, minlength=n)
        left_sq = left_sq - np.bincount(pair, weights=l_values ** 2, minlength=n)
        right_sq = right_sq - np.bincount(pair, weights=r_values ** 2, minlength=n)
    norms = np.sqrt(np.clip(left_sq, 0, None) * np.clip(right_sq, 0, None))
    out = np.full(len(dots), np.nan)
    # rounding can leave a tiny positive norm for a profile whose only entries were excluded
    valid = norms > 1e-12 * np.maximum(1.0, np.abs(dots))
    np.divide(dots, norms, out=out, where=valid)
    return np.clip(out, 0.0, 1.0, out=out, where=valid)


def gnn_pair_features(gnn: GnnDistance, left: np.ndarray, right: np.ndarray) -> FeatureBlock:
    """Column ``gnn.distance`` (lower = closer) from the trained model's distance callable.

    Raises
    ------
    ValueError
        The callable returns the wrong number of values or a non-finite distance.
    """
    distance = np.asarray(gnn(np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)), dtype=np.float64)
    if distance.shape != (len(left),):
        raise ValueError(f"the GNN distance returned shape {distance.shape} for {len(left)} pairs")
    if not np.isfinite(distance).all():
        raise ValueError("the GNN distance returned NaN or infinite values")
    return FeatureBlock((f"{GNN_GROUP}.distance",), (GNN_GROUP,), distance[:, None])


def build_pair_features(dataset: AlignmentDataset, left: np.ndarray, right: np.ndarray, *,
                        specs: tuple[ComparisonSpec, ...] | None = None,
                        anchors: tuple[np.ndarray, np.ndarray] | None = None,
                        use_attributes: bool = True, use_structure: bool = True,
                        gnn: GnnDistance | None = None, hops: int = 2) -> FeatureBlock:
    """Every column for N pairs in one call (the matcher calls the parts separately to reuse them).

    Parameters
    ----------
    specs : optional
        Default: :func:`comparison_specs` of the dataset (attributes only if ``use_attributes``).
    anchors : (anchor_left, anchor_right), optional
        Known links for the anchor profiles; None: no anchor columns.
    gnn : callable, optional
        Adds the ``gnn`` group.
    """
    if specs is None:
        specs = comparison_specs(dataset, use_attributes=use_attributes)
    blocks = [static_pair_features(dataset, left, right, specs=specs, use_structure=use_structure)]
    context = structure_context(dataset, hops=hops) if use_structure else None
    if context is not None and anchors is not None:
        blocks.append(anchor_pair_features(context, left, right, *anchors))
    if gnn is not None:
        blocks.append(gnn_pair_features(gnn, left, right))
    return concat_blocks(blocks)
