"""Derive links for a neighbour type from the matched rows it hangs off.

Benchmarks such as DBLP-ACM give matches for papers only, but multi-type alignment wants labels
for authors too. Two matched papers share their authors, so each matched paper pair proposes
author pairs: the two author lists are compared by name (rapidfuzz token-sort ratio) and mutual
best matches above ``min_similarity`` become votes. Votes are summed over all matched papers and
resolved one-to-one, most-supported first.

These links are *derived*, not gold: :class:`DerivedLinksReport` says how many rest on identical
names, on compatible names (same family name and first initial), or on neither, which is the
estimate of their precision that a report must state next to any figure computed from them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from core.data.dataset import AlignmentDataset
from core.data.links import Links, random_split_codes


@dataclass(frozen=True)
class DerivedLinksReport:
    n_links: int
    identical_names: int
    compatible_names: int  # same last token and same first initial, not identical
    other: int
    supporting_rows: float  # mean number of matched rows voting for a link

    @property
    def estimated_precision(self) -> float:
        """Share of links whose names are identical or compatible (the others are counted as wrong)."""
        return (self.identical_names + self.compatible_names) / self.n_links if self.n_links else float("nan")


def derive_neighbour_links(dataset: AlignmentDataset, row_type: str, neighbour_type: str, *,
                           min_similarity: float = 80.0, seed: int = 0) -> tuple[Links, DerivedLinksReport]:
    """Links of ``neighbour_type`` voted by the gold links of ``row_type``, split 60/20/20 (seeded)."""
    schema = dataset.schema
    row_t, nb_t = schema.type_index(row_type), schema.type_index(neighbour_type)
    left_nb = dataset.entities_of_aligned_type(nb_t)[0]
    right_nb = dataset.entities_of_aligned_type(nb_t)[1]
    is_left_nb = np.zeros(dataset.left.n_entities, bool)
    is_left_nb[left_nb] = True
    is_right_nb = np.zeros(dataset.right.n_entities, bool)
    is_right_nb[right_nb] = True
    gold = dataset.gold_pairs().of_type(row_t)
    votes: dict[tuple[int, int], list[float]] = {}
    for lp, rp in zip(gold.left, gold.right):
        ln, _ = dataset.left.adjacency.neighbours_of(int(lp))
        rn, _ = dataset.right.adjacency.neighbours_of(int(rp))
        ln, rn = np.unique(ln[is_left_nb[ln]]), np.unique(rn[is_right_nb[rn]])
        if not len(ln) or not len(rn):
            continue
        sim = process.cdist([str(dataset.left.names[a]).lower() for a in ln],
                            [str(dataset.right.names[b]).lower() for b in rn], scorer=fuzz.token_sort_ratio)
        best_r, best_l = sim.argmax(axis=1), sim.argmax(axis=0)
        for i, j in enumerate(best_r):
            if best_l[j] == i and sim[i, j] >= min_similarity:
                votes.setdefault((int(ln[i]), int(rn[j])), []).append(float(sim[i, j]))
    ranked = sorted(votes.items(), key=lambda kv: (-len(kv[1]), -float(np.mean(kv[1])), kv[0]))
    taken_l, taken_r, pairs, support = set(), set(), [], []
    for (a, b), v in ranked:
        if a not in taken_l and b not in taken_r:
            taken_l.add(a), taken_r.add(b), pairs.append((a, b)), support.append(len(v))
    left = np.array([a for a, _ in pairs], dtype=np.int64)
    right = np.array([b for _, b in pairs], dtype=np.int64)
    rng = np.random.default_rng(seed)
    links = Links(left, right, np.full(len(pairs), nb_t, dtype=np.int32), np.ones(len(pairs), dtype=np.int8),
                  random_split_codes(len(pairs), rng).astype(np.int8))
    identical = compatible = 0
    for a, b in pairs:
        x, y = str(dataset.left.names[a]).lower().split(), str(dataset.right.names[b]).lower().split()
        if x == y:
            identical += 1
        elif x and y and x[-1] == y[-1] and x[0][:1] == y[0][:1]:
            compatible += 1
    report = DerivedLinksReport(len(pairs), identical, compatible, len(pairs) - identical - compatible,
                                float(np.mean(support)) if support else 0.0)
    return links, report


def with_links(dataset: AlignmentDataset, extra: Links) -> AlignmentDataset:
    """The dataset with ``extra`` links appended (the graphs are shared, not copied)."""
    links = dataset.links
    merged = Links(*(np.concatenate([getattr(links, f), getattr(extra, f)]) for f in ("left", "right", "type", "label", "split")))
    return AlignmentDataset(dataset.left, dataset.right, dataset.schema, merged, dataset.name)
