"""The model's architecture knobs, and the paper's ablations as named switch sets."""

from __future__ import annotations

from dataclasses import asdict, dataclass

VARIANTS = ("cg-mualign", "no-cross-attention", "no-self-attention", "graphsage", "r-graphsage")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture knobs; the defaults are the paper's (hidden 100, 2 layers, cap 10)."""

    hidden: int = 100
    n_layers: int = 2
    neighbour_cap: int = 10
    name_dim: int = 64
    cross_attention: bool = True
    self_attention: bool = True
    relation_weights: bool = True  # one W_r per relation (False: one W for all, GraphSAGE)
    leaky_slope: float = 0.2
    dropout: float = 0.0
    max_relations: int = 64

    def __post_init__(self) -> None:
        if self.hidden < 2 or self.hidden % 2:
            raise ValueError(f"hidden must be an even number >= 2 (self and neighbourhood halves), got {self.hidden}")
        if self.n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {self.n_layers}")
        if self.neighbour_cap < 1:
            raise ValueError(f"neighbour_cap must be >= 1, got {self.neighbour_cap}")

    @property
    def variant_name(self) -> str:
        """Which of ``VARIANTS`` these switches make (the inverse of :meth:`variant`)."""
        switches = (self.cross_attention, self.self_attention, self.relation_weights)
        return {(True, True, True): "cg-mualign", (False, True, True): "no-cross-attention",
                (True, False, True): "no-self-attention", (False, False, False): "graphsage",
                (False, False, True): "r-graphsage"}.get(switches, "custom")

    @classmethod
    def variant(cls, name: str, **overrides) -> "ModelConfig":
        """The full model or one of the paper's ablations, by name (see ``VARIANTS``)."""
        switches = {
            "cg-mualign": {},
            "no-cross-attention": {"cross_attention": False},
            "no-self-attention": {"self_attention": False},
            "graphsage": {"cross_attention": False, "self_attention": False, "relation_weights": False},
            "r-graphsage": {"cross_attention": False, "self_attention": False},
        }
        if name not in switches:
            raise ValueError(f"unknown model variant {name!r}; choose one of {VARIANTS}")
        return cls(**{**switches[name], **overrides})

    def to_dict(self) -> dict:
        return asdict(self)
