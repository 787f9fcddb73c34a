"""Metrics (PRAUC, F1, Hits@k, MRR) and the harness that scores a split's pairs and reports them. May import core.data."""
