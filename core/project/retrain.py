"""Retraining with the analysts' labels, and what it changed.

A retrain trains a new model version from the seed links plus every current accept/reject label
(see :mod:`core.review.labels_as_links`) and stores it. To tell the analyst whether it helped, the
previous and the new model are judged on the same validation pairs (those no analyst labelled),
and the decisions of the still-undecided candidates are compared: how many pairs would now be
called the other way. The new version becomes active only when it is better on validation
(:func:`activation`); a worse one waits beside the active one for the analyst to choose.
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


@dataclass(frozen=True)
class Activation:
    """Whether a retrained version should replace the active one, and why, in words for the page."""

    activate: bool
    reason: str


def activation(before: MetricSet | None, after: MetricSet) -> Activation:
    """Make the new version active only when it is better on the same validation pairs (PRAUC).

    ``before`` is the active model judged on exactly the pairs ``after`` was (the validation
    pairs no analyst labelled), so the two figures compare. A retrain that made validation worse,
    or left it the same, is stored but not made active: the analyst sees both figures and
    chooses. With no model before, any model beats name similarity. When validation has no true
    match PRAUC is undefined and nothing tells the two apart, so the analyst chooses then too.

    Examples
    --------
    >>> from core.evaluation.harness import MetricSet
    >>> def valid(pr_auc): return MetricSet(10, 2, 0, pr_auc, None, None, None, None, 2, None, None)
    >>> activation(valid(0.964), valid(0.926)).activate
    False
    >>> activation(valid(0.90), valid(0.95)).activate
    True
    """
    if before is None:
        return Activation(True, "there was no model before: it replaces name similarity")
    if after.pr_auc is None or before.pr_auc is None:
        return Activation(False, "validation has no true match, so PRAUC cannot tell the two versions apart")
    change = f"validation PRAUC {before.pr_auc:.3f} -> {after.pr_auc:.3f}"
    if after.pr_auc > before.pr_auc:
        return Activation(True, f"it is better on the same validation pairs ({change})")
    word = "worse" if after.pr_auc < before.pr_auc else "no better"
    return Activation(False, f"it is {word} on the same validation pairs ({change})")


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
    activated: bool = True  # whether the new version was made active (see ``activation``)
    reason: str = ""  # why (or why not), for the page


def retrain(project: str | Path, dataset: AlignmentDataset, candidates: CandidatePairs, labels: list[AnalystLabel],
            train_config, *, model_config=None, previous=None, previous_scores: pd.DataFrame | None = None,
            on_step=None, on_epoch=None, always_activate: bool = False) -> RetrainResult:
    """Train and store a new version on seed links + ``labels``; compare it with ``previous`` (a scorer).

    The new version is made active only when :func:`activation` says it is better on validation
    than ``previous`` (or ``always_activate``); otherwise it is stored beside the active one and
    the analyst chooses (``core.project.model_versions.set_active``). Its score table is written
    either way, so switching to it later is instant.
    """
    from core.project.lifecycle import run_model
    from core.project.model_versions import set_active
    from core.project.score_table import model_scores, scores_path, write_scores
    from core.review.queue import changed_decisions, pair_key

    merged, merge = with_analyst_labels(dataset, labels)
    trained = run_model(project, merged, candidates, train_config, model_config=model_config,
                        on_step=on_step, on_epoch=on_epoch, activate=False)
    after = evaluate(merged, candidates, trained.scorer, split=Split.VALID).overall
    before = evaluate(merged, candidates, previous, split=Split.VALID).overall if previous is not None else None
    verdict = activation(before, after)
    if always_activate and not verdict.activate:
        verdict = Activation(True, f"made active as asked, although {verdict.reason}")
    if verdict.activate:
        set_active(project, trained.version)  # the checkpoint is complete under its name: crash-safe order
    scores = model_scores(dataset, candidates, trained.scorer, trained.version)
    write_scores(scores, scores_path(project, trained.version))
    decided = {pair_key(label.left_id, label.right_id) for label in labels}
    changed = (changed_decisions(previous_scores, scores, exclude=decided) if previous_scores is not None
               else scores.iloc[0:0])
    return RetrainResult(trained.version, trained.best_epoch, trained.seconds, merge, before, after, scores, changed,
                         verdict.activate, verdict.reason)
