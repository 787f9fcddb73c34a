"""Agreement between analysts: who labelled what, how far each two agree, and the conflict queue.

The rules (an analyst's current label, which pairs count, when a conflict is settled) live in
``core.review.agreement``; this page reads the label log once, shows the figures and records a
settlement as a resolution event (``record_decision(..., resolution=True)``).
"""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from core.review.agreement import Conflict, analyst_counts, conflicts, pairwise_agreement
from ui.failures import reported
from ui.label_state import ANALYST_PROMPT, analyst_name, log_entries, sessions
from ui.navigation import ensure_app_navigation
from ui.plain_text import code, literal, shorten
from ui.project_state import open_project, project_key

CONFLICTS_SHOWN = 50  # the rest wait their turn: settling one shows the next
NAME_CHARS = 120


@reported
def _settle(conflict: Conflict, decision: str) -> None:
    """Button callback: record the resolution, unless the conflict changed since the page was drawn.

    Another analyst may have settled it or relabelled the pair meanwhile; the log is read again
    in the same transaction as the write, and nothing is recorded if this exact conflict (same
    newest judgement) is no longer open.
    """
    from core.review.agreement import log_entries as convert
    from db.labels import events, record_decision

    pair = f"{literal(conflict.left_id)} ↔ {literal(conflict.right_id)}"
    if not analyst_name():
        st.session_state["agreement_flash"] = f"Nothing recorded. {ANALYST_PROMPT}"
        return
    with sessions().begin() as session:
        log = convert(events(session, project=project_key()))
        if (conflict.left_id, conflict.right_id, conflict.raised_at) not in {
                (c.left_id, c.right_id, c.raised_at) for c in conflicts(log)}:
            st.session_state["agreement_flash"] = f"{pair} changed meanwhile (settled or relabelled): nothing recorded."
            return
        record_decision(session, project=project_key(), left_id=conflict.left_id, right_id=conflict.right_id,
                        type=conflict.type, decision=decision, analyst=analyst_name(), resolution=True)
    st.session_state["agreement_flash"] = f"settled as {decision}: {pair}"


def _votes(conflict: Conflict) -> str:
    return " · ".join(f"{literal(v.analyst)}: **{v.decision}**" for v in conflict.votes)


ensure_app_navigation()
directory, dataset = open_project()
st.title("Agreement between analysts")
if message := st.session_state.pop("agreement_flash", None):
    st.toast(message)
entries = log_entries()
counts = analyst_counts(entries)
if not counts:
    st.info("No labels yet: agreement needs decisions from the Review page, ideally from two or more analysts.")
    st.stop()

st.subheader("Per analyst")
st.dataframe(pd.DataFrame([{"analyst": c.analyst, "accepts": c.accepts, "rejects": c.rejects, "skips": c.skips,
                            "pairs": c.total} for c in counts]), hide_index=True)
st.caption("Each analyst's current labels (a pair relabelled counts once; undone labels do not count). "
           "Decisions taken in the conflict queue below are not anyone's own label.")

st.subheader("Pairwise agreement")
rows = pairwise_agreement(entries)
if rows:
    st.dataframe(pd.DataFrame([{
        "analyst A": r.analyst_a, "analyst B": r.analyst_b, "shared pairs": r.shared_pairs, "agreed": r.agreed,
        "raw agreement": "-" if math.isnan(r.raw_agreement) else f"{r.raw_agreement:.0%}",
        "Cohen's kappa": f"{r.kappa:.2f}" if r.kappa_defined else "-"} for r in rows]), hide_index=True)
    st.caption("On the pairs both analysts accepted or rejected (skips are left out). Kappa discounts the "
               "agreement expected by chance: 1 is perfect, 0 chance level. **-** means undefined: no shared "
               "pair, or both analysts gave one and the same label throughout.")
else:
    st.caption("Agreement needs two analysts who accepted or rejected pairs.")

st.subheader("Conflict queue")
st.caption("Pairs one analyst accepts and another rejects. The project's label of such a pair is simply the "
           "latest decision; settling it here records your decision as the resolution (it becomes the pair's "
           "label, and the conflict stays settled until someone relabels the pair).")
all_conflicts = conflicts(entries, include_settled=True)
open_conflicts = [c for c in all_conflicts if not c.settled]
names = {"left": dict(zip(dataset.left.entity_ids, dataset.left.names)),
         "right": dict(zip(dataset.right.entity_ids, dataset.right.names))}


def _name(side: str, entity_id: str) -> str:
    name = names[side].get(entity_id)
    return "(not in the project any more)" if name is None else shorten(name, NAME_CHARS)


if not open_conflicts:
    st.success("No open conflicts: wherever two analysts judged the same pair, they agree (or it is settled).")
else:
    st.markdown(f"**{len(open_conflicts):,} open**, oldest first" +
                (f" (the first {CONFLICTS_SHOWN} shown)" if len(open_conflicts) > CONFLICTS_SHOWN else ""))
    if not analyst_name():
        st.warning(ANALYST_PROMPT)
for position, conflict in enumerate(open_conflicts[:CONFLICTS_SHOWN]):
    key = f"{conflict.left_id}|{conflict.right_id}"
    with st.container(border=True, key=f"conflict-{position}"):  # ids may hold any character: not in a CSS class
        st.markdown(f"**{literal(_name('left', conflict.left_id))}** {code(conflict.left_id)} ↔ "
                    f"**{literal(_name('right', conflict.right_id))}** {code(conflict.right_id)} · "
                    f"{literal(conflict.type)}")
        st.markdown(_votes(conflict))
        accept, reject, _ = st.columns([1, 1, 3])
        accept.button("Settle: accept", key=f"settle-accept:{key}", on_click=_settle, args=(conflict, "accept"),
                      disabled=not analyst_name())
        reject.button("Settle: reject", key=f"settle-reject:{key}", on_click=_settle, args=(conflict, "reject"),
                      disabled=not analyst_name())

settled = [c for c in all_conflicts if c.settled]
if settled:
    with st.expander(f"Settled conflicts ({len(settled):,})"):
        st.dataframe(pd.DataFrame([{
            "left": names["left"].get(c.left_id, c.left_id), "right": names["right"].get(c.right_id, c.right_id),
            "type": c.type, "votes": " · ".join(f"{v.analyst}: {v.decision}" for v in c.votes),
            "settled as": c.resolution.decision, "by": c.resolution.analyst} for c in settled]), hide_index=True)
