"""The settings of blocking, on their own: the project files, the CLI and the app read them without
loading the blocking code (TF-IDF, sparse products), which only ``mualign block`` runs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BlockingConfig:
    """Knobs of name blocking.

    ``keys`` maps an aligned type to an aligned attribute name used as an exact key, e.g.
    ``(("film", "year"), ("person", "born"))``.
    """

    top_k: int = 20
    ngram_range: tuple[int, int] = (3, 3)
    strip_accents: bool = True
    keys: tuple[tuple[str, str], ...] = ()
    n_threads: int = 2
    exact_pairs_limit: int = 10_000_000_000  # above: sorted neighbourhood, see the module docstring
    window: int = 10  # sorted-neighbourhood right names taken either side, per sort key
    # Candidates from structure (core.blocking.structural), added to the name candidates when the
    # dataset has TRAIN links: each left entity's top k by anchor-profile cosine; 0 switches it off.
    structure_top_k: int = 10
    structure_hops: int = 2
    # A type too large for the dense label ranking ranks by anchor profiles, without the hub anchors
    # found in more than this share of its profiles (core.matching.propagation.hub_columns); 0 keeps all.
    structure_hub_share: float = 0.01
    embedding_top_k: int = 10  # used only when block() is given a trained model's embeddings

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {self.top_k}")
        for name in ("structure_top_k", "embedding_top_k"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 (0 switches the source off), got {getattr(self, name)}")
        if not 0 <= self.structure_hub_share <= 1:
            raise ValueError(f"structure_hub_share must be in [0, 1] (0 keeps every anchor), got {self.structure_hub_share}")
        if self.structure_hops < 1:
            raise ValueError(f"structure_hops must be >= 1, got {self.structure_hops}")
        lo, hi = self.ngram_range
        if not 1 <= lo <= hi:
            raise ValueError(f"ngram_range must satisfy 1 <= min <= max, got {self.ngram_range}")
        if self.window < 1:
            raise ValueError(f"window must be >= 1, got {self.window}")

    def key_for(self, aligned_type: str) -> str | None:
        return dict(self.keys).get(aligned_type)
