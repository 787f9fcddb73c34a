"""Retrain: a new model version from the seed links plus the analysts' labels; switch versions.

Two ways: train the GNN anew (minutes; the matcher is fitted over its distances), or refit only
the matcher from the labels over the active version's GNN (seconds: a matcher revision).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.project.model_versions import gnn_version, has_matcher, set_active, versions
from ui.failures import reported
from ui.label_state import analyst_labels, current_labels_frame
from ui.navigation import ensure_app_navigation
from ui.plain_text import code, literal
from ui.project_state import (active_version, load_candidates, load_model, load_scores, load_version_scorer,
                              open_project)


@reported  # a read-only project directory says so instead of a traceback
def _make_active(chosen: str) -> None:
    """Button callback, so the page drawn next (its header included) already names the new version."""
    set_active(directory, chosen)
    st.session_state["retrain_flash"] = f"Version {chosen} is the active model now."


def _validation_rows(result, previous: str | None) -> list[dict]:
    rows = []
    for name, metrics in ((f"before: {previous or 'name similarity'}", result.valid_before),
                          (f"after: {result.version}", result.valid_after)):
        if metrics is not None:
            rows.append({"model": name, "PRAUC": metrics.pr_auc, "F1": metrics.f1, "precision": metrics.precision,
                         "recall": metrics.recall, "Hit@1": metrics.hit_at_1, "pairs": metrics.n_pairs})
    return rows



def _choose_between(result, active: str | None, previous: str | None, *, new_key: str, previous_key: str) -> None:
    """The two buttons after a retrain or a refit: make the new version active, or go back.

    Both outcomes offer the same choice (a new version is active only when better on the
    validation pairs); the keys stay apart so the two panels' buttons never clash.
    """
    choices = st.columns(2)
    if active != result.version:
        choices[0].button(f"Make {result.version} active", key=new_key, on_click=_make_active,
                          args=(result.version,), type="primary" if result.activated else "secondary")
    if previous and active != previous:
        choices[1].button(f"Go back to {previous}", key=previous_key, on_click=_make_active, args=(previous,))
    st.metric("Undecided pairs whose decision changed", f"{len(result.changed):,}")


ensure_app_navigation()
directory, dataset = open_project()
st.title("Retrain the model")
if message := st.session_state.pop("retrain_flash", None):
    st.toast(message)
version = active_version(str(directory))  # read after any switch this run's callbacks made
labels = current_labels_frame()
usable = analyst_labels(labels)
n_accept = sum(label.is_match for label in usable)
st.write(f"Active model: {code(version or 'none yet')}. Training uses the project's seed links plus "
         f"**{n_accept} accepted** and **{len(usable) - n_accept} rejected** pairs (rejections become hard "
         "negatives). Labelled pairs leave the validation split, so before/after compare the same pairs. "
         "A new version becomes active only when it is better on them; otherwise you choose.")

full, quick = st.columns(2)
with full:
    with st.form("retrain"):
        epochs = st.number_input("Epochs (at most; early stopping on validation PRAUC)", 1, 200, 8)
        seed = st.number_input("Seed", 0, 2**31 - 1, 0)
        start = st.form_submit_button("Train a new version", type="primary")
with quick:
    st.markdown("**Quick refit** (seconds): keep the active version's GNN and refit only the matcher, which "
                "combines names, attributes, structure and the GNN's distance, from the seed links plus the "
                "labels. It becomes a matcher revision of the version, active only when it is better on the same "
                "validation pairs.")
    refit = st.button("Refit the matcher from labels", key="refit_matcher", disabled=version is None,
                      help=None if version else "Train a version first: the refit keeps its GNN.")

if start:
    from core.project.retrain import retrain
    from core.training.loop import TrainConfig

    bar = st.progress(0.0, text="starting…")
    epochs_box = st.empty()
    history: list[dict] = []

    def on_step(step) -> None:
        done = ((step.epoch - 1) * step.steps + step.step) / (int(epochs) * step.steps)
        bar.progress(min(done, 1.0),
                     text=f"epoch {step.epoch} · batch {step.step}/{step.steps} · loss {step.loss:.4f}")

    def on_epoch(stats) -> None:
        history.append({"epoch": stats.epoch, "loss": stats.loss, "valid PRAUC": stats.valid_pr_auc})
        frame = pd.DataFrame(history).set_index("epoch")
        if len(frame) < 2:  # one point draws no line
            epochs_box.dataframe(frame)
        else:
            epochs_box.line_chart(frame)

    previous = load_version_scorer(str(directory), version)[0] if version else None
    with st.spinner("Training, then scoring every candidate with the new version…"):
        result = retrain(directory, dataset, load_candidates(str(directory)), usable,
                         TrainConfig(epochs=int(epochs), seed=int(seed)), previous=previous,
                         previous_scores=load_scores(str(directory), version), on_step=on_step, on_epoch=on_epoch)
    bar.progress(1.0, text="done")
    st.session_state["last_retrain"] = {"result": result, "previous": version, "history": history}
    st.session_state.pop("last_refit", None)
    st.rerun()  # from the top: the header names the version that is active now

if refit and version is not None:
    from core.project.retrain import refit_matcher

    with st.spinner("Refitting the matcher from the labels…"):
        try:
            outcome = refit_matcher(directory, dataset, load_candidates(str(directory)), usable, version=version,
                                    model=load_model(str(directory), gnn_version(version))[0],
                                    previous=load_version_scorer(str(directory), version)[0],
                                    previous_scores=load_scores(str(directory), version))
        except ValueError as exc:  # too few links to fit or validate on: nothing was stored
            st.session_state["last_refit"] = {"error": str(exc)}
        else:
            st.session_state["last_refit"] = {"result": outcome, "previous": version}
    st.session_state.pop("last_retrain", None)
    st.rerun()

if (refitted := st.session_state.get("last_refit")) is not None:
    if "error" in refitted:
        st.error(f"The matcher could not be refitted: {literal(refitted['error'])}")
    else:
        result, previous = refitted["result"], refitted["previous"]
        timing = f"{result.seconds:.1f} s, of which fitting {result.fit_seconds:.1f} s"
        if result.activated:
            st.success(f"Matcher revision {code(result.version)} is active: {literal(result.reason)} ({timing}).")
        else:
            st.warning(f"Matcher revision {code(result.version)} is stored but not active: {literal(result.reason)}. "
                       f"{code(previous)} stays active unless you choose the new one below ({timing}).")
        st.dataframe(pd.DataFrame(_validation_rows(result, previous)), hide_index=True)
        _choose_between(result, version, previous, new_key="activate_refit", previous_key="refit_previous")

if (last := st.session_state.get("last_retrain")) is not None:
    result, previous = last["result"], last["previous"]
    if result.matcher_note:
        st.info(literal(result.matcher_note))
    if result.activated:
        st.success(f"New model version {code(result.version)} is active: {literal(result.reason)} "
                   f"(best epoch {result.best_epoch}, {result.seconds:.0f} s).")
    else:
        st.warning(f"New model version {code(result.version)} is stored but not active: {literal(result.reason)}. "
                   f"{code(previous)} stays active unless you choose the new one below.")
    st.subheader("Validation split, before and after")
    st.dataframe(pd.DataFrame(_validation_rows(result, previous)), hide_index=True)
    if last["history"]:
        st.caption("Training, epoch by epoch")
        st.dataframe(pd.DataFrame(last["history"]).set_index("epoch"))
    _choose_between(result, version, previous, new_key="activate_new", previous_key="activate_previous")
    if len(result.changed):
        st.dataframe(result.changed.head(200), hide_index=True)
    if result.labels.unusable:
        st.warning(f"{len(result.labels.unusable)} labels were left out of training (kept in the label store):")
        st.code("\n".join(result.labels.unusable[:100]), language=None)

st.subheader("Model versions")
stored = versions(directory)
if not stored:
    st.info("No model version yet: train one above (or run `mualign train`).")
else:
    choice = st.selectbox("Active version", stored[::-1],
                          index=stored[::-1].index(version) if version in stored else 0, key="version_choice",
                          format_func=lambda v: v + ("" if has_matcher(directory, v) else " (no matcher: the model's "
                                                                                        "probability)"))
    if choice != version:
        st.button("Make this version active", key="activate_chosen", on_click=_make_active, args=(choice,))
