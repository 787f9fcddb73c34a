"""The matcher in the app (issue 15): the quick refit on the Retrain page, the waterfall on the Review page."""

from __future__ import annotations

import re

import numpy as np


from tests.app.test_app_pages import _app, _record


def _label_valid_pairs(project, n=4):
    """Accept n true VALID matches and reject n other candidates of theirs, as analysts would."""
    from core.data.links import Split
    from core.evaluation.harness import evaluation_pairs
    from core.formats.native import load_candidates, load_project

    dataset = load_project(project)
    pairs = evaluation_pairs(dataset, load_candidates(dataset, project), Split.VALID)
    for label, decision in ((1, "accept"), (0, "reject")):
        for i in np.flatnonzero(pairs.label == label)[:n]:
            _record(project, "bob", (str(dataset.left.entity_ids[pairs.left[i]]),
                                     str(dataset.right.entity_ids[pairs.right[i]])), decision,
                    dataset.schema.type_names[pairs.type[i]])


def test_the_refit_button_makes_a_matcher_revision_under_the_activation_rule(monkeypatch, demo_copy):
    import core.project.retrain as retrain_module

    monkeypatch.setattr(retrain_module, "activation", lambda before, after: retrain_module.Activation(
        True, "it is better on the same validation pairs (validation PRAUC 0.900 -> 0.950)"))
    _label_valid_pairs(demo_copy)
    at = _app(monkeypatch, demo_copy, "pages/retrain.py")
    before = (demo_copy / "models" / "ACTIVE").read_text().strip()
    assert "4 accepted" in at.markdown[0].value and "4 rejected" in at.markdown[0].value
    at.button(key="refit_matcher").click().run()
    assert not at.exception, at.exception
    after = (demo_copy / "models" / "ACTIVE").read_text().strip()
    assert after == f"{before}.m1"  # the GNN kept, the matcher refitted
    (success,) = at.success
    assert f"Matcher revision `{after}`" in success.value and "fitting" in success.value
    assert (demo_copy / "models" / after / "matcher" / "matcher.json").exists()
    assert at.dataframe[0].value["model"].tolist() == [f"before: {before}", f"after: {after}"]
    assert after in at.markdown[0].value  # the header names the revision now active
    assert set(at.selectbox(key="version_choice").options) == {before, after}
    at.button(key="refit_previous").click().run()  # the analyst may go back
    assert (demo_copy / "models" / "ACTIVE").read_text().strip() == before


def test_the_refit_button_waits_for_a_model(monkeypatch, tiny_project):
    at = _app(monkeypatch, tiny_project, "pages/retrain.py")
    assert at.button(key="refit_matcher").disabled


def test_review_shows_why_the_matcher_decides_and_blind_mode_hides_it(monkeypatch, demo_copy):
    at = _app(monkeypatch, demo_copy, "pages/review.py")
    (block,) = [c for c in at.code if "= log-odds" in c.value]
    lines = block.value.splitlines()
    assert lines[0].startswith("baseline") and any(line.startswith("name") for line in lines)
    assert any(line.startswith("CG-MuAlign") for line in lines)
    values = [float(re.search(r"([+-]\d+\.\d\d)", line).group(1)) for line in lines[:-1]]
    total = float(re.search(r"= log-odds\s+([+-]\d+\.\d\d) -> [\d.]+%", lines[-1]).group(1))
    assert abs(sum(values) - total) <= 0.006 * len(values)  # the parts add up to the log-odds (2 decimals each)
    assert any("Why this decision" in c.value for c in at.caption)
    at.sidebar.toggle[0].set_value(True).run()  # blind mode: no score, so no waterfall either
    assert not at.exception, at.exception
    assert not [c for c in at.code if "= log-odds" in c.value]

