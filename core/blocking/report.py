"""What a blocking run reports: candidates and completeness per aligned type and per source.

Kept apart from the blocking code so that reading a project's stored report (every command,
the app) loads no TF-IDF or sparse-product machinery.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.blocking.config import BlockingConfig


@dataclass(frozen=True)
class SourceStats:
    """What one candidate source (``name``, ``structure``, ``embedding``) proposed for a type, on its own.

    ``held_out_kept`` counts the known matches that are not anchors (not TRAIN links): the
    structure source finds anchors trivially, so this is the completeness that tells sources apart.
    """

    source: str
    n_candidates: int
    gold_kept: int
    held_out_kept: int | None = None


@dataclass(frozen=True)
class TypeBlockingStats:
    """Blocking quality for one aligned type.

    ``sources`` is filled when more than one source made the candidates (the counts above are
    then the union's); a report written before sources existed reads with ``()``.
    """

    type: str
    n_left: int
    n_right: int
    n_candidates: int
    candidates_per_left: float  # mean over left entities of the type
    max_candidates_per_left: int
    left_without_candidates: int
    n_gold: int
    gold_kept: int
    seconds: float
    key: str | None = None
    sorted_neighbourhood: bool = False  # the type exceeded exact_pairs_limit
    n_held_out: int | None = None  # known matches that are not anchors (None: not measured)
    held_out_kept: int | None = None
    sources: tuple[SourceStats, ...] = ()

    def __post_init__(self) -> None:
        # A report read back from JSON holds each source as a dict.
        if any(isinstance(s, dict) for s in self.sources):
            object.__setattr__(self, "sources", tuple(SourceStats(**s) if isinstance(s, dict) else s
                                                      for s in self.sources))
        else:
            object.__setattr__(self, "sources", tuple(self.sources))

    @property
    def pair_completeness(self) -> float | None:
        """Share of known true matches that survive blocking (None when no truth is known)."""
        return self.gold_kept / self.n_gold if self.n_gold else None

    @property
    def held_out_completeness(self) -> float | None:
        """Share of the non-anchor known matches that survive blocking (None when not measured)."""
        return self.held_out_kept / self.n_held_out if self.n_held_out else None

    def source(self, name: str) -> SourceStats | None:
        return next((s for s in self.sources if s.source == name), None)

    @property
    def reduction_ratio(self) -> float:
        """1 - candidates / all possible pairs of the type."""
        total = self.n_left * self.n_right
        return 1.0 - self.n_candidates / total if total else 0.0


@dataclass(frozen=True)
class BlockingReport:
    per_type: tuple[TypeBlockingStats, ...]
    config: BlockingConfig = field(default_factory=BlockingConfig)

    @property
    def n_candidates(self) -> int:
        return sum(s.n_candidates for s in self.per_type)

    @property
    def pair_completeness(self) -> float | None:
        gold = sum(s.n_gold for s in self.per_type)
        return sum(s.gold_kept for s in self.per_type) / gold if gold else None

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.per_type)

    @property
    def held_out_completeness(self) -> float | None:
        held = sum(s.n_held_out or 0 for s in self.per_type)
        return sum(s.held_out_kept or 0 for s in self.per_type) / held if held else None

    @property
    def source_names(self) -> tuple[str, ...]:
        """The sources that made the candidates, in report order (empty for name blocking alone)."""
        seen: list[str] = []
        for stats in self.per_type:
            seen += [s.source for s in stats.sources if s.source not in seen]
        return tuple(seen)

    def source_completeness(self, source: str, *, held_out: bool = False) -> float | None:
        """Pair completeness of one source on its own, over all types (held-out matches only if asked)."""
        found = [(t, t.source(source)) for t in self.per_type]
        if held_out:
            total = sum(t.n_held_out or 0 for t, s in found if s is not None)
            kept = sum(s.held_out_kept or 0 for _, s in found if s is not None)
        else:
            total = sum(t.n_gold for t, s in found if s is not None)
            kept = sum(s.gold_kept for _, s in found if s is not None)
        return kept / total if total else None

    def source_candidates(self, source: str) -> int:
        return sum(s.n_candidates for t in self.per_type if (s := t.source(source)) is not None)


# --------------------------------------------------------------------------- pure pieces ------
