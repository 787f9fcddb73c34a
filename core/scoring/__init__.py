"""Turning a candidate pair into a score: the trained model's distance, the name-only baselines and their stacking. May import data, blocking, features, sampling, model, evaluation."""
