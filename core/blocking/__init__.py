"""Candidate generation: which (left, right) pairs are worth scoring. Name TF-IDF top-k per type, sorted neighbourhood for very large types, and the plain-text report. May import core.data."""
