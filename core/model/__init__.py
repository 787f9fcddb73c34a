"""CG-MuAlign itself: the layers (cross-graph attention, relation-aware self-attention), the encoder and its construction from a dataset. May import core.data, core.features, core.sampling."""
