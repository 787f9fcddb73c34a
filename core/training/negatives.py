"""Negative pairs for the margin loss: corrupt one side of each positive with an entity of its type.

The paper draws negatives uniformly among the entities of the same type on each graph ("no prior
knowledge of the target"); 10 per side per positive. Blocked candidates that are not the true
match are the confusions the model will meet at scoring time, so a share of the negatives can be
drawn from them instead ("hard" negatives), which issue 4 measures against random ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data.candidates import CandidatePairs


@dataclass(frozen=True, eq=False)
class TypePools:
    """Entities grouped by aligned type, flat: type t's entities are ``members[start[t]:start[t+1]]``."""

    members: np.ndarray
    start: np.ndarray

    @classmethod
    def from_types(cls, aligned_type: np.ndarray, n_types: int) -> "TypePools":
        entities = np.flatnonzero(aligned_type >= 0)
        order = np.argsort(aligned_type[entities], kind="stable")
        counts = np.bincount(aligned_type[entities], minlength=n_types)
        return cls(entities[order], np.concatenate([[0], np.cumsum(counts)]))

    def draw(self, types: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
        """(len(types), k) uniform draws, each from its row's type."""
        lo, hi = self.start[types], self.start[types + 1]
        if (hi <= lo).any():
            raise ValueError("a type with training links has no entities to draw negatives from")
        offsets = (rng.random((len(types), k)) * (hi - lo)[:, None]).astype(np.int64)
        return self.members[lo[:, None] + offsets]


@dataclass(frozen=True, eq=False)
class CandidateIndex:
    """Blocked candidates of each entity, for drawing hard negatives (CSR by entity)."""

    indptr: np.ndarray
    partners: np.ndarray

    @classmethod
    def build(cls, owner: np.ndarray, partner: np.ndarray, n_entities: int) -> "CandidateIndex":
        order = np.argsort(owner, kind="stable")
        indptr = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=n_entities))])
        return cls(indptr, partner[order])

    def draw(self, entities: np.ndarray, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(len(entities), k) draws among each entity's candidates; the mask is False where it has none."""
        lo, hi = self.indptr[entities], self.indptr[entities + 1]
        has = hi > lo
        offsets = (rng.random((len(entities), k)) * np.maximum(hi - lo, 1)[:, None]).astype(np.int64)
        drawn = self.partners[np.minimum(lo[:, None] + offsets, max(len(self.partners) - 1, 0))] \
            if len(self.partners) else np.zeros((len(entities), k), dtype=np.int64)
        return drawn, np.broadcast_to(has[:, None], drawn.shape)


@dataclass(frozen=True, eq=False)
class NegativeSampler:
    """Draws, for positives (i, i'), pairs (i, j') and (j, i') with j, j' of the same aligned type."""

    left_pools: TypePools
    right_pools: TypePools
    left_candidates: CandidateIndex | None = None  # right partners of each left entity
    right_candidates: CandidateIndex | None = None  # left partners of each right entity
    hard_share: float = 0.0

    @classmethod
    def build(cls, left_types: np.ndarray, right_types: np.ndarray, n_types: int, *,
              candidates: CandidatePairs | None = None, hard_share: float = 0.0) -> "NegativeSampler":
        if not 0.0 <= hard_share <= 1.0:
            raise ValueError(f"hard_share must be in [0, 1], got {hard_share}")
        lc = rc = None
        if candidates is not None and hard_share > 0:
            lc = CandidateIndex.build(candidates.left, candidates.right, len(left_types))
            rc = CandidateIndex.build(candidates.right, candidates.left, len(right_types))
        return cls(TypePools.from_types(left_types, n_types), TypePools.from_types(right_types, n_types), lc, rc,
                   hard_share)

    def draw(self, left: np.ndarray, right: np.ndarray, types: np.ndarray, per_side: int,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(negative left, negative right), each (B, 2 * per_side): first the corrupted rights, then lefts."""
        corrupt_right = self.right_pools.draw(types, per_side, rng)
        corrupt_left = self.left_pools.draw(types, per_side, rng)
        if self.hard_share > 0 and self.left_candidates is not None:
            hard = rng.random((len(left), per_side)) < self.hard_share
            drawn, ok = self.left_candidates.draw(left, per_side, rng)
            corrupt_right = np.where(hard & ok & (drawn != right[:, None]), drawn, corrupt_right)
            drawn, ok = self.right_candidates.draw(right, per_side, rng)
            corrupt_left = np.where(hard & ok & (drawn != left[:, None]), drawn, corrupt_left)
        neg_left = np.concatenate([np.repeat(left[:, None], per_side, 1), corrupt_left], axis=1)
        neg_right = np.concatenate([corrupt_right, np.repeat(right[:, None], per_side, 1)], axis=1)
        return neg_left, neg_right
