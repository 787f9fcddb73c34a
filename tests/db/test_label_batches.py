"""One analyst action that decides several pairs is one batch of events, undone in one step.

"This candidate matches" accepts a pair and rejects the entity's other candidates; a bulk accept
decides many pairs. Both run on SQLite and PostgreSQL (``tests/support/db_backends.py``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, text

from db import (
    BatchDecision, Decision, current_labels, decisions_per_hour, events, history_csv, make_engine,
    make_sessionmaker, record_batch, record_decision, undo_last, undo_last_step,
)
from db.migrations import HEAD_REVISION, current_revision, downgrade, upgrade
from tests.support.db_backends import StoreLocation, postgres_server, store  # noqa: F401 - pytest fixtures

CHOICE = [  # f1's candidates: m12 matches, so the other two are rejected with it
    BatchDecision("f1", "m12", "film", Decision.ACCEPT, 0.4),
    BatchDecision("f1", "m10", "film", Decision.REJECT, 0.7),
    BatchDecision("f1", "m11", "film", Decision.REJECT, None),
]


@pytest.fixture
def sessions(store: StoreLocation):
    engine = make_engine(store.url)
    yield make_sessionmaker(engine)
    engine.dispose()


def labels_of(s) -> dict[tuple[str, str], str]:
    return {(lab.left_id, lab.right_id): lab.decision.value for lab in current_labels(s, project="films")}


def test_a_batch_is_recorded_in_order_with_one_shared_id(sessions):
    with sessions.begin() as s:
        recorded = record_batch(s, project="films", analyst=" ana ", decisions=CHOICE, model_version="v2",
                                note="same director")
    assert [(e.left_id, e.right_id, e.decision) for e in recorded] == [
        (d.left_id, d.right_id, d.decision) for d in CHOICE]
    assert [e.id for e in recorded] == sorted(e.id for e in recorded)
    assert len({e.batch_id for e in recorded}) == 1 and recorded[0].batch_id
    assert {(e.analyst, e.model_version, e.note, e.score) for e in recorded} == {
        ("ana", "v2", "same director", 0.4), ("ana", "v2", "same director", 0.7), ("ana", "v2", "same director", None)}
    with sessions.begin() as s:
        assert labels_of(s) == {("f1", "m12"): "accept", ("f1", "m10"): "reject", ("f1", "m11"): "reject"}
        assert events(s, project="films")[0].batch_id == recorded[0].batch_id
        assert history_csv(s, project="films").splitlines()[1].endswith("," + recorded[0].batch_id)


def test_undo_takes_the_whole_batch_back_in_one_step(sessions):
    with sessions.begin() as s:
        record_decision(s, project="films", left_id="f9", right_id="m9", type="film", decision="accept", analyst="ana")
        batch = record_batch(s, project="films", analyst="ana", decisions=CHOICE)
    with sessions.begin() as s:
        undone = undo_last(s, project="films", analyst="ana")
    assert undone == batch[0]  # the pair the analyst chose
    with sessions.begin() as s:
        assert labels_of(s) == {("f9", "m9"): "accept"}  # the earlier single decision stays
        undos = [e for e in events(s, project="films") if e.decision is Decision.UNDO]
        assert sorted(e.undoes_id for e in undos) == sorted(e.id for e in batch)
        assert len({e.batch_id for e in undos}) == 1 and undos[0].batch_id not in (None, batch[0].batch_id)
        # the next step back is the single decision, then nothing
        assert [e.right_id for e in undo_last_step(s, project="films", analyst="ana")] == ["m9"]
        assert undo_last_step(s, project="films", analyst="ana") == ()
        assert labels_of(s) == {}


def test_a_later_single_decision_is_undone_before_the_batch(sessions):
    with sessions.begin() as s:
        batch = record_batch(s, project="films", analyst="ana", decisions=CHOICE)
        record_decision(s, project="films", left_id="f1", right_id="m11", type="film", decision="accept",
                        analyst="ana")
    with sessions.begin() as s:
        assert [e.right_id for e in undo_last_step(s, project="films", analyst="ana")] == ["m11"]
        assert labels_of(s)[("f1", "m11")] == "reject"  # back to the batch's word
        assert undo_last_step(s, project="films", analyst="ana") == batch


def test_undo_never_touches_another_analysts_batch(sessions):
    with sessions.begin() as s:
        record_batch(s, project="films", analyst="ben", decisions=CHOICE)
        record_decision(s, project="films", left_id="f2", right_id="m20", type="film", decision="reject",
                        analyst="ana")
    with sessions.begin() as s:
        assert [e.right_id for e in undo_last_step(s, project="films", analyst="ana")] == ["m20"]
        assert undo_last_step(s, project="films", analyst="ana") == ()
        assert len(labels_of(s)) == 3


@pytest.mark.parametrize("decisions, message", [
    ([], "at least one decision"),
    ([CHOICE[0], CHOICE[0]], "each pair once"),
    ([CHOICE[0], BatchDecision("f1", "m10", "film", Decision.UNDO)], "use undo_last"),
    ([BatchDecision("f1", " ", "film", Decision.ACCEPT)], "right_id must be a non-empty string"),
    ([BatchDecision("f1", "m1", "film", Decision.ACCEPT, float("nan"))], "finite number"),
])
def test_a_bad_batch_writes_nothing(sessions, decisions, message):
    with sessions.begin() as s:
        record_decision(s, project="films", left_id="f0", right_id="m0", type="film", decision="skip", analyst="ana")
    with pytest.raises(ValueError, match=message):
        with sessions.begin() as s:
            record_batch(s, project="films", analyst="ana", decisions=decisions)
    with sessions.begin() as s:
        assert len(events(s, project="films")) == 1


def test_a_batch_that_fails_midway_rolls_back_whole(sessions):
    with pytest.raises(RuntimeError):
        with sessions.begin() as s:
            record_batch(s, project="films", analyst="ana", decisions=CHOICE)
            raise RuntimeError("the page crashed after the write")
    with sessions.begin() as s:
        assert events(s, project="films") == []


def test_decisions_per_hour_counts_the_recent_pace(sessions):
    with sessions.begin() as s:
        for i in range(6):
            record_decision(s, project="films", left_id=f"f{i}", right_id="m", type="film", decision="accept",
                            analyst="ana")
        undo_last(s, project="films", analyst="ana")
        first = events(s, project="films")[-1].created_at
    with sessions.begin() as s:
        # six decisions (the undo does not count) within the first 10 minutes: 36 per hour
        assert decisions_per_hour(s, project="films", analyst="ana", now=first + timedelta(minutes=10)) == \
            pytest.approx(36.0, rel=1e-3)
        assert decisions_per_hour(s, project="films", analyst="ana", now=first + timedelta(hours=2)) == 0.0
        assert decisions_per_hour(s, project="films", analyst="ben") == 0.0
        # less than a minute in: measured over one minute, not blown up
        assert decisions_per_hour(s, project="films", analyst="ana", now=first + timedelta(seconds=5)) == 360.0


def test_store_at_0002_upgrades_keeping_its_events_and_then_batches(store):
    """An existing store (revision 0002, before batches and leases) is upgraded when opened."""
    plain = create_engine(store.url)
    try:
        assert upgrade(plain, "0002") == "0002"
        t0 = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
        with plain.begin() as conn:
            conn.execute(text(
                "INSERT INTO label_events (project, left_id, right_id, type, decision, analyst, created_at, "
                "resolution) VALUES ('films', 'f1', 'm10', 'film', 'accept', 'ana', :t, :r)"),
                {"t": t0.replace(tzinfo=None) if plain.dialect.name == "sqlite" else t0, "r": True})
        engine = make_engine(store.url)
        try:
            assert current_revision(engine) == HEAD_REVISION
            Session = make_sessionmaker(engine)
            with Session.begin() as s:
                (old,) = events(s, project="films")
                assert (old.right_id, old.resolution, old.batch_id) == ("m10", True, None)
                record_batch(s, project="films", analyst="ana", decisions=CHOICE[1:])
            with Session.begin() as s:
                assert len(undo_last_step(s, project="films", analyst="ana")) == 2
                assert labels_of(s) == {("f1", "m10"): "accept"}
            assert downgrade(engine, "0002") == "0002"  # rolling the release back keeps every event
            engine.dispose()
            with plain.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM label_events")).scalar() == 5
        finally:
            engine.dispose()
    finally:
        plain.dispose()
