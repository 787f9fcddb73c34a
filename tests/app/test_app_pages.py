"""Every page of the review app with Streamlit's AppTest: the analyst's actions and the empty states."""

from __future__ import annotations

import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import db
from tests.conftest import REPO


def _app(monkeypatch, project, page: str | None = None) -> AppTest:
    monkeypatch.setenv("MUALIGN_PROJECT", str(project))
    monkeypatch.delenv("MUALIGN_DB", raising=False)
    monkeypatch.chdir(REPO)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.session_state["analyst"] = "ana"
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _labels(project) -> list:
    sessions = db.make_sessionmaker(db.make_engine(db.default_url(project)))
    with sessions.begin() as session:
        return db.current_labels(session, project=project.name)


def _shown_pair(at: AppTest) -> tuple[str, str]:
    """(left id, right id) of the pair on screen, read from the two entity captions."""
    ids = [c.value.split("`")[1] for c in at.caption if c.value.startswith(("Left ·", "Right ·"))]
    return ids[0], ids[1]


def _model_figures_shown(at: AppTest) -> list[str]:
    """Text on the page that comes from the model: the waterfall (contributions, decision), a competitor's
    probability or score."""
    texts = [c.value for c in at.caption] + [c.value for c in at.get("code")] + [b.label for b in at.button]
    return [t for t in texts if re.search(r"log-odds|decided:|Why this decision|· \d+%|score -?\d", t)]


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label.startswith(label))


def test_review_without_a_model_uses_names_and_stores_decisions(monkeypatch, tiny_project):
    at = _app(monkeypatch, tiny_project)
    assert at.title[0].value == "Review candidate pairs"
    assert any("No model yet" in i.value for i in at.info)
    first = _shown_pair(at)
    _button(at, "Accept").click().run()
    assert not at.exception
    labels = _labels(tiny_project)
    assert [(x.left_id, x.right_id, x.decision.value, x.analyst) for x in labels] == [(*first, "accept", "ana")]
    assert labels[0].model_version is None  # no model decided this one
    assert _shown_pair(at) != first


def test_review_accept_undo_skip_and_edit_with_a_model(monkeypatch, demo_copy):
    at = _app(monkeypatch, demo_copy)
    assert at.get("iframe"), "the neighbourhood drawing is missing"
    assert len(at.dataframe) >= 2  # the evidence tables under the drawing
    first = _shown_pair(at)
    at.text_input(key="note").set_value("same cast")
    _button(at, "Accept").click().run()
    second = _shown_pair(at)
    assert second != first
    (label,) = _labels(demo_copy)
    assert (label.left_id, label.right_id, label.note) == (*first, "same cast")
    assert label.model_version == (demo_copy / "models" / "ACTIVE").read_text().strip()

    _button(at, "Undo").click().run()
    assert _shown_pair(at) == first and _labels(demo_copy) == []  # back on screen, label gone
    _button(at, "Reject").click().run()
    _button(at, "Skip").click().run()
    labels = {(x.left_id, x.right_id): x.decision.value for x in _labels(demo_copy)}
    assert labels == {first: "reject", second: "skip"}

    # The side list keeps recent decisions editable: turn the rejection into an accept.
    at.selectbox(key=f"edit:{first[0]}:{first[1]}").set_value("accept").run()
    assert {(x.left_id, x.right_id): x.decision.value for x in _labels(demo_copy)}[first] == "accept"
    assert any("decided" in m.value for m in at.sidebar.markdown)


def test_review_with_no_candidates_says_so(monkeypatch, tiny_project):
    (tiny_project / "candidates.tsv").write_text("left_id\tright_id\ttype\tname_score\n")
    at = _app(monkeypatch, tiny_project)
    assert "no candidate pairs" in at.info[0].value


def test_review_of_a_type_whose_queue_is_empty(monkeypatch, tiny_project):
    at = _app(monkeypatch, tiny_project)
    at.selectbox(key="strategy").select_index(1).run()  # highest score first
    at.selectbox(key="type_filter").set_value("film").run()
    for _ in range(20):  # decide every film pair shown
        if at.success:
            break
        _button(at, "Reject").click().run()
    assert "Nothing left to review" in at.success[0].value


def _retrain_judged(monkeypatch, better: bool) -> None:
    """Fix the retrain's verdict: two 1-epoch models on the demo may compare either way."""
    import core.project.retrain as retrain_module

    reason = ("it is better on the same validation pairs (validation PRAUC 0.926 -> 0.964)" if better
              else "it is worse on the same validation pairs (validation PRAUC 0.964 -> 0.926)")
    monkeypatch.setattr(retrain_module, "activation", lambda before, after: retrain_module.Activation(better, reason))


def test_retrain_page_empty_state_then_a_new_version(monkeypatch, demo_copy):
    _retrain_judged(monkeypatch, better=True)
    at = _app(monkeypatch, demo_copy, "pages/retrain.py")
    before = (demo_copy / "models" / "ACTIVE").read_text().strip()
    assert "0 accepted" in at.markdown[0].value and before in at.markdown[0].value
    at.number_input[0].set_value(1).run()
    at.button[0].click().run()
    assert not at.exception, at.exception
    after = (demo_copy / "models" / "ACTIVE").read_text().strip()
    assert after != before and after in at.success[0].value and "better" in at.success[0].value
    assert after in at.markdown[0].value and before not in at.markdown[0].value  # the header names the new one
    assert len(at.selectbox(key="version_choice").options) == 2
    at.button(key="activate_previous").click().run()  # the analyst may still go back
    assert (demo_copy / "models" / "ACTIVE").read_text().strip() == before and before in at.markdown[0].value


def test_a_worse_retrain_is_not_made_active_until_the_analyst_chooses_it(monkeypatch, demo_copy):
    """Issue 13 item 10: validation PRAUC 0.964 -> 0.926, and the worse model became active."""
    _retrain_judged(monkeypatch, better=False)
    at = _app(monkeypatch, demo_copy, "pages/retrain.py")
    before = (demo_copy / "models" / "ACTIVE").read_text().strip()
    at.number_input[0].set_value(1).run()
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert (demo_copy / "models" / "ACTIVE").read_text().strip() == before  # still the old one
    (warning,) = at.warning
    shown = warning.value.replace("\\", "")  # the reason is shown as plain text (Markdown escaped)
    assert "stored but not active" in shown and "0.964 -> 0.926" in shown
    new = next(v for v in at.selectbox(key="version_choice").options if v != before)
    table = at.dataframe[0].value  # before and after, on the same validation pairs
    assert table["model"].tolist() == [f"before: {before}", f"after: {new}"]
    assert table["pairs"].nunique() == 1
    assert before in at.markdown[0].value

    at.button(key="activate_new").click().run()  # the analyst chooses the new one anyway
    assert not at.exception, at.exception
    assert (demo_copy / "models" / "ACTIVE").read_text().strip() == new
    assert new in at.markdown[0].value and before not in at.markdown[0].value  # the header follows the switch


def test_retrain_page_without_a_model(monkeypatch, tiny_project):
    at = _app(monkeypatch, tiny_project, "pages/retrain.py")
    assert any("No model version yet" in i.value for i in at.info)


def test_evaluation_page_threshold_slider_moves_the_figures(monkeypatch, demo_copy):
    at = _app(monkeypatch, demo_copy, "pages/evaluation.py")
    assert at.title[0].value == "Evaluation"
    assert at.get("vega_lite_chart"), "the PR curve is missing"
    slider = at.slider[0]
    low, high = slider.min, slider.max
    slider.set_value(high).run()
    predicted_high = next(m.value for m in at.metric if m.label == "Predicted matches")
    at.slider[0].set_value(low).run()
    predicted_low = next(m.value for m in at.metric if m.label == "Predicted matches")
    assert int(predicted_low.replace(",", "")) > int(predicted_high.replace(",", ""))
    assert len(at.dataframe) == 4  # per type, comparison with names, model versions, blocking
    versions_table = at.dataframe[2].value
    assert versions_table["variant"].tolist() == ["cg-mualign"] and versions_table["layers"].tolist() == [2]


def test_evaluation_page_leaves_out_the_pairs_analysts_labelled(monkeypatch, demo_copy):
    """Issue 13 item 11: rejected pairs stayed among the TEST pairs the Evaluation page scores."""
    from core.data.links import Split
    from core.evaluation.harness import evaluation_pairs
    from core.formats.native import load_candidates, load_project

    dataset = load_project(demo_copy)
    judged = evaluation_pairs(dataset, load_candidates(dataset, demo_copy), Split.TEST)
    wrong = np.flatnonzero(judged.label == 0)[:3]
    rejected = [(str(dataset.left.entity_ids[judged.left[i]]), str(dataset.right.entity_ids[judged.right[i]]),
                 dataset.schema.type_names[judged.type[i]]) for i in wrong]
    at = _app(monkeypatch, demo_copy, "pages/evaluation.py")
    pairs_before = int(at.dataframe[0].value["pairs"].iloc[0])
    for left_id, right_id, type_name in rejected:
        _record(demo_copy, "bob", (left_id, right_id), "reject", type_name)
    at.run()
    assert not at.exception, at.exception
    assert int(at.dataframe[0].value["pairs"].iloc[0]) == pairs_before - len(rejected)
    assert any(f"{len(rejected)} pairs analysts accepted or rejected" in c.value for c in at.caption)


def test_evaluation_page_without_a_model_shows_the_baseline(monkeypatch, tiny_project):
    at = _app(monkeypatch, tiny_project, "pages/evaluation.py")
    assert any("No model yet" in i.value for i in at.info)
    assert at.dataframe


def test_export_page_empty_and_with_labels(monkeypatch, demo_copy):
    at = _app(monkeypatch, demo_copy, "pages/export.py")
    assert any("No labels yet" in i.value for i in at.info)
    at.switch_page("pages/review.py").run()
    _button(at, "Accept").click().run()
    at.switch_page("pages/export.py").run()
    assert not at.exception and "1 accepted" in at.markdown[0].value
    assert not at.info


def test_search_opens_a_pair_in_the_review(monkeypatch, tiny_project):
    at = _app(monkeypatch, tiny_project, "pages/search.py")
    assert at.title[0].value == "Find a pair"
    at.text_input(key="search_query").set_value("Keanu Reevs").run()
    assert "Keanu Reeves" in at.selectbox[0].value.name
    assert at.dataframe[0].value["right_id"].iloc[0] == "q10"
    at.button[0].click().run()
    assert _shown_pair(at) == ("p1", "q10")  # the review now shows the searched pair
    assert any("opened from search" in c.value for c in at.caption)


def test_overview_lists_both_graphs(monkeypatch, tiny_project):
    at = _app(monkeypatch, tiny_project, "pages/overview.py")
    assert [m.value for m in at.metric] == ["6", "5", "6", "5"]


@pytest.mark.parametrize("page", ["pages/review.py", "pages/search.py", "pages/agreement.py", "pages/retrain.py",
                                  "pages/evaluation.py", "pages/export.py", "pages/overview.py"])
def test_every_page_explains_a_missing_project(monkeypatch, tmp_path, page):
    at = _app(monkeypatch, tmp_path / "missing", page)
    assert "mualign demo" in at.info[0].value


def test_a_decision_while_the_page_is_changing_records_nothing(monkeypatch, tiny_project):
    at = _app(monkeypatch, tiny_project)
    shown = _shown_pair(at)
    assert at.session_state["shown_pair"] == shown  # set once the pair is fully drawn
    at.session_state["shown_pair"] = None  # as after a first key press, before the next pair is on screen
    _button(at, "Reject").click().run()
    assert _labels(tiny_project) == [] and _shown_pair(at) == shown
    _button(at, "Reject").click().run()  # the page is complete again: this one counts
    assert [(x.left_id, x.right_id, x.decision.value) for x in _labels(tiny_project)] == [(*shown, "reject")]


# ------------------------------------------------------------ several analysts, agreement ----
def _record(project, analyst: str, pair: tuple[str, str], decision: str, type_name: str = "film", **extra) -> None:
    """A decision written straight to the project's label store, as another analyst's session would."""
    sessions = db.make_sessionmaker(db.make_engine(db.default_url(project)))
    with sessions.begin() as session:
        db.record_decision(session, project=project.name, left_id=pair[0], right_id=pair[1], type=type_name,
                           decision=decision, analyst=analyst, **extra)


def _events(project) -> list:
    sessions = db.make_sessionmaker(db.make_engine(db.default_url(project)))
    with sessions.begin() as session:
        return db.events(session, project=project.name)[::-1]


def _frame(element):
    return element.value.reset_index(drop=True)


def test_agreement_page_without_labels_says_so(monkeypatch, tiny_project):
    at = _app(monkeypatch, tiny_project, "pages/agreement.py")
    assert at.title[0].value == "Agreement between analysts"
    assert "No labels yet" in at.info[0].value


def test_agreement_page_counts_kappa_and_settles_a_conflict(monkeypatch, tiny_project):
    _record(tiny_project, "ana", ("f2", "m11"), "accept")
    _record(tiny_project, "bob", ("f2", "m11"), "reject")
    _record(tiny_project, "ana", ("p2", "q11"), "accept", "person")
    _record(tiny_project, "bob", ("p2", "q11"), "accept", "person")
    _record(tiny_project, "cy", ("f3", "m12"), "skip")
    _record(tiny_project, "dan", ("p2", "q11"), "accept", "person")  # one shared pair each, same label
    at = _app(monkeypatch, tiny_project, "pages/agreement.py")

    counts, pairwise = _frame(at.dataframe[0]), _frame(at.dataframe[1])
    assert counts.to_dict("records") == [
        {"analyst": "ana", "accepts": 2, "rejects": 0, "skips": 0, "pairs": 2},
        {"analyst": "bob", "accepts": 1, "rejects": 1, "skips": 0, "pairs": 2},
        {"analyst": "cy", "accepts": 0, "rejects": 0, "skips": 1, "pairs": 1},
        {"analyst": "dan", "accepts": 1, "rejects": 0, "skips": 0, "pairs": 1}]
    by_pair = {(r["analyst A"], r["analyst B"]): r for r in pairwise.to_dict("records")}
    assert set(by_pair) == {("ana", "bob"), ("ana", "dan"), ("bob", "dan")}  # cy judged nothing
    # ana accepts both, bob one of two: observed 1/2 = chance 1 * 1/2, so kappa 0
    assert (by_pair["ana", "bob"]["shared pairs"], by_pair["ana", "bob"]["agreed"]) == (2, 1)
    assert (by_pair["ana", "bob"]["raw agreement"], by_pair["ana", "bob"]["Cohen's kappa"]) == ("50%", "0.00")
    assert (by_pair["ana", "dan"]["raw agreement"], by_pair["ana", "dan"]["Cohen's kappa"]) == ("100%", "-")

    # the conflict queue: one pair, both names, who said what
    assert any("1 open" in m.value for m in at.markdown)
    pair_line = next(m.value for m in at.markdown if "`f2`" in m.value)
    assert "Matrix Reloaded" in pair_line and "The Matrix Reloaded" in pair_line and "`m11`" in pair_line
    assert any(m.value == "ana: **accept** · bob: **reject**" for m in at.markdown)

    at.session_state["analyst"] = "lead"  # typed in the sidebar box, which AppTest drops after switch_page
    next(b for b in at.button if b.label == "Settle: reject").click().run()
    assert not at.exception, at.exception
    last = _events(tiny_project)[-1]
    assert (last.left_id, last.right_id, last.decision.value, last.analyst, last.resolution) == (
        "f2", "m11", "reject", "lead", True)
    assert {(x.left_id, x.right_id): (x.decision.value, x.analyst) for x in _labels(tiny_project)}[("f2", "m11")] \
        == ("reject", "lead")  # the resolution is the pair's label now
    assert "No open conflicts" in at.success[0].value
    settled = _frame(at.expander[0].dataframe[0])
    assert settled[["settled as", "by"]].values.tolist() == [["reject", "lead"]]
    # a settlement is not the settler's own label: lead does not appear among the analysts
    assert "lead" not in set(_frame(at.dataframe[0])["analyst"])


def test_settling_a_conflict_that_changed_meanwhile_records_nothing(monkeypatch, tiny_project):
    _record(tiny_project, "ana", ("f2", "m11"), "accept")
    _record(tiny_project, "bob", ("f2", "m11"), "reject")
    at = _app(monkeypatch, tiny_project, "pages/agreement.py")
    _record(tiny_project, "bob", ("f2", "m11"), "accept")  # bob changes his mind while the page is open
    before = len(_events(tiny_project))
    next(b for b in at.button if b.label == "Settle: reject").click().run()
    assert len(_events(tiny_project)) == before
    assert "No open conflicts" in at.success[0].value


def test_review_notes_when_analysts_disagree_on_the_pair_on_screen(monkeypatch, tiny_project):
    _record(tiny_project, "bob", ("f2", "m11"), "reject")
    _record(tiny_project, "cy", ("f2", "m11"), "accept")
    monkeypatch.setenv("MUALIGN_PROJECT", str(tiny_project))
    monkeypatch.chdir(REPO)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.session_state["analyst"] = "ana"
    at.session_state["focus_pair"] = ("f2", "m11")  # as opened from the search page
    at.run()
    assert _shown_pair(at) == ("f2", "m11")
    (warning,) = at.warning
    assert "bob: **reject**" in warning.value and "cy: **accept**" in warning.value
    assert "cy's accept" in warning.value  # the project-wide label: the latest event

    _record(tiny_project, "lead", ("f2", "m11"), "reject", resolution=True)
    at.session_state["focus_pair"] = ("f2", "m11")
    at.run()
    assert not at.warning and any("lead settled it as **reject**" in i.value for i in at.info)


def test_blind_mode_hides_the_model_forces_random_order_and_stores_no_score(monkeypatch, demo_copy):
    at = _app(monkeypatch, demo_copy)
    at.selectbox(key="strategy").select_index(2).run()  # random
    random_first = _shown_pair(at)
    at.selectbox(key="strategy").select_index(1).run()  # highest score first
    assert _shown_pair(at) != random_first  # the orders differ, so the next check means something
    # the demo's table is the matcher's: its probability and log-odds, and the waterfall of its
    # contributions with the decision, are what the model tells the analyst
    assert {m.label for m in at.metric} == {"Match probability", "Log-odds"} and at.get("iframe")
    assert _model_figures_shown(at)

    at.toggle(key="blind_toggle").set_value(True).run()
    assert not at.exception, at.exception
    assert _shown_pair(at) == random_first  # blind mode reviews in the seeded random order
    assert not at.metric and not at.get("iframe")
    assert not _model_figures_shown(at)  # no probability, log-odds, contribution or decision anywhere
    assert not any(s.key == "strategy" for s in at.sidebar.selectbox)  # no score-ordered choice offered
    assert not any(re.search(r"rank \d|similarity \d", c.value) for c in at.caption)
    _button(at, "Accept").click().run()
    (label,) = _events(demo_copy)
    assert (label.left_id, label.right_id, label.score) == (*random_first, None)

    # remembered for the session, also after a visit to another page
    at.switch_page("pages/search.py").run()
    at.switch_page("pages/review.py").run()
    assert at.toggle(key="blind_toggle").value and not at.metric
    at.toggle(key="blind_toggle").set_value(False).run()
    shown = _shown_pair(at)
    _button(at, "Reject").click().run()
    last = _events(demo_copy)[-1]
    assert (last.left_id, last.right_id) == shown and last.score is not None  # seen with the score: stored


def test_hostile_names_are_escaped_and_long_ones_cut_with_the_full_text_at_hand(monkeypatch, tmp_path):
    import pandas as pd

    from core.project.lifecycle import block_project
    from ui.plain_text import literal
    from tests.conftest import LEFT_ENTITIES, write_tiny_project

    long_name = "Keanu Reeves " + "y" * 10_000
    hostile = "The Matrix **Alien** <img src=x onerror=alert(1)> [x](javascript:alert(1))"
    left = LEFT_ENTITIES.replace("The Matrix\t", f"{hostile}\t").replace("Keanu Reeves", long_name)
    project = write_tiny_project(tmp_path / "hostile", **{"left/entities.tsv": left})
    block_project(project)
    at = _app(monkeypatch, project)
    candidates = pd.read_csv(project / "candidates.tsv", sep="\t", dtype=str)

    def show(left_id: str) -> None:
        right_id = candidates.loc[candidates["left_id"] == left_id, "right_id"].iloc[0]
        at.session_state["focus_pair"] = (left_id, right_id)
        at.run()
        assert not at.exception, at.exception
        assert _shown_pair(at) == (left_id, right_id)

    show("f1")
    assert at.subheader[0].value == literal(hostile)  # every Markdown character escaped
    assert "\\*\\*Alien\\*\\*" in at.subheader[0].value and "\\[x\\]" in at.subheader[0].value
    show("p1")
    heading = at.subheader[0].value
    assert len(heading) < 300 and heading.endswith(literal("… (10,013 characters)"))
    assert at.expander[0].label == "Full text of long values" and at.expander[0].text[0].value == long_name


def test_review_with_a_damaged_active_pointer_says_so_and_still_reviews(monkeypatch, demo_copy):
    (demo_copy / "models" / "ACTIVE").write_bytes(b"\xff\xfe not a version \x00")
    at = _app(monkeypatch, demo_copy)
    assert any("active model pointer is unreadable" in e.value for e in at.error)
    first = _shown_pair(at)  # the queue still works, on name scores
    _button(at, "Accept").click().run()
    assert not at.exception
    assert [(x.left_id, x.right_id) for x in _labels(demo_copy)] == [first]
