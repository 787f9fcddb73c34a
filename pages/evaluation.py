"""Evaluation: PR curve, a threshold slider, per-type metrics, blocking completeness, comparisons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.data.links import Split
from core.project.model_versions import versions
from core.evaluation.metrics import precision_recall_curve_points, precision_recall_f1
from ui.label_state import analyst_labels, current_labels_frame
from ui.navigation import ensure_app_navigation
from ui.project_state import (active_version, blocking_report, blocking_settings, load_candidates, load_dataset,
                              load_version_scorer, open_project)


@st.cache_resource(show_spinner="Evaluating…", max_entries=16)
def _evaluation(directory: str, method: str, split: str, labelled: tuple = ()):
    """(report, judged pairs, their scores) of ``method``: a model version or a name baseline.

    ``labelled``: the analysts' accept/reject labels as (left id, right id, is match). They are training data,
    so the pairs they name are not judged (``core.evaluation.harness``), as in a retrain; the
    cache key holds them, so a new label makes the figures anew.
    """
    from core.evaluation.harness import evaluate, scored_pairs
    from core.project.lifecycle import blocking_config, make_scorer
    from core.review.labels_as_links import AnalystLabel, with_analyst_labels

    seed, candidates = load_dataset(directory), load_candidates(directory)
    dataset, _ = with_analyst_labels(seed, [AnalystLabel(*label) for label in labelled])
    threshold = None
    if method.startswith("name-"):
        scorer = make_scorer(method, seed, candidates, config=blocking_config(directory))
    else:  # the version's matcher (its probability, its own threshold), or the model for an old version
        scorer = load_version_scorer(directory, method)[0]
        threshold = getattr(scorer, "threshold", None)
    report = evaluate(dataset, candidates, scorer, split=Split(split), threshold=threshold)
    pairs, scores = scored_pairs(dataset, candidates, scorer, Split(split))
    return report, pairs, scores


@st.cache_resource(show_spinner=False, max_entries=64)
def _version_summary(directory: str, version: str) -> dict:
    """What a stored version was trained as, and its figures at training time (from its checkpoint)."""
    from core.project.checkpoint import read_checkpoint
    from core.project.model_versions import model_path

    from core.project.model_versions import has_matcher, version_info

    info, _ = read_checkpoint(model_path(directory, version))
    config, metrics = info.model_config, info.metrics
    matcher = version_info(directory, version) if has_matcher(directory, version) else {}
    return {"version": version, "variant": config.variant_name, "layers": config.n_layers,
            "cap": config.neighbour_cap, "hidden": config.hidden, "best epoch": metrics.get("best_epoch"),
            "valid PRAUC": metrics.get("valid_pr_auc"), "test PRAUC": metrics.get("test_pr_auc"),
            "test F1": metrics.get("test_f1"), "matcher": "yes" if has_matcher(directory, version) else "no",
            "matcher test F1": matcher.get("test_decided_f1", matcher.get("test_f1"))}


def _metric_rows(report) -> list[dict]:
    return [{"type": name, "pairs": m.n_pairs, "true matches": m.n_positives, "lost by blocking": m.n_missed,
             "PRAUC": m.pr_auc, "precision": m.precision, "recall": m.recall, "F1": m.f1,
             "Rec@P95": m.recall_at_p95, "Hit@1": m.hit_at_1, "MRR": m.mrr}
            for name, m in (("all", report.overall), *report.per_type)]


ensure_app_navigation()
directory, dataset = open_project()
st.title("Evaluation")
version = active_version(str(directory))
split = st.radio("Split", ["valid", "test"], horizontal=True, index=1,
                 help="Thresholds are always chosen on VALID, never on the split shown.")
methods = ([version] if version else []) + ["name-tfidf"]
if not version:
    st.info("No model yet: showing the name-only baseline. Train a model on the Retrain page.")
if not len(dataset.links.in_split(Split(split)).positives()):
    st.info(f"The {split} split has no known matches: nothing to evaluate on.")
    st.stop()

labelled = tuple((x.left_id, x.right_id, x.is_match) for x in analyst_labels(current_labels_frame()))
results = {m: _evaluation(str(directory), m, split, labelled) for m in methods}
if labelled:
    st.caption(f"The {len(labelled):,} pairs analysts accepted or rejected are training data, so they are not "
               "among the pairs judged here (as in a retrain).")
main_method = methods[0]
report, pairs, scores = results[main_method]
n_positives = int(pairs.label.sum() + pairs.missed.sum())

st.subheader(f"Precision-recall curve ({split}, {report.protocol} protocol)")
curves = []
for method, (_, method_pairs, method_scores) in results.items():
    if method_pairs.label.sum():
        _, precision, recall = precision_recall_curve_points(
            method_pairs.label, method_scores, n_positives=int(method_pairs.label.sum() + method_pairs.missed.sum()))
        curves.append(pd.DataFrame({"recall": recall, "precision": precision,
                                    "method": "model " + method if method == version else method}))
if curves:
    st.line_chart(pd.concat(curves), x="recall", y="precision", color="method", height=360)

if pairs.label.sum() and len(scores) > 1:
    low, high = float(np.min(scores)), float(np.max(scores))
    default = report.threshold if report.threshold is not None else (low + high) / 2
    threshold = st.slider("Threshold on the score", low, high, float(np.clip(default, low, high)),
                          step=max((high - low) / 500, 1e-6), format="%.3f",
                          help="Predict a match when score >= threshold. Starts at the best-F1 threshold on VALID.")
    precision, recall, f1 = precision_recall_f1(pairs.label, scores, threshold, n_positives=n_positives)
    columns = st.columns(4)
    columns[0].metric("Precision", f"{precision:.3f}")
    columns[1].metric("Recall", f"{recall:.3f}")
    columns[2].metric("F1", f"{f1:.3f}")
    columns[3].metric("Predicted matches", f"{int((scores >= threshold).sum()):,}")

st.subheader("Per type")
st.dataframe(pd.DataFrame(_metric_rows(report)), hide_index=True)

st.subheader("Compared with the name-only baseline")
st.dataframe(pd.DataFrame([{"method": ("model " + m if m == version else m), **_metric_rows(r)[0]}
                           for m, (r, _, _) in results.items()]).drop(columns="type"), hide_index=True)

st.subheader("Model versions of this project (the full model and any ablations trained)")
stored = versions(directory)
if stored:
    st.caption("Figures recorded when each version was trained (TEST at that time; later labels change the "
               "splits). Train an ablation with `mualign train --variant no-cross-attention` and it appears here.")
    st.dataframe(pd.DataFrame([_version_summary(str(directory), v) for v in stored[::-1]]), hide_index=True)
else:
    st.caption("No stored model versions yet.")

st.subheader("Blocking")
if (blocking := blocking_report(str(directory))) is not None:  # as stored by `mualign block`, never redone here
    st.caption(blocking_settings(blocking))
    st.dataframe(pd.DataFrame([{"type": s.type, "candidates": s.n_candidates,
                                "per left entity": round(s.candidates_per_left, 2),
                                "pair completeness": s.pair_completeness} for s in blocking.per_type]),
                 hide_index=True)
