"""Capped, inverse-frequency two-hop neighbour sampling and the padded blocks a batch of pairs is computed on. May import core.data."""
