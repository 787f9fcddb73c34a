"""The review page's parts: entity cards, the aligned attribute table, competing candidates, decision
callbacks, the drawing with its evidence in words, counterfactuals, team leases, progress, last decisions.

Every name, id, type and value from the data goes through :func:`ui.plain_text.literal` before
it reaches a Markdown-rendering element (see that module: the data is shown as text, never as
markup).

The page is laid out to decide at 1280x720 without scrolling: the two entity headings with the
decision buttons between them, then the aligned attributes beside the drawing (hop 1 by default,
so it reads at 100% zoom). What helps but is not needed for every pair (counterfactuals, the
attention tables, hop 2) sits below or one click away.
"""

from __future__ import annotations

import dataclasses
import json
import math
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor

import pandas as pd
import streamlit as st

from ui.failures import reported
from ui.label_state import ANALYST_PROMPT, sessions
from ui.plain_text import code, literal, shorten
from ui.project_state import project_key

DRAWING_HEIGHT = 280  # canvas pixels; the drawing's legend adds LEGEND_HEIGHT_PX above it
NAME_CHARS = 200  # longer names are cut in the card's heading; the full text is one click away
VALUE_CHARS = 300  # the same for attribute values in the card's table
COMPETITOR_KEYS = "123456789"  # one key per competing candidate: "this one matches"
LABEL_PX = 14  # on-screen size of the drawing's labels whatever the zoom (within the clamps below)
COUNTERFACTUALS_PER_SIDE = 3

# Tighter than Streamlit's default spacing, so cards, buttons and drawing fit 1280x720.
COMPACT_CSS = """<style>
  [data-testid="stMainBlockContainer"], .block-container { padding: 3rem 1.5rem 2rem 1.5rem !important; }
  [data-testid="stMain"] h1 { font-size: 1.35rem !important; padding: 0 0 0.1rem 0 !important; }
  [data-testid="stMain"] h3 { font-size: 1.2rem !important; padding: 0.1rem 0 0.2rem 0 !important; }
  [data-testid="stMain"] [data-testid="stVerticalBlock"] { gap: 0.45rem; }
  [data-testid="stMain"] [data-testid="stTable"] td, [data-testid="stMain"] [data-testid="stTable"] th {
    padding: 0.1rem 0.4rem !important; font-size: 0.85rem; }
  [data-testid="stMain"] [data-testid="stMetricValue"] { font-size: 1.35rem !important; }
  [data-testid="stMain"] [data-testid="stMetricLabel"] { min-height: 1rem !important; }
  [data-testid="stMain"] .stButton button { min-height: 2.1rem; padding-top: 0.15rem; padding-bottom: 0.15rem; }
</style>"""


def compact_layout() -> None:
    """Tighten the page's spacing (CSS only; nothing is loaded)."""
    st.html(COMPACT_CSS)


def entity_heading(column, title: str, kg, entity_id: str) -> None:
    """One side's heading: side, type, id and degree as a caption, the name as a subheading."""
    from core.review.entity_card import entity_card

    (index,) = kg.indices_of([entity_id])
    card = entity_card(kg, int(index))
    with column:
        st.caption(f"{title} · {literal(card.type)} · {code(card.entity_id)} · {card.degree} links")
        st.subheader(literal(shorten(card.name, NAME_CHARS)), anchor=False)
        if len(card.name) > NAME_CHARS:
            with st.expander("Full text of long values"):
                st.caption("name")
                st.text(card.name)


def entity_column(column, title: str, kg, entity_id: str) -> None:
    """A heading and the entity's own attribute table (for pages that show one entity)."""
    from core.review.entity_card import entity_card

    entity_heading(column, title, kg, entity_id)
    (index,) = kg.indices_of([entity_id])
    card = entity_card(kg, int(index))
    if card.attributes:
        column.table(pd.DataFrame([(literal(a), literal(shorten(v, VALUE_CHARS))) for a, v in card.attributes],
                                  columns=["attribute", "value"]).set_index("attribute"))


def aligned_attribute_table(dataset, left_id: str, right_id: str) -> None:
    """Both entities' attributes side by side, one row per aligned attribute, differences marked.

    A missing value reads "— missing"; the last column says "same", or how the values differ
    ("differs by 4", "12 days apart", "different"); the attribute column names both graphs'
    columns when they differ (``runtime / runtime_min``). Long values are cut (full text below).
    """
    from core.review.entity_card import aligned_attributes

    (left,), (right,) = dataset.left.indices_of([left_id]), dataset.right.indices_of([right_id])
    rows = aligned_attributes(dataset, int(left), int(right))
    if not rows:
        st.caption("Neither entity has attribute values: compare the names and the neighbourhoods.")
        return
    table = []
    for r in rows:
        named = r.name if r.left_attribute in (None, r.name) and r.right_attribute in (None, r.name) else \
            f"{r.left_attribute or '—'} / {r.right_attribute or '—'}"
        verdict = ("— only " + ("right" if r.left_value is None else "left") if r.same is None else
                   "✓ same" if r.same else "✗ " + (r.difference or "different"))
        table.append((literal(named), _shown(r.left_value), _shown(r.right_value), verdict))
    frame = pd.DataFrame(table, columns=["attribute", "left", "right", "compared"]).set_index("attribute")
    st.table(frame.style.apply(lambda column: [
        "background-color: #fde2e1" if v.startswith("✗") else "color: #8a8a8a" if v.startswith("—") else ""
        for v in column], subset=["compared"]))
    long = [(side, r.name, value) for r in rows for side, value in (("left", r.left_value), ("right", r.right_value))
            if value is not None and len(value) > VALUE_CHARS]
    if long:
        with st.expander("Full text of long values"):
            for side, attribute, value in long:
                st.caption(f"{side} · {literal(attribute)}")
                st.text(value)


def _shown(value: str | None) -> str:
    return "— missing" if value is None else literal(shorten(value, VALUE_CHARS))


def _claim_shown_pair(pair: tuple[str, str]) -> bool:
    """Take the one decision the pair on screen allows; False (and a toast) while the page is changing.

    The review page sets ``shown_pair`` as the last thing a run does, when the pair is fully on
    screen. A decision clears it, so a second key press that reaches the server before the next
    pair is drawn (the browser may still show the old buttons, or both) records nothing instead
    of deciding a pair the analyst has not seen, or deciding twice.
    """
    if st.session_state.get("shown_pair") != pair:
        st.session_state["flash"] = "The page was still changing: nothing recorded. Press again."
        return False
    st.session_state["shown_pair"] = None
    return True


def _has_analyst(analyst: str) -> bool:
    """False (and the prompt as a toast) when no analyst name is given: nothing is recorded then.

    The page disables its buttons without a name; this also covers a click or key press sent by
    a page drawn before the name was cleared.
    """
    if analyst.strip():
        return True
    st.session_state["flash"] = f"Nothing recorded. {ANALYST_PROMPT}"
    return False


@reported
def record(decision: str, names: tuple[str, str] | None = None, **context) -> None:
    """Button callback: store one decision (its own transaction), then the page shows the next pair.

    ``names``: the two entities' names, for the toast (ids when not given).
    """
    from db.labels import record_decision

    if not _has_analyst(context["analyst"]) or not _claim_shown_pair((context["left_id"], context["right_id"])):
        return
    note = st.session_state.get("note", "").strip() or None
    with sessions().begin() as session:
        record_decision(session, project=project_key(), decision=decision, note=note, **context)
    st.session_state["note"] = ""
    st.session_state.pop("focus_pair", None)
    shown = names or (context["left_id"], context["right_id"])
    st.session_state["flash"] = f"{decision}: {literal(shown[0])} ↔ {literal(shown[1])}"


@reported
def record_choice(decisions: tuple, *, analyst: str, model_version: str | None, shown: tuple[str, str],
                  message: str, blind: bool = False) -> None:
    """Callback of "this one matches": the accept and the rejects as one batch, undone in one step."""
    from db.labels import BatchDecision, record_batch

    if not _has_analyst(analyst) or not _claim_shown_pair(shown):
        return
    note = st.session_state.get("note", "").strip() or None
    with sessions().begin() as session:
        record_batch(session, project=project_key(), analyst=analyst, model_version=model_version, note=note,
                     decisions=[BatchDecision(d.left_id, d.right_id, d.type, d.decision,
                                              None if blind else d.score) for d in decisions])
    st.session_state["note"] = ""
    st.session_state.pop("focus_pair", None)
    st.session_state["flash"] = message


@reported
def undo_last_decision(analyst: str) -> None:
    """Undo is a new event; the undone pair comes back to the front of the review."""
    from db.labels import undo_last_step

    if not _has_analyst(analyst) or not _claim_shown_pair(st.session_state.get("shown_pair") or ("", "")):
        return
    with sessions().begin() as session:
        undone = undo_last_step(session, project=project_key(), analyst=analyst)
    if not undone:
        st.session_state["flash"] = "Nothing to undo."
        return
    first = undone[0]
    st.session_state["focus_pair"] = (first.left_id, first.right_id)
    names = pair_names(first.left_id, first.right_id)
    more = f" (and {len(undone) - 1} decisions made with it)" if len(undone) > 1 else ""
    st.session_state["flash"] = (f"undone: {first.decision.value} of {literal(names[0])} ↔ "
                                 f"{literal(names[1])}{more}")


@reported
def change_decision(left_id: str, right_id: str, type_name: str, analyst: str, version: str | None) -> None:
    """Callback of the side list: the new choice is recorded as a new decision on that pair."""
    from db.labels import record_decision

    decision = st.session_state[f"edit:{left_id}:{right_id}"]
    if not _has_analyst(analyst):
        return
    with sessions().begin() as session:
        record_decision(session, project=project_key(), left_id=left_id, right_id=right_id, type=type_name,
                        decision=decision, analyst=analyst, model_version=version)
    names = pair_names(left_id, right_id)
    st.session_state["flash"] = f"changed to {decision}: {literal(names[0])} ↔ {literal(names[1])}"


def pair_names(left_id: str, right_id: str) -> tuple[str, str]:
    """The two entities' names (the id where an entity has no name or is unknown), for toasts and lists."""
    from ui.project_state import load_dataset, project_dir

    dataset = load_dataset(str(project_dir()))
    return entity_name(dataset.left, left_id), entity_name(dataset.right, right_id)


def entity_name(kg, entity_id: str) -> str:
    (index,) = kg.indices_of([entity_id])
    name = str(kg.names[int(index)]) if index >= 0 else ""
    return name or str(entity_id)


# ------------------------------------------------------------------------- team queue (leases) ----
def claim_pair(queue, scores: pd.DataFrame, decided: set[str], analyst: str, focus: tuple[str, str] | None,
               *, keep_held: bool = True) -> tuple[tuple[str, str] | None, bool]:
    """The pair to show this analyst, reserved for them: ((left_id, right_id) or None, leased).

    With ``keep_held`` (the page reruns on the same queue: a toggle, a reload), a pair the analyst
    already holds stays theirs (the lease is renewed) while it is undecided and in the queue in
    force; otherwise (or after a change of queue order or type, where the analyst expects the new
    queue's head) the first pair of the queue that no other analyst holds is
    leased, in one atomic statement per try (``db.leases.acquire_lease``), so two analysts who
    start together get different pairs. A pair opened from search or brought back by undo
    (``focus``) is shown whoever holds it. Without an analyst name nothing is leased, and the pair
    shown is the first one nobody holds (the one the analyst will get once they type their name).
    """
    from core.review.queue import pair_key
    from db.leases import acquire_lease, active_leases, held_by_others, lease_of

    def pair_at(row) -> tuple[str, str]:
        found = scores.iloc[int(row)]
        return str(found["left_id"]), str(found["right_id"])

    project = project_key()
    if not analyst:  # nothing can be labelled yet; still, show a pair nobody else holds
        with sessions().begin() as session:
            taken = {pair_key(lease.left_id, lease.right_id) for lease in active_leases(session, project=project)}
        rows, _ = queue.pending(decided | taken, 1)
        return (focus or (pair_at(rows[0]) if len(rows) else None)), False
    with sessions().begin() as session:
        if focus is not None:
            lease = acquire_lease(session, project=project, analyst=analyst, candidates=[focus])
            return focus, lease is not None
        mine = lease_of(session, project=project, analyst=analyst)
        candidates = []
        if mine is not None and keep_held:
            key = pair_key(mine.left_id, mine.right_id)
            if key not in decided and key in queue.keys:
                candidates.append((mine.left_id, mine.right_id))
        taken = {pair_key(a, b) for a, b in held_by_others(session, project=project, analyst=analyst)}
        rows, _ = queue.pending(decided | taken, 8)
        candidates += [pair_at(row) for row in rows]
        lease = acquire_lease(session, project=project, analyst=analyst, candidates=candidates)
    if lease is not None:
        return (lease.left_id, lease.right_id), True
    return (candidates[0] if candidates else None), False


def release_my_pair(analyst: str) -> None:
    """Give back the analyst's reserved pair (nothing left to show them)."""
    from db.leases import release_leases

    if analyst:
        with sessions().begin() as session:
            release_leases(session, project=project_key(), analyst=analyst)


def decisions_per_hour_of(analyst: str) -> float:
    from db.labels import decisions_per_hour

    if not analyst:
        return 0.0
    with sessions().begin() as session:
        return decisions_per_hour(session, project=project_key(), analyst=analyst)


def remembered_selectbox(label: str, options: list, key: str, **kwargs):
    """A sidebar selectbox whose choice survives page switches (kept under a key no widget owns)."""
    memory = f"remembered:{key}"
    if st.session_state.get(memory) not in options:
        st.session_state[memory] = options[0]
    st.session_state[key] = st.session_state[memory]

    def remember() -> None:
        st.session_state[memory] = st.session_state[key]

    return st.sidebar.selectbox(label, options, key=key, on_change=remember, **kwargs)


# ------------------------------------------------------------------------ competing candidates ----
@st.cache_resource(show_spinner=False, max_entries=4)
def candidate_index(directory: str, version: str | None):
    """Each entity's rows in the score table, built once per model version."""
    from core.review.competitors import CandidateIndex
    from ui.project_state import load_scores

    return CandidateIndex.build(load_scores(directory, version))


@st.cache_resource(show_spinner=False)
def one_to_one(directory: str) -> frozenset[str]:
    from core.review.competitors import one_to_one_types
    from ui.project_state import load_dataset

    return one_to_one_types(load_dataset(directory))


def competitor_panel(directory: str, version: str | None, dataset, pair, labels: pd.DataFrame, *, analyst: str,
                     blind: bool) -> None:
    """The other candidates of both entities, each one key from "this one matches".

    Keys 1-9 go to the left entity's list first, then the right entity's. Picking a candidate
    accepts it and, in a one-to-one type, rejects the entity's other candidates, as one batch
    (one undo takes it all back).
    """
    from core.review.competitors import competing_candidates, this_one_matches

    current = {(a, b): d for a, b, d in zip(labels["left_id"], labels["right_id"], labels["decision"])}
    found = competing_candidates(candidate_index(directory, version), dataset, pair["left_id"], pair["right_id"],
                                 labels=current, limit=5)
    if not found.has_competition:
        st.caption("No competing candidates: each entity has only this pair.")
        return
    unique = one_to_one(directory)
    is_one_to_one = found.type in unique
    st.markdown("**Competing candidates** · press the number: *this one matches*"
                + (" (the entity's other candidates are rejected with it)" if is_one_to_one else ""))
    keys = iter(COMPETITOR_KEYS)
    shown = (pair["left_id"], pair["right_id"])
    names = pair_names(*shown)
    for side, entries, whose in (("left", found.of_left, names[0]), ("right", found.of_right, names[1])):
        if len(entries) < 2:
            continue
        st.caption(f"Candidates of {literal(whose)} ({side}):")
        for c in entries:
            key = next(keys, None)
            if key is None:
                break
            value = ("" if blind else f" · {c.probability:.0%}" if c.probability is not None else
                     f" · score {c.score:.2f}" if math.isfinite(c.score) else "")
            label = (f"{literal(shorten(c.other_name, 60))}{value}"
                     + (" · on screen" if c.on_screen else "") + (f" · {c.label}" if c.label else ""))
            decisions = this_one_matches(found, c.pair, side=side, one_to_one=is_one_to_one)
            chosen = (whose, c.other_name) if side == "left" else (c.other_name, whose)
            rejected = len(decisions) - 1
            message = (f"accept: {literal(chosen[0])} ↔ {literal(chosen[1])}"
                       + (f", and {rejected} other candidate{'s' if rejected != 1 else ''} of "
                          f"{literal(whose)} rejected (one undo takes it all back)" if rejected else ""))
            st.button(label, key=f"choose:{side}:{c.left_id}|{c.right_id}:{shown[0]}|{shown[1]}", shortcut=key,
                      on_click=record_choice, args=(decisions,), disabled=not analyst, width="stretch",
                      kwargs=dict(analyst=analyst, model_version=version, shown=shown, message=message, blind=blind))


# ------------------------------------------------------------------- the drawing and its words ----
# Explanations and counterfactuals per (model version, pair), shared by every session of the server,
# computed once even when asked for by two threads at once. The review page asks on its thread;
# ``prefetch`` asks for the queue's next pair on a worker thread once the page is drawn, so the
# pair after a key press is usually ready and the drawing does not wait for a forward pass.
_MEMO: OrderedDict[tuple, Future] = OrderedDict()
_MEMO_LOCK = threading.Lock()
_MEMO_SIZE = 512
_PREFETCH = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mualign-prefetch")


def _memo(key: tuple, compute):
    with _MEMO_LOCK:
        future = _MEMO.get(key)
        mine = future is None
        if mine:
            future = _MEMO[key] = Future()
            while len(_MEMO) > _MEMO_SIZE:
                _MEMO.popitem(last=False)
        else:
            _MEMO.move_to_end(key)
    if mine:
        try:
            future.set_result(compute())
        except BaseException as exc:
            future.set_exception(exc)
            with _MEMO_LOCK:
                _MEMO.pop(key, None)
            raise
    return future.result()


def _explanation(directory: str, version: str, left_id: str, right_id: str, scorer, dataset):
    from core.explanations.attention import explain_pair

    def compute():
        (left,), (right,) = dataset.left.indices_of([left_id]), dataset.right.indices_of([right_id])
        return explain_pair(scorer, int(left), int(right), model_version=version)

    return _memo(("explanation", directory, version, left_id, right_id), compute)


def _counterfactuals(directory: str, version: str, left_id: str, right_id: str, scorer, dataset):
    from core.explanations.counterfactual import pair_counterfactuals

    def compute():
        (left,), (right,) = dataset.left.indices_of([left_id]), dataset.right.indices_of([right_id])
        return pair_counterfactuals(scorer, int(left), int(right), per_side=COUNTERFACTUALS_PER_SIDE,
                                    model_version=version)

    return _memo(("counterfactuals", directory, version, left_id, right_id), compute)


def prefetch(directory: str, version: str, scorer, dataset, pairs) -> None:
    """Explain and rescore ``pairs`` (the queue's next ones) on a worker thread, for the next page run.

    ``pairs``: a list, or a callable that gives it; a callable runs on the worker too (finding the
    next pair builds the queue's key index once, about a second on a 2.7M-pair table, which the
    page need not wait for).
    """
    def work() -> None:
        try:
            chosen = pairs() if callable(pairs) else pairs
        except Exception:  # noqa: BLE001 - the page finds its next pair itself when it comes
            return
        for left_id, right_id in chosen:
            try:
                _explanation(directory, version, left_id, right_id, scorer, dataset)
                _counterfactuals(directory, version, left_id, right_id, scorer, dataset)
            except Exception:  # noqa: BLE001 - a guess that fails costs nothing: the page computes it itself
                return

    _PREFETCH.submit(work)


def next_pairs(queue, scores: pd.DataFrame, decided: set[str], shown: tuple[str, str], n: int = 1) -> list:
    """The pairs the queue would show after ``shown`` (other analysts' leases not considered)."""
    from core.review.queue import pair_key

    rows, _ = queue.pending(decided | {pair_key(*shown)}, n)
    return [(str(scores.iloc[int(r)]["left_id"]), str(scores.iloc[int(r)]["right_id"])) for r in rows]


@st.cache_resource(show_spinner=False)
def seed_matches(directory: str) -> frozenset[tuple[str, str]]:
    """(left_id, right_id) of the positive TRAIN links: pairs known to be the same entity."""
    from core.data.links import Split
    from ui.project_state import load_dataset

    dataset = load_dataset(directory)
    links = dataset.links.in_split(Split.TRAIN).positives()
    return frozenset(zip(dataset.left.entity_ids[links.left].astype(str), dataset.right.entity_ids[links.right].astype(str)))


def explanation_of(directory: str, version: str, scorer, dataset, left_id: str, right_id: str):
    return _explanation(directory, version, left_id, right_id, scorer, dataset)


def evidence_words_panel(explanation, directory: str, labels: pd.DataFrame) -> None:
    """The drawing's evidence in sentences: shared neighbours per type, the neighbours that counted."""
    from core.review.evidence_words import KnownPairs, evidence_in_words

    accepted = labels[labels["decision"] == "accept"]
    known = KnownPairs((seed_matches(directory),
                        set(zip(accepted["left_id"].astype(str), accepted["right_id"].astype(str)))))
    words = evidence_in_words(explanation, known_matches=known)
    lines = [f"- {literal(sentence)}" for sentence in words.sentences]
    for side in ("left", "right"):
        counted = [n for n in words.side(side) if n.words in ("counted most", "counted a lot", "the only neighbour")]
        if counted:
            said = ", ".join(f"{literal(shorten(n.name, 40))} ({n.words})" for n in counted[:3])
            lines.append(f"- {side}: {said}")
    st.markdown("**Evidence in words** (the sampled neighbours the model read)\n" + "\n".join(lines))
    return words


def draw_pair(explanation, words) -> None:
    """The drawing: hop 1 by default (hop 2 one click away), zoom by buttons only, labels legible."""
    from core.explanations.drawing import LEGEND_HEIGHT_PX, AttentionMode, render_pair_html

    st.session_state.setdefault("show_hop2", False)
    st.session_state["hop2_toggle"] = st.session_state["show_hop2"]
    st.toggle("Show hop 2 (the neighbours' neighbours)", key="hop2_toggle", on_change=_remember_hop2)
    hops = 2 if st.session_state["show_hop2"] else 1
    mode = st.session_state.get("attention_mode", AttentionMode.COMBINED)
    shown = explanation if hops == 2 else hop1_only(explanation)
    page = render_pair_html(shown, mode=mode, height_px=DRAWING_HEIGHT)
    page = readable_drawing(page, _node_words(words))
    st.iframe(page, height=DRAWING_HEIGHT + LEGEND_HEIGHT_PX + 6)


def _remember_hop2() -> None:
    st.session_state["show_hop2"] = st.session_state["hop2_toggle"]


def hop1_only(explanation):
    """The explanation with both neighbourhoods cut to the pair entities and their hop-1 neighbours."""
    def cut(hood):
        return dataclasses.replace(hood, nodes=tuple(n for n in hood.nodes if n.hop <= 1),
                                   edges=tuple(e for e in hood.edges if e.hop <= 1))

    return dataclasses.replace(explanation, left_neighbourhood=cut(explanation.left_neighbourhood),
                               right_neighbourhood=cut(explanation.right_neighbourhood))


def _node_words(words) -> dict[str, str]:
    """Drawing node id -> the neighbour's weight in words and its numbers, for the hover."""
    if words is None:
        return {}
    return {("L:" if n.side == "left" else "R:") + n.entity_id:
            f"{n.words} (w {n.weight:.2f}, α {n.alpha:.2f}, β {n.beta:.2f})" for n in words.neighbours}


# Injected into the drawing's page: zoom by buttons only (the mouse wheel scrolls the review page,
# not the graph), a Fit button, labels kept at LABEL_PX on screen at every zoom, and the weight in
# words added as a last line of each neighbour's hover (set with vis-network's string titles, as text).
# The controls sit in the drawing's own box (pyvis's ``.card``, positioned here), so they stay at
# its top corner however tall the legend above it grows.
_DRAWING_TOOLS = """<div id="mualign-tools" role="toolbar" aria-label="drawing controls">
  <button type="button" id="mualign-zoom-in" title="Zoom in" aria-label="Zoom in">+</button>
  <button type="button" id="mualign-zoom-out" title="Zoom out" aria-label="Zoom out">&minus;</button>
  <button type="button" id="mualign-fit" title="Fit the drawing to the frame" aria-label="Fit">Fit</button>
</div>
<style>
  body > .card { position: relative; }
  #mualign-tools { position: absolute; right: 8px; top: 6px; z-index: 10; display: flex; gap: 4px; }
  #mualign-tools button { font: 13px sans-serif; min-width: 30px; height: 26px; border: 1px solid #bbb;
    border-radius: 4px; background: #fff; cursor: pointer; }
  #mualign-tools button:hover { background: #eef3fb; }
</style>
"""
_READABLE_DRAWING = """
<script type="text/javascript">
(function () {
  if (typeof network === "undefined") { return; }
  var words = %(words)s;
  var updates = [];
  network.body.data.nodes.forEach(function (node) {
    if (Object.prototype.hasOwnProperty.call(words, node.id)) {
      updates.push({id: node.id, title: String(node.title) + "\\nweight: " + words[node.id]});
    }
  });
  if (updates.length) { network.body.data.nodes.update(updates); }
  network.setOptions({interaction: {zoomView: false, dragView: true, keyboard: false, navigationButtons: false}});
  // Hop 1 only: the two pair entities at the outside, each side's neighbours in a column towards the
  // middle, a right neighbour at the height of the left neighbour it is closest to (the dashed
  // counterpart edges then run across, short and flat), spaced for labels of LABEL_PX.
  var nodes = network.body.data.nodes.get();
  var hopOneOnly = !nodes.some(function (n) { return n.hop > 1; });
  function layOut(scale) {
    var gap = 56 / scale, across = 64 / scale, outside = 196 / scale, moved = [], yOf = {}, wanted = {};
    var left = nodes.filter(function (n) { return n.side === "left" && n.hop === 1; });
    var right = nodes.filter(function (n) { return n.side === "right" && n.hop === 1; });
    left.forEach(function (n, i) { yOf[n.id] = (i - (left.length - 1) / 2) * gap; moved.push({id: n.id, x: -across, y: yOf[n.id]}); });
    network.body.data.edges.get({filter: function (e) { return e.kind === "counterpart"; }}).forEach(function (e) {
      if (yOf[e.from] !== undefined && wanted[e.to] === undefined) { wanted[e.to] = yOf[e.from]; }
    });
    right.sort(function (a, b) {
      var ya = wanted[a.id] === undefined ? Infinity : wanted[a.id], yb = wanted[b.id] === undefined ? Infinity : wanted[b.id];
      return ya - yb;
    });
    right.forEach(function (n, i) { moved.push({id: n.id, x: across, y: (i - (right.length - 1) / 2) * gap}); });
    nodes.filter(function (n) { return n.hop === 0; }).forEach(function (n) {
      moved.push({id: n.id, x: n.side === "left" ? -outside : outside, y: 0});
    });
    // four columns of labels share the frame's width: short labels (the full name is in the hover
    // and, for the pair, in the headings above), all at the hop-1 size
    moved.forEach(function (m) {
      var node = network.body.data.nodes.get(m.id), text = String(node.entity_name || node.label || "");
      m.label = text.length > SHORT ? text.slice(0, SHORT - 1) + "\u2026" : text || node.label;
      fonts[m.id] = Object.assign({}, fonts[m.id], {size: 16});
    });
    network.body.data.nodes.update(moved);
  }
  var SHORT = 16;
  // each node keeps its own size relative to the others (pair > hop 1 > hop 2); hop 1 reads at label px
  var fonts = {};
  network.body.data.nodes.forEach(function (node) { fonts[node.id] = node.font || {size: 16}; });
  function legible() {
    var factor = Math.max(0.6, Math.min(4, (%(label)d / 16) / Math.max(network.getScale(), 0.01)));
    network.body.data.nodes.update(Object.keys(fonts).map(function (id) {
      return {id: id, font: Object.assign({}, fonts[id], {size: (fonts[id].size || 16) * factor})};
    }));
    network.setOptions({edges: {font: {size: 12 * factor}}});
  }
  function zoom(factor) { network.moveTo({scale: network.getScale() * factor, animation: false}); legible(); }
  document.getElementById("mualign-zoom-in").addEventListener("click", function () { zoom(1.3); });
  document.getElementById("mualign-zoom-out").addEventListener("click", function () { zoom(1 / 1.3); });
  document.getElementById("mualign-fit").addEventListener("click", function () {
    network.fit({animation: false}); legible();
  });
  if (hopOneOnly) { layOut(1); }  // in screen pixels at zoom 1, about the zoom a fitted hop-1 drawing gets
  network.fit({animation: false});
  legible();
  network.fit({animation: false});  // again: the labels' new size changes what fits
  legible();
  window.mualignDrawing = {labelPx: %(label)d, legible: legible};
})();
</script>
"""


def readable_drawing(page: str, node_words: dict[str, str]) -> str:
    """The drawing page with the controls of ``_DRAWING_TOOLS`` and the hover words of ``_READABLE_DRAWING`` added."""
    data = json.dumps(node_words, ensure_ascii=True).replace("<", "\\u003c").replace(">", "\\u003e") \
        .replace("&", "\\u0026")
    script = _READABLE_DRAWING % {"words": data, "label": LABEL_PX}
    page = page.replace('<div id="mynetwork"', _DRAWING_TOOLS + '<div id="mynetwork"', 1)
    return page.replace("</body>", script + "</body>", 1)


def counterfactual_panel(directory: str, version: str, scorer, dataset, left_id: str, right_id: str) -> None:
    """"Without neighbour X the probability would be Y" for the most influential neighbours."""
    report = _counterfactuals(directory, version, left_id, right_id, scorer, dataset)
    if not report.neighbours:
        st.caption("Counterfactuals: neither entity has sampled neighbours, so nothing to take away.")
        return
    calibrated = report.probability is not None
    now = f"{report.probability:.1%}" if calibrated else f"score {report.score:.3f}"
    lines = []
    for c in report.neighbours:
        then = f"{c.probability:.1%}" if calibrated else f"{c.score:.3f}"
        change = c.probability_change if calibrated else c.score_change
        arrow = "▼" if change < -1e-9 else "▲" if change > 1e-9 else "="
        delta = f"{change * 100:+.0f} points" if calibrated else f"{change:+.3f}"
        lines.append(f"- without **{literal(shorten(c.name, 50))}** ({c.side}, {literal(', '.join(c.relations))}): "
                     f"{'probability' if calibrated else 'score'} would be **{then}** {arrow} {delta}")
    st.markdown(f"**Counterfactuals** (now {now}; the pair rescored with one neighbour taken out)\n"
                + "\n".join(lines))


def expert_tables(explanation) -> None:
    """The top layer's numbers (α, β, w) as tables, and the attention shown by edge widths."""
    from core.explanations.drawing import AttentionMode, evidence_table

    with st.expander("Attention numbers (α, β, w) for experts"):
        labels = {AttentionMode.COMBINED: "Combined w = α·β", AttentionMode.CROSS: "Cross-graph α",
                  AttentionMode.SELF: "Self-attention β"}
        st.radio("Edge width shows", list(labels), format_func=labels.get, horizontal=True, key="attention_mode")
        left_table, right_table = st.columns(2)
        for column, side, title in ((left_table, "left", "Left neighbours"), (right_table, "right", "Right neighbours")):
            column.caption(title)
            table = evidence_table(explanation, side)
            if table.empty:
                column.write("No neighbours: the score rests on the entity's own name and attributes.")
            else:
                column.dataframe(table, hide_index=True, width="stretch")


def draw_attention(directory: str, version: str, scorer, dataset, left_id: str, right_id: str) -> None:
    """The drawing alone (hop 1, readable), for pages other than the review page."""
    explanation = explanation_of(directory, version, scorer, dataset, left_id, right_id)
    draw_pair(explanation, None)


# -------------------------------------------------------------------------- sidebar: progress ----
def progress_panel(labels: pd.DataFrame, n_left: int, *, entity_type: str | None = None,
                   per_hour: float | None = None) -> None:
    """How far the review is: decided and left for the type filter in force, the pace, and per analyst."""
    sidebar = st.sidebar
    in_filter = labels if entity_type is None else labels[labels["type"] == entity_type]
    decided = len(in_filter)
    scope = "" if entity_type is None else f" ({literal(entity_type)})"
    sidebar.markdown(f"**Progress**: {decided:,} decided · {n_left:,} left in this queue{scope}"
                     + (f" · you: {per_hour:,.0f} per hour" if per_hour else ""))
    sidebar.progress(decided / max(decided + n_left, 1))
    if len(labels):
        counts = labels.pivot_table(index="type", columns="decision", values="left_id", aggfunc="count",
                                    fill_value=0)
        sidebar.dataframe(counts, width="stretch")
        sidebar.dataframe(labels.groupby("analyst").size().rename("decisions"), width="stretch")


def last_decisions(labels: pd.DataFrame, analyst: str, version: str | None, limit: int = 8) -> None:
    """The analyst's latest current labels (``labels`` oldest first), by name, each still editable."""
    mine = labels[labels["analyst"] == analyst].tail(limit)
    st.sidebar.markdown("**Your last decisions**")
    if mine.empty:
        st.sidebar.caption("None yet.")
    for label in mine.iloc[::-1].itertuples(index=False):
        key = f"edit:{label.left_id}:{label.right_id}"
        st.session_state[key] = label.decision
        # A widget label is Markdown on screen but verbatim in its accessible name (aria-label), so
        # an escaped label would read with backslashes: the label (ids) stays raw for assistive
        # tools, and the caption shows the names literally.
        names = pair_names(str(label.left_id), str(label.right_id))
        st.sidebar.caption(f"{literal(shorten(names[0], 60))} ↔ {literal(shorten(names[1], 60))}")
        st.sidebar.selectbox(f"{label.left_id} ↔ {label.right_id}", ["accept", "reject", "skip"], key=key,
                             label_visibility="collapsed", on_change=change_decision,
                             args=(label.left_id, label.right_id, label.type, analyst, version))


def blind_mode_toggle() -> bool:
    """The sidebar switch for blind labelling: no score, probability, rank or score-ordered queue.

    Gold labels meant to measure the model must not be nudged by it, so in blind mode the page
    hides everything the model says about the pair (the drawing too: its edges are the model's
    attention and its legend states distance and probability), the queue is the seeded random
    order, and decisions are stored without a score. The choice is kept under ``blind_mode``, a
    key no widget owns: Streamlit forgets a widget's own state after a run of another page, and
    an analyst who came back from the search page would otherwise find the scores shown again.
    """
    st.session_state.setdefault("blind_mode", False)
    st.session_state["blind_toggle"] = st.session_state["blind_mode"]
    st.sidebar.toggle("Blind mode", key="blind_toggle", on_change=_remember_blind_mode,
                      help="Hide the model's score, probability, rank and drawing, and review in the seeded random "
                           "order: unbiased gold labels. Decisions are stored without a score.")
    return bool(st.session_state["blind_mode"])


def _remember_blind_mode() -> None:
    st.session_state["blind_mode"] = st.session_state["blind_toggle"]


def other_analysts_note(entries: list, pair: tuple[str, str], analyst: str, current) -> None:
    """Say so when other analysts labelled the pair on screen, and loudly when analysts disagree.

    The queue never shows a labelled pair, so this appears for pairs opened from search or
    brought back by undo. The project-wide label stays the latest event (``current``: the
    pair's row of the current-labels frame, or None); the note makes a disagreement that rule
    would hide visible, and points to the Agreement page's conflict queue.
    """
    from core.review.agreement import conflicts, pair_votes

    votes = pair_votes(entries, *pair)
    if not any(v.analyst != analyst for v in votes):
        return
    said = " · ".join(f"{literal(v.analyst)}: **{v.decision}**" for v in votes)
    found = conflicts([e for e in entries if e.pair == pair], include_settled=True)
    if not found:
        st.caption(f"Also labelled by another analyst: {said}")
    elif found[0].settled:
        resolution = found[0].resolution
        st.info(f"Analysts disagreed on this pair ({said}); {literal(resolution.analyst)} settled it as "
                f"**{resolution.decision}** on the Agreement page.")
    else:
        latest = "" if current is None else (f" The pair's current label is the latest one: "
                                              f"{literal(current['analyst'])}'s {current['decision']}.")
        st.warning(f"Analysts disagree on this pair: {said}.{latest} Settle it in the conflict queue on the "
                   f"**Agreement** page.")


# ------------------------------------------------------------------------- conflict clusters ----
@st.cache_resource(show_spinner="Finding conflict clusters…", max_entries=8)
def _clusters(directory: str, version: str | None, labels_key: tuple, threshold: float, _scores, _labels):
    from core.review.conflicts import conflict_clusters

    return conflict_clusters(_scores, _labels, one_to_one=one_to_one(directory), threshold=threshold)


def conflict_clusters_of(directory: str, version: str | None, scores: pd.DataFrame, labels: pd.DataFrame,
                         threshold: float = 0.5):
    """The project's conflict clusters under ``version``, recomputed when the labels change."""
    key = (len(labels), str(labels["decided_at"].max()) if len(labels) else "")
    return _clusters(directory, version, key, threshold, scores, labels)


@reported
def settle_links(decisions: tuple, *, analyst: str, model_version: str | None, message: str) -> None:
    """Callback of the conflicts page: one link's decision, or keep-one-reject-the-rest as one batch."""
    from db.labels import BatchDecision, record_batch, record_decision

    if not _has_analyst(analyst):
        return
    with sessions().begin() as session:
        if len(decisions) == 1:
            d = decisions[0]
            record_decision(session, project=project_key(), left_id=d.left_id, right_id=d.right_id, type=d.type,
                            decision=d.decision, analyst=analyst, model_version=model_version, score=d.score)
        else:
            record_batch(session, project=project_key(), analyst=analyst, model_version=model_version,
                         decisions=[BatchDecision(d.left_id, d.right_id, d.type, d.decision, d.score)
                                    for d in decisions])
    st.session_state["flash"] = message


@reported
def undo_step(analyst: str) -> None:
    """Undo the analyst's last step (a whole batch at once) without the review page's pair checks."""
    from db.labels import undo_last_step

    if not _has_analyst(analyst):
        return
    with sessions().begin() as session:
        undone = undo_last_step(session, project=project_key(), analyst=analyst)
    st.session_state["flash"] = (f"undone: {len(undone)} decision{'s' if len(undone) != 1 else ''}" if undone
                                 else "Nothing to undo.")


# ------------------------------------------------------------------------------- bulk accept ----
@reported
def record_sample_label(decision: str, *, left_id: str, right_id: str, type_name: str, analyst: str,
                        model_version: str | None) -> None:
    """A blind-sample decision of the bulk-accept check: an ordinary label, stored without a score."""
    from db.labels import record_decision

    if not _has_analyst(analyst):
        return
    with sessions().begin() as session:
        record_decision(session, project=project_key(), left_id=left_id, right_id=right_id, type=type_name,
                        decision=decision, analyst=analyst, model_version=model_version,
                        note="bulk-accept check (blind sample)")
    names = pair_names(left_id, right_id)
    st.session_state["flash"] = f"{decision}: {literal(names[0])} ↔ {literal(names[1])}"


@reported
def record_bulk_accept(decisions: tuple, *, analyst: str, model_version: str | None, threshold: float,
                       precision: float | None) -> None:
    """The bulk accept: every pair above the threshold, one batch (one undo takes it back)."""
    from db.labels import BatchDecision, record_batch

    if not _has_analyst(analyst) or not decisions:
        return
    note = f"bulk accept at probability >= {threshold:.2f}" + (
        f" (blind sample precision {precision:.1%})" if precision is not None else "")
    with sessions().begin() as session:
        record_batch(session, project=project_key(), analyst=analyst, model_version=model_version, note=note,
                     decisions=[BatchDecision(d.left_id, d.right_id, d.type, d.decision, d.score) for d in decisions])
    st.session_state.pop("bulk_sample", None)
    st.session_state["flash"] = (f"accepted {len(decisions):,} pairs in one step (Undo my last step takes them "
                                 f"all back)")


def conflict_overview(directory: str) -> None:
    """Conflict clusters per type, for the Overview page, with the way to the Conflicts page."""
    from core.review.conflicts import conflict_counts
    from ui.label_state import current_labels_frame
    from ui.project_state import active_version, load_scores

    version = active_version(directory)
    scores = load_scores(directory, version)
    calibrated = "probability" in scores and len(scores) and scores["probability"].notna().all()
    threshold = 0.5 if calibrated else float(scores["score"].quantile(0.99)) if len(scores) else 0.0
    counts = conflict_counts(conflict_clusters_of(directory, version, scores, current_labels_frame(), threshold))
    if counts.empty:
        st.caption("No conflict clusters: accepted and predicted links agree with each other.")
        return
    st.dataframe(counts, hide_index=True)
    st.page_link("pages/conflicts.py", label=f"Review the {int(counts['clusters'].sum()):,} conflicts as groups",
                 icon="🧩")


def waterfall_panel(pair, threshold: float | None) -> None:
    """Why the matcher decides this pair as it does: its log-odds by evidence group (issue 15).

    Plain text in a code block (no HTML, so attribute names from the data cannot inject markup),
    one short line per group, so it sits beside the drawing within the 1280x720 layout.
    """
    from core.explanations.waterfall import compact_waterfall_lines
    from core.project.score_table import waterfall_of_row

    waterfall = waterfall_of_row(pair.to_dict(), threshold=threshold)
    if waterfall is None:
        return
    verdict = "match" if waterfall.decided else "no match"
    if waterfall.decided is not None and threshold is not None \
            and waterfall.decided != (waterfall.probability >= threshold):
        verdict += " (1-to-1 step)"
    st.caption(f"**Why this decision**: the matcher's log-odds, evidence group by group (█ for a match, "
               f"░ against) · decided: **{verdict}**")
    st.code("\n".join(compact_waterfall_lines(waterfall)), language=None)
