"""The label log's rules (label_rules): one owner, used by both the store and agreement."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import label_rules
from label_rules import Decision, latest_standing, standing


def event(id, decision, left="f1", analyst="ana", undoes_id=None):
    return SimpleNamespace(id=id, decision=decision, left_id=left, analyst=analyst, undoes_id=undoes_id)


def test_an_undone_label_no_longer_stands_and_undos_never_do():
    log = [event(1, "accept"), event(2, "reject"), event(3, "undo", undoes_id=2), event(4, "skip", left="f2")]
    assert [e.id for e in standing(log)] == [1, 4]


def test_latest_means_highest_id_whatever_order_the_log_arrives_in():
    log = [event(5, Decision.REJECT), event(2, Decision.ACCEPT), event(9, Decision.SKIP, left="f2")]
    current = latest_standing(log, key=lambda e: e.left_id)
    assert {k: e.id for k, e in current.items()} == {"f1": 5, "f2": 9}


def test_the_key_decides_whose_label_is_current():
    """The store keys by pair (last click wins); agreement by pair and analyst (each keeps their word)."""
    log = [event(1, "accept", analyst="ana"), event(2, "reject", analyst="bob")]
    assert [e.id for e in latest_standing(log, key=lambda e: e.left_id).values()] == [2]
    assert sorted(e.id for e in latest_standing(log, key=lambda e: (e.left_id, e.analyst)).values()) == [1, 2]


def test_a_pair_whose_every_label_was_undone_has_no_current_label():
    log = [event(1, "accept"), event(2, "undo", undoes_id=1)]
    assert latest_standing(log, key=lambda e: e.left_id) == {}


def test_both_readers_use_these_rules():
    import db
    from core.review import agreement

    assert db.Decision is Decision and db.LABEL_DECISIONS is label_rules.LABEL_DECISIONS
    assert agreement.DECISIONS == ("accept", "reject", "skip", "undo")
    assert agreement.JUDGEMENTS == ("accept", "reject")
    assert {Decision(word) for word in agreement.JUDGEMENTS} == label_rules.JUDGEMENTS


def test_decision_words_parse_and_unknown_ones_are_named():
    assert Decision.parse("skip") is Decision.SKIP and str(Decision.ACCEPT) == "accept"
    with pytest.raises(ValueError, match="unknown decision 'maybe'"):
        Decision.parse("maybe")
