"""Analysts' decisions as training links: accepted pairs are matches, rejected ones hard negatives.

Retraining reads the seed links plus every current accept/reject label. A labelled pair becomes a
TRAIN link (label 1 or 0) and replaces whatever the seed links said about that exact pair: the
analyst looked at it, so their word wins. A pair the analyst labelled leaves VALID/TEST with it:
a seed link of that pair moves to TRAIN, and the evaluation harness never judges or ranks a pair
that is a TRAIN link (``core.evaluation.harness``), so a rejected candidate of a VALID or TEST
entity is training data only. The before/after comparison of a retrain, and the Evaluation page,
are therefore made on pairs no analyst has touched.

Rejected pairs were shown because the model ranked them high, so as labelled TRAIN non-matches
they are exactly the hard negatives training draws first (``TrainConfig.labelled_negatives``).

A label that no longer fits the data (an entity id missing after a re-import, or a pair whose
two entities are not of the same aligned type) is reported and left out, never dropped from the
label store.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from core.data.candidates import pair_keys
from core.data.dataset import AlignmentDataset
from core.data.links import Links, Split
from core.formats.native import aligned_types_of_entities


@dataclass(frozen=True)
class AnalystLabel:
    left_id: str
    right_id: str
    is_match: bool


@dataclass(frozen=True)
class LabelMerge:
    """What :func:`with_analyst_labels` did, for the retrain page and the CLI."""

    matches: int
    non_matches: int
    replaced_seed_links: int  # seed links of the same pair that the labels override
    moved_out_of_evaluation: int  # of those, how many were VALID/TEST links
    unusable: tuple[str, ...]  # "left_id <-> right_id: reason", one per label left out

    @property
    def used(self) -> int:
        return self.matches + self.non_matches


def with_analyst_labels(dataset: AlignmentDataset, labels: list[AnalystLabel]) -> tuple[AlignmentDataset, LabelMerge]:
    """``dataset`` with ``labels`` added as TRAIN links (see the module docstring)."""
    if not labels:
        return dataset, LabelMerge(0, 0, 0, 0, ())
    left = dataset.left.indices_of([label.left_id for label in labels])
    right = dataset.right.indices_of([label.right_id for label in labels])
    is_match = np.array([label.is_match for label in labels], dtype=bool)
    left_type = np.full(len(labels), -1, dtype=np.int64)
    right_type = np.full(len(labels), -2, dtype=np.int64)
    left_aligned = aligned_types_of_entities(dataset.left, dataset.schema, "left")
    right_aligned = aligned_types_of_entities(dataset.right, dataset.schema, "right")
    left_type[left >= 0] = left_aligned[left[left >= 0]]
    right_type[right >= 0] = right_aligned[right[right >= 0]]

    unusable = []
    for i, label in enumerate(labels):
        reason = ("left id not in the left graph" if left[i] < 0 else
                  "right id not in the right graph" if right[i] < 0 else
                  "the two entities are not of one aligned type" if left_type[i] != right_type[i] or left_type[i] < 0
                  else None)
        if reason:
            unusable.append(f"{label.left_id} <-> {label.right_id}: {reason}")
    ok = (left >= 0) & (right >= 0) & (left_type == right_type) & (left_type >= 0)
    # The last label of a pair wins if the caller passed duplicates.
    n_right = dataset.right.n_entities
    keys = pair_keys(left[ok], right[ok], n_right)
    _, last = np.unique(keys[::-1], return_index=True)
    keep = np.sort(len(keys) - 1 - last)
    new_left, new_right = left[ok][keep], right[ok][keep]
    new_type, new_label = left_type[ok][keep], is_match[ok][keep]

    links = dataset.links
    seed_keys = pair_keys(links.left, links.right, n_right)
    overridden = np.isin(seed_keys, keys)
    moved = int((overridden & (links.split != Split.TRAIN.code)).sum())
    kept = links.select(~overridden)
    merged = Links(
        np.concatenate([kept.left, new_left]).astype(links.left.dtype),
        np.concatenate([kept.right, new_right]).astype(links.right.dtype),
        np.concatenate([kept.type, new_type]).astype(links.type.dtype),
        np.concatenate([kept.label, new_label.astype(np.int8)]).astype(links.label.dtype),
        np.concatenate([kept.split, np.full(len(new_left), Split.TRAIN.code)]).astype(links.split.dtype))
    report = LabelMerge(int(new_label.sum()), int((~new_label).sum()), int(overridden.sum()), moved, tuple(unusable))
    return replace(dataset, links=merged), report

