"""Agreement between analysts and the conflict queue, on hand-written label logs."""

from __future__ import annotations

import math
from itertools import count

import pytest

from core.review.agreement import (
    AnalystCounts, LogEntry, Vote, analyst_counts, conflicts, kappa_score, log_entries, pair_votes,
    pairwise_agreement, votes_by_pair,
)


class Log:
    """A label log written event by event, ids increasing as the database assigns them."""

    def __init__(self):
        self.entries: list[LogEntry] = []
        self._ids = count(1)

    def label(self, analyst: str, pair: str, decision: str, *, resolution: bool = False) -> int:
        left, right = pair.split("-")
        entry = LogEntry(next(self._ids), left, right, "film", decision, analyst, resolution=resolution)
        self.entries.append(entry)
        return entry.id

    def undo(self, event_id: int) -> None:
        undone = next(e for e in self.entries if e.id == event_id)
        self.entries.append(LogEntry(next(self._ids), undone.left_id, undone.right_id, undone.type, "undo",
                                     undone.analyst, undoes_id=event_id))


def test_log_entries_are_validated():
    with pytest.raises(ValueError, match="decision must be one of"):
        LogEntry(1, "f1", "m1", "film", "maybe", "ana")
    with pytest.raises(ValueError, match="undoes_id must be set exactly on undo"):
        LogEntry(1, "f1", "m1", "film", "undo", "ana")
    with pytest.raises(ValueError, match="undoes_id must be set exactly on undo"):
        LogEntry(2, "f1", "m1", "film", "accept", "ana", undoes_id=1)
    with pytest.raises(ValueError, match="a resolution is an accept or a reject"):
        LogEntry(1, "f1", "m1", "film", "skip", "lead", resolution=True)


def test_an_analysts_vote_is_their_latest_label_not_undone_and_never_a_resolution():
    log = Log()
    log.label("ana", "f1-m1", "accept")
    second = log.label("ana", "f1-m1", "reject")
    log.label("bob", "f1-m1", "skip")
    log.undo(second)  # ana is back to accept
    log.label("ana", "f1-m1", "reject", resolution=True)  # ana settling is not ana's own vote
    assert pair_votes(log.entries, "f1", "m1") == (Vote("ana", "accept", 1), Vote("bob", "skip", 3))
    assert pair_votes(log.entries, "f2", "m2") == ()
    assert analyst_counts(log.entries) == [AnalystCounts("ana", 1, 0, 0), AnalystCounts("bob", 0, 0, 1)]


def test_counts_are_pairs_not_clicks():
    log = Log()
    for decision in ("accept", "reject", "accept"):  # one pair, three clicks
        log.label("ana", "f1-m1", decision)
    log.label("ana", "f2-m2", "skip")
    log.label("ana", "f3-m3", "reject")
    (ana,) = analyst_counts(log.entries)
    assert (ana.accepts, ana.rejects, ana.skips, ana.total) == (1, 1, 1, 3)


def test_kappa_on_four_shared_pairs_by_hand():
    # observed agreement 3/4; ana accepts 2/4, bob 3/4: chance = 0.5*0.75 + 0.5*0.25 = 0.5
    # kappa = (0.75 - 0.5) / (1 - 0.5) = 0.5
    log = Log()
    for pair, a, b in (("f1-m1", "accept", "accept"), ("f2-m2", "accept", "accept"),
                       ("f3-m3", "reject", "reject"), ("f4-m4", "reject", "accept")):
        log.label("ana", pair, a)
        log.label("bob", pair, b)
    log.label("ana", "f5-m5", "accept")  # not shared
    log.label("bob", "f6-m6", "reject")  # not shared
    log.label("ana", "f7-m7", "accept")
    log.label("bob", "f7-m7", "skip")  # a skip is not a judgement: not shared
    (row,) = pairwise_agreement(log.entries)
    assert (row.analyst_a, row.analyst_b, row.shared_pairs, row.agreed) == ("ana", "bob", 4, 3)
    assert row.raw_agreement == pytest.approx(0.75)
    assert row.kappa == pytest.approx(0.5) and row.kappa_defined


def test_kappa_is_symmetric_and_perfect_and_opposite_agreement_hit_the_bounds():
    a = ["accept", "reject", "accept", "reject", "reject"]
    b = ["accept", "accept", "reject", "reject", "reject"]
    assert kappa_score(a, b) == pytest.approx(kappa_score(b, a))
    assert kappa_score(a, a) == pytest.approx(1.0)
    flipped = ["reject" if x == "accept" else "accept" for x in a]
    assert kappa_score(["accept", "reject"], ["reject", "accept"]) == pytest.approx(-1.0)
    assert kappa_score(a, flipped) < 0
    with pytest.raises(ValueError, match="same pairs"):
        kappa_score(["accept"], [])


def test_degenerate_agreement_is_nan_not_a_crash(recwarn):
    log = Log()
    log.label("ana", "f1-m1", "accept")
    log.label("bob", "f1-m1", "accept")  # one shared pair, the same label: kappa is 0/0
    log.label("cy", "f2-m2", "reject")  # shares nothing with anyone
    rows = {(r.analyst_a, r.analyst_b): r for r in pairwise_agreement(log.entries)}
    assert set(rows) == {("ana", "bob"), ("ana", "cy"), ("bob", "cy")}
    one = rows["ana", "bob"]
    assert (one.shared_pairs, one.agreed, one.raw_agreement) == (1, 1, 1.0)
    assert math.isnan(one.kappa) and not one.kappa_defined
    none = rows["ana", "cy"]
    assert none.shared_pairs == 0 and math.isnan(none.raw_agreement) and math.isnan(none.kappa)
    assert not recwarn.list  # sklearn's UndefinedMetricWarning is the expected case here, not noise

    # all shared pairs with one label each, but the analysts differ: kappa is defined (0)
    assert kappa_score(["accept"], ["reject"]) == 0.0
    assert math.isnan(kappa_score(["reject", "reject"], ["reject", "reject"]))


def test_a_conflict_is_accept_against_reject_and_skips_do_not_count():
    log = Log()
    log.label("ana", "f1-m1", "accept")
    log.label("bob", "f1-m1", "reject")
    log.label("ana", "f2-m2", "accept")
    log.label("bob", "f2-m2", "skip")  # abstained: no conflict
    log.label("ana", "f3-m3", "accept")
    log.label("ana", "f3-m3", "reject")  # one analyst changing their mind: no conflict
    log.label("cy", "f1-m1", "skip")
    (conflict,) = conflicts(log.entries)
    assert (conflict.left_id, conflict.right_id, conflict.type) == ("f1", "m1", "film")
    assert conflict.votes == (Vote("ana", "accept", 1), Vote("bob", "reject", 2), Vote("cy", "skip", 7))
    assert not conflict.settled and conflict.raised_at == 2


def test_a_newer_resolution_settles_a_conflict_and_a_later_relabel_reopens_it():
    log = Log()
    log.label("ana", "f1-m1", "accept")
    log.label("bob", "f1-m1", "reject")
    assert len(conflicts(log.entries)) == 1
    settle = log.label("lead", "f1-m1", "accept", resolution=True)
    assert conflicts(log.entries) == []
    (settled,) = conflicts(log.entries, include_settled=True)
    assert settled.settled and settled.resolution.id == settle and settled.resolution.analyst == "lead"

    log.label("bob", "f1-m1", "reject")  # bob insists after the resolution: open again
    (reopened,) = conflicts(log.entries)
    assert not reopened.settled and reopened.raised_at > settle
    log.label("bob", "f1-m1", "accept")  # bob comes round: no disagreement left at all
    assert conflicts(log.entries, include_settled=True) == []


def test_an_undone_resolution_no_longer_settles():
    log = Log()
    log.label("ana", "f1-m1", "reject")
    log.label("bob", "f1-m1", "accept")
    log.undo(log.label("lead", "f1-m1", "reject", resolution=True))
    assert [c.settled for c in conflicts(log.entries, include_settled=True)] == [False]


def test_a_resolution_older_than_the_conflict_does_not_settle_it():
    log = Log()
    log.label("lead", "f1-m1", "accept", resolution=True)  # e.g. settled an earlier disagreement
    log.label("ana", "f1-m1", "accept")
    log.label("bob", "f1-m1", "reject")
    (conflict,) = conflicts(log.entries)
    assert not conflict.settled


def test_conflict_queue_is_oldest_first():
    log = Log()
    log.label("ana", "f2-m2", "accept")
    log.label("ana", "f1-m1", "accept")
    log.label("bob", "f2-m2", "reject")  # f2's conflict arises first
    log.label("bob", "f1-m1", "reject")
    assert [c.left_id for c in conflicts(log.entries)] == ["f2", "f1"]


def test_log_entries_read_the_label_stores_events():
    """The app hands ``db`` events straight to :func:`log_entries`: same rules on stored labels."""
    import db

    sessions = db.make_sessionmaker(db.make_engine("sqlite://"))
    with sessions.begin() as session:
        for analyst, decision in (("ana", "accept"), ("bob", "reject"), ("bob", "accept")):
            db.record_decision(session, project="p", left_id="f1", right_id="m1", type="film",
                               decision=decision, analyst=analyst)
        db.undo_last(session, project="p", analyst="bob")  # bob is back to reject
        stored = db.events(session, project="p")
    entries = log_entries(stored)
    assert [e.id for e in entries] == sorted(e.id for e in stored)
    assert [e.decision for e in entries] == ["accept", "reject", "accept", "undo"]
    assert not any(e.resolution for e in entries)
    assert votes_by_pair(entries)[("f1", "m1")] == {"ana": Vote("ana", "accept", 1), "bob": Vote("bob", "reject", 2)}
    assert [c.left_id for c in conflicts(entries)] == ["f1"]

    with sessions.begin() as session:  # settled from the conflict queue: stored with the flag
        db.record_decision(session, project="p", left_id="f1", right_id="m1", type="film", decision="reject",
                           analyst="lead", resolution=True)
        stored = db.events(session, project="p")
        (current,) = db.current_labels(session, project="p")
    (settled,) = conflicts(log_entries(stored), include_settled=True)
    assert settled.settled and settled.resolution.analyst == "lead"
    assert conflicts(log_entries(stored)) == []
    # the same event is the pair's project-wide label: latest wins, no second rule needed
    assert (current.analyst, current.decision.value) == ("lead", "reject")
