"""Retraining with the analysts' labels, and what it changed.

A retrain trains a new model version from the seed links plus every current accept/reject label
(see :mod:`core.review.labels_as_links`) and stores it. To tell the analyst whether it helped, the
previous and the new model are judged on the same validation pairs (those no analyst labelled),
and the decisions of the still-undecided candidates are compared: how many pairs would now be
called the other way. The new version becomes active only when it is better on validation
(:func:`activation`); a worse one waits beside the active one for the analyst to choose.

Each version carries the matcher fitted over its model's distances (issue 15), and the matcher
is what is judged. :func:`refit_matcher` is the quick path: it keeps the active version's GNN,
reuses the distances its score table holds, and refits only the matcher's combiner from the
project's links plus the labels on the version's cached evidence (:mod:`core.matching.refit`,
``models/<v>/evidence.npz``, written when a retrain scores its candidates or at the first refit),
as a matcher revision (``<gnn version>.m<N>``) under the same activation rule. The revision keeps
the version's structural anchors; the full retrain recomputes them from every accepted label.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
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
    matcher_note: str = ""  # why the version has no matcher, when it has none


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
    from core.project.score_table import model_scores, store_scores
    from core.review.queue import changed_decisions, pair_key

    merged, merge = with_analyst_labels(dataset, labels)
    trained = run_model(project, merged, candidates, train_config, model_config=model_config,
                        on_step=on_step, on_epoch=on_epoch, activate=False, labels=labels, matcher_dataset=dataset)
    new = trained.default_scorer  # the matcher over the new model's distances (run_model scored every candidate)
    after = evaluate(merged, candidates, new, split=Split.VALID).overall
    before = evaluate(merged, candidates, previous, split=Split.VALID).overall if previous is not None else None
    verdict = activation(before, after)
    if always_activate and not verdict.activate:
        verdict = Activation(True, f"made active as asked, although {verdict.reason}")
    if verdict.activate:
        set_active(project, trained.version)  # the checkpoint is complete under its name: crash-safe order
    scores = model_scores(dataset, candidates, new, trained.version)
    store_scores(scores, project, trained.version, dataset, candidates)
    decided = {pair_key(label.left_id, label.right_id) for label in labels}
    changed = (changed_decisions(previous_scores, scores, exclude=decided) if previous_scores is not None
               else scores.iloc[0:0])
    note = trained.matcher.note if trained.matcher is not None else ""
    return RetrainResult(trained.version, trained.best_epoch, trained.seconds, merge, before, after, scores, changed,
                         verdict.activate, verdict.reason, note)


@dataclass(frozen=True, eq=False)
class RefitResult:
    """A matcher refitted from labels over the active version's GNN: a new matcher revision."""

    version: str  # the revision's id, ``<gnn version>.m<N>``
    based_on: str  # the version whose GNN it keeps
    seconds: float  # the whole refit: fit, validation of both, the new score table
    fit_seconds: float
    labels: LabelMerge
    valid_before: MetricSet | None
    valid_after: MetricSet
    scores: pd.DataFrame
    changed: pd.DataFrame
    activated: bool
    reason: str
    cpu_seconds: float = 0.0  # this process's CPU time over the refit (wall time depends on the machine's load)
    quick: bool = False  # refitted on the version's cached evidence (core.matching.refit), anchors kept
    note: str = ""  # what the refit kept or why it took the slow path, for the page


def refit_matcher(project: str | Path, dataset: AlignmentDataset, candidates: CandidatePairs,
                  labels: list[AnalystLabel], *, version: str, model, previous=None,
                  previous_scores: pd.DataFrame | None = None, seed: int = 0,
                  always_activate: bool = False) -> RefitResult:
    """Refit the matcher of ``version`` from the project's links plus ``labels``, keeping its GNN.

    ``model`` is ``version``'s GNN scorer; ``previous`` the scorer ``version`` scores with (its
    ``MatcherScorer``; judged against the new matcher on the same validation pairs,
    :func:`activation`); ``previous_scores`` its score table, whose ``distance`` column (the
    GNN's) spares running the GNN again when it was made by the same GNN.

    The quick path (:mod:`core.matching.refit`): the version's evidence (every candidate's feature
    block, cached in its directory; built once here when missing) is refitted with one combiner
    at the version's hyper-parameters and the version's anchors, and every candidate is scored by
    predicting on the cached block. A version without a matcher, or whose cache is of other
    candidates, takes the full path: the matcher fitted again over the table's distances.

    Raises
    ------
    ValueError
        The matcher cannot be fitted on this project (too few links); nothing is stored.
    """
    import time

    from core.project.model_versions import gnn_version, next_revision, set_active
    from core.project.score_table import model_scores, store_scores
    from core.review.queue import changed_decisions, pair_key
    from core.scoring.matcher_scorer import CachedDistances

    start, cpu = time.perf_counter(), time.process_time()
    merged, merge = with_analyst_labels(dataset, labels)
    known = {}
    if previous_scores is not None and len(previous_scores) and \
            gnn_version(str(previous_scores["model_version"].iloc[0])) == gnn_version(version):
        left = dataset.left.indices_of(previous_scores["left_id"].astype(str).to_numpy())
        right = dataset.right.indices_of(previous_scores["right_id"].astype(str).to_numpy())
        ok = (left >= 0) & (right >= 0) & previous_scores["distance"].notna().to_numpy()
        distances = previous_scores["distance"].to_numpy(dtype=np.float64)[ok]
        known = dict(left=left[ok], right=right[ok], distances=distances.astype(np.float32).astype(np.float64))
    gnn = CachedDistances(model, dataset.right.n_entities, **known)
    quick = _quick_refit(project, dataset, candidates, labels, version=version, model=model, previous=previous,
                         gnn=gnn, seed=seed)
    if quick is not None:
        scorer, info, fit_seconds, note = quick
    else:
        from core.project.lifecycle import fit_version_matcher

        config = quick_refit_config(getattr(previous, "matcher", None))
        fitted = fit_version_matcher(dataset, candidates, model, labels=labels, gnn=gnn, seed=seed, config=config)
        if fitted.scorer is None:
            raise ValueError(fitted.note)
        scorer, info, fit_seconds = fitted.scorer, fitted.info, fitted.seconds
        note = "the matcher was fitted again in full (no cached evidence of this version's candidates)"
    after = evaluate(merged, candidates, scorer, split=Split.VALID).overall
    before = evaluate(merged, candidates, previous, split=Split.VALID).overall if previous is not None else None
    verdict = activation(before, after)
    if always_activate and not verdict.activate:
        verdict = Activation(True, f"made active as asked, although {verdict.reason}")
    new_version = next_revision(project, version)
    _store_revision(project, new_version, version, scorer, quick,
                    info={"gnn_version": gnn_version(version), "revision": int(new_version.rsplit(".m", 1)[1]),
                          "refit_of": version, **info, "valid_pr_auc": after.pr_auc, "valid_f1": after.f1})
    scores = model_scores(dataset, candidates, scorer, new_version)
    store_scores(scores, project, new_version, dataset, candidates)  # before ACTIVE names it: the app reads it at once
    if verdict.activate:
        set_active(project, new_version)
    decided = {pair_key(label.left_id, label.right_id) for label in labels}
    changed = (changed_decisions(previous_scores, scores, exclude=decided) if previous_scores is not None
               else scores.iloc[0:0])
    return RefitResult(new_version, version, time.perf_counter() - start, fit_seconds, merge, before, after,
                       scores, changed, verdict.activate, verdict.reason, time.process_time() - cpu,
                       quick is not None, note)


def _quick_refit(project, dataset: AlignmentDataset, candidates: CandidatePairs, labels, *, version: str, model,
                 previous, gnn, seed: int):
    """(scorer, version.json info, fit seconds, note) of a refit on cached evidence, or None for the full path.

    ``previous`` must be ``version``'s matcher scorer. When the version has no cache of these
    candidates it is built from that scorer (one full scoring, which also fills the scorer's
    figures for the comparison on validation) and stored for the next refit.
    """
    from core.matching.refit import refit_on_evidence
    from core.project.lifecycle import label_arrays, without_labelled_pairs
    from core.scoring.matcher_scorer import MatcherScorer

    evidence = version_evidence(project, version, previous, candidates, gnn=gnn)
    if evidence is None:
        return None
    base = previous.matcher
    left, right, is_match = label_arrays(dataset, labels)
    fit_data = without_labelled_pairs(dataset, left, right)
    refit = refit_on_evidence(base, evidence, fit_data, candidates,
                              labels=(left, right, is_match) if len(left) else None, gnn=gnn, seed=seed)
    extra = (left[is_match], right[is_match]) if is_match.any() else None
    scorer = MatcherScorer(refit.matcher, model, fit_data, candidates, gnn=gnn, extra_matches=extra)
    scorer.prime(refit.scores)
    accepted = [[str(a), str(b)] for a, b in zip(dataset.left.entity_ids[left[is_match]],
                                                 dataset.right.entity_ids[right[is_match]])]
    rejected = [[str(a), str(b)] for a, b in zip(dataset.left.entity_ids[left[~is_match]],
                                                 dataset.right.entity_ids[right[~is_match]])]
    note = ("quick refit: one combiner at the version's hyper-parameters on its cached evidence; the version's "
            f"anchors are kept ({len(evidence.anchors[0])}), labels accepted since then become anchors at the next "
            "full retrain")
    info = {"fit_seconds": round(refit.seconds, 3), "seed": seed, "accepted_labels": accepted,
            "rejected_labels": rejected, "quick_refit": True, "fit_rows_computed_apart": refit.computed_rows,
            "note": note, "describe": _jsonable(refit.matcher.describe())}
    return scorer, info, refit.seconds, note


def version_evidence(project, version: str, scorer, candidates: CandidatePairs, *, gnn=None):
    """``version``'s cached evidence of ``candidates`` (``core.matching.refit``), built and stored when missing.

    ``scorer`` is the version's ``MatcherScorer``; building scores every candidate once (what
    storing the version's score table does) and leaves those figures in the scorer. None for a
    scorer without a matcher (a version stored before issue 15): there is nothing to refit.
    """
    from core.matching.refit import load_evidence
    from core.project.model_versions import evidence_path

    if getattr(scorer, "matcher", None) is None or not hasattr(scorer, "extra_matches"):
        return None
    evidence = load_evidence(evidence_path(project, version))
    if evidence is None or not evidence.covers(candidates):
        evidence = scored_evidence(scorer, candidates, gnn=gnn)
        evidence.save(evidence_path(project, version))
    return evidence


def scored_evidence(scorer, candidates: CandidatePairs, *, gnn=None):
    """Every candidate scored once by ``scorer``'s matcher, keeping the evidence; the scorer keeps the figures.

    ``gnn``: the distances to read instead of the scorer's own (a stored score table's).
    """
    from core.matching.refit import candidate_evidence

    scores, evidence = candidate_evidence(scorer.matcher, scorer.dataset, candidates,
                                          gnn=scorer.gnn if gnn is None else gnn, extra_matches=scorer.extra_matches)
    if not scorer.has_all_candidates:
        scorer.prime(scores)
    return evidence


def _store_revision(project, new_version: str, version: str, scorer, quick, *, info: dict) -> None:
    """The revision's matcher and ``version.json``; after a quick refit, its evidence (the version's) too."""
    import os

    from core.project.model_versions import evidence_path, store_matcher

    store_matcher(project, new_version, scorer.matcher, info=info)
    if quick is None:
        return
    source, target = evidence_path(project, version), evidence_path(project, new_version)
    try:  # the same block under the same anchors: share the file (a copy where links are not allowed)
        os.link(source, target)
    except OSError:
        import shutil

        shutil.copyfile(source, target)


def _jsonable(value):
    """``describe()`` as plain JSON (numpy numbers and tuples made lists and floats)."""
    import json

    return json.loads(json.dumps(value, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))


def quick_refit_config(matcher):
    """The settings of a full-path refit: ``matcher``'s own, its hyper-parameter search not repeated.

    The gradient-boosting grid (four fits, each as long as the final one) is what makes a full fit
    slow; a refit from a few more labels keeps the combination the version chose on VALID and
    fits once per round. Calibration and the threshold are still chosen on VALID. None (the
    defaults, with the search) when there is no matcher to start from.
    """
    from dataclasses import replace

    if matcher is None or not getattr(matcher, "combiners", None):
        return None
    from core.matching.refit import quick_combiner_config

    return replace(matcher.config, combiner=quick_combiner_config(matcher))
