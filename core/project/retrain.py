"""Retraining with the analysts' labels, and what it changed.

A retrain trains a new model version from the seed links plus every current accept/reject label
(see :mod:`core.review.labels_as_links`), stores it and makes it active. To tell the analyst whether it
helped, the previous and the new model are judged on the same validation pairs (those no analyst
labelled), and the decisions of the still-undecided candidates are compared: how many pairs
would now be called the other way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core.review.labels_as_links import AnalystLabel, LabelMerge, with_analyst_labels
from core.data.candidates import CandidatePairs
from core.data.dataset import AlignmentDataset
from core.evaluation.harness import MetricSet, evaluate
from core.data.links import Split


@dataclass(frozen=True, eq=False)
class RetrainResult:
    version: str
    best_epoch: int
    seconds: float
    labels: LabelMerge
    valid_before: MetricSet | None  # previous model on the new validation pairs (None without one)
    valid_after: MetricSet
    scores: pd.DataFrame  # the new version's score table
    changed: pd.DataFrame  # undecided candidates whose decision flipped (see core.review.queue)


def retrain(project: str | Path, dataset: AlignmentDataset, candidates: CandidatePairs, labels: list[AnalystLabel],
            train_config, *, model_config=None, previous=None, previous_scores: pd.DataFrame | None = None,
            on_step=None, on_epoch=None) -> RetrainResult:
    """Train a new active version on seed links + ``labels``; compare it with ``previous`` (a scorer)."""
    from core.project.lifecycle import run_model
    from core.review.queue import changed_decisions, pair_key
    from core.project.score_table import model_scores, scores_path, write_scores

    merged, merge = with_analyst_labels(dataset, labels)
    trained = run_model(project, merged, candidates, train_config, model_config=model_config,
                        on_step=on_step, on_epoch=on_epoch)
    after = evaluate(merged, candidates, trained.scorer, split=Split.VALID).overall
    before = evaluate(merged, candidates, previous, split=Split.VALID).overall if previous is not None else None
    scores = model_scores(dataset, candidates, trained.scorer, trained.version)
    write_scores(scores, scores_path(project, trained.version))
    decided = {pair_key(label.left_id, label.right_id) for label in labels}
    changed = (changed_decisions(previous_scores, scores, exclude=decided) if previous_scores is not None
               else scores.iloc[0:0])
    return RetrainResult(trained.version, trained.best_epoch, trained.seconds, merge, before, after, scores, changed)
