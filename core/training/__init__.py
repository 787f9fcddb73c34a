"""The training loop, negative sampling and the row-wise Adam for the sparse name table. May import the stages below it (data, features, sampling, model, scoring, evaluation)."""
