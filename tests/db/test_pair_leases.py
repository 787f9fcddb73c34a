"""Team queues: a pair on one analyst's screen is reserved for them, on SQLite and PostgreSQL.

The property that matters: analysts who ask for pairs at the same moment never get the same one.
It is checked with real concurrency (one engine and thread per analyst, released together by a
barrier, many rounds), which on PostgreSQL exercises the row lock of the upsert and on SQLite
``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from db import (
    BatchDecision, Decision, acquire_lease, active_leases, held_by_others, lease_of, make_engine, make_sessionmaker,
    record_batch, record_decision, release_leases,
)
from db.leases import purge_expired
from tests.support.db_backends import StoreLocation, postgres_server, store  # noqa: F401 - pytest fixtures

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
QUEUE = [(f"f{i}", f"m{i}") for i in range(40)]


@pytest.fixture
def sessions(store: StoreLocation):
    engine = make_engine(store.url)
    yield make_sessionmaker(engine)
    engine.dispose()


def take(sessions, analyst, candidates=QUEUE, now=T0, **options):
    with sessions.begin() as s:
        return acquire_lease(s, project="films", analyst=analyst, candidates=candidates, now=now, **options)


def test_the_second_analyst_gets_the_next_pair(sessions):
    ana = take(sessions, "ana")
    ben = take(sessions, "ben")
    assert (ana.left_id, ana.analyst, ana.expires_at) == ("f0", "ana", T0 + timedelta(minutes=5))
    assert (ben.left_id, ben.analyst) == ("f1", "ben")
    with sessions.begin() as s:
        assert held_by_others(s, project="films", analyst="ana", now=T0) == {("f1", "m1")}
        assert lease_of(s, project="films", analyst="ben", now=T0).right_id == "m1"
        assert lease_of(s, project="films", analyst="cy", now=T0) is None


def test_renewing_keeps_the_pair_and_pushes_the_expiry(sessions):
    first = take(sessions, "ana")
    again = take(sessions, "ana", now=T0 + timedelta(minutes=4))
    assert (again.left_id, again.acquired_at, again.expires_at) == (
        "f0", first.acquired_at, T0 + timedelta(minutes=9))
    assert take(sessions, "ben", candidates=QUEUE[:1], now=T0 + timedelta(minutes=8)) is None


def test_an_expired_lease_is_taken_over(sessions):
    take(sessions, "ana", duration=timedelta(minutes=2))
    later = T0 + timedelta(minutes=2)  # expiry is exclusive: at expires_at the pair is free
    ben = take(sessions, "ben", now=later)
    assert (ben.left_id, ben.analyst, ben.acquired_at) == ("f0", "ben", later)
    with sessions.begin() as s:
        assert [lease.analyst for lease in active_leases(s, project="films", now=later)] == ["ben"]


def test_one_analyst_holds_one_pair(sessions):
    take(sessions, "ana")
    moved = take(sessions, "ana", candidates=QUEUE[5:])
    assert moved.left_id == "f5"
    with sessions.begin() as s:
        assert [(lease.left_id, lease.analyst) for lease in active_leases(s, project="films", now=T0)] == [("f5", "ana")]


def test_a_decision_releases_the_pair_whoever_held_it(sessions):
    take(sessions, "ana")
    take(sessions, "ben")
    with sessions.begin() as s:
        record_decision(s, project="films", left_id="f0", right_id="m0", type="film", decision="accept",
                        analyst="ana")
        record_batch(s, project="films", analyst="cy", decisions=[
            BatchDecision("f1", "m1", "film", Decision.REJECT), BatchDecision("f7", "m7", "film", Decision.REJECT)])
        assert active_leases(s, project="films", now=T0) == []


def test_leases_are_per_project_and_can_be_released(sessions):
    take(sessions, "ana")
    with sessions.begin() as s:
        other = acquire_lease(s, project="music", analyst="ben", candidates=QUEUE, now=T0)
        assert other.left_id == "f0"  # the same ids in another project are another pair
        assert release_leases(s, project="films", analyst="ana") == 1
        assert active_leases(s, project="films", now=T0) == []
        assert purge_expired(s, now=T0 + timedelta(hours=1)) == 1


def test_nothing_left_to_lease(sessions):
    assert take(sessions, "ana", candidates=QUEUE[:1]) is not None
    assert take(sessions, "ben", candidates=QUEUE[:1]) is None
    assert take(sessions, "ben", candidates=[]) is None


@pytest.mark.parametrize("options, message", [
    ({"analyst": "  "}, "analyst must be a non-empty string"),
    ({"duration": timedelta(0)}, "positive time"),
    ({"now": datetime(2024, 5, 1)}, "naive datetime"),
])
def test_bad_requests_are_refused(sessions, options, message):
    with pytest.raises(ValueError, match=message):
        take(sessions, **{"analyst": "ana", **options})


def test_analysts_starting_together_never_share_a_pair(store):
    """Four analysts (own engine and thread each) ask at the same instant, ten rounds in a row."""
    analysts = ["ana", "ben", "cy", "dee"]
    engines = [make_engine(store.url) for _ in analysts]
    factories = [make_sessionmaker(e) for e in engines]
    try:
        for round_ in range(10):
            now = T0 + timedelta(hours=round_)  # every earlier lease has expired: all start equal
            together = threading.Barrier(len(analysts))
            won: dict[str, tuple[str, str] | None] = {}
            errors: list[BaseException] = []

            def analyst_asks(name, factory, now=now, together=together, won=won, errors=errors):
                try:
                    together.wait(timeout=30)
                    with factory.begin() as s:
                        lease = acquire_lease(s, project="films", analyst=name, candidates=QUEUE, now=now)
                    won[name] = None if lease is None else (lease.left_id, lease.right_id)
                except BaseException as exc:  # reported below
                    errors.append(exc)

            threads = [threading.Thread(target=analyst_asks, args=(name, factory), daemon=True)
                       for name, factory in zip(analysts, factories)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
            assert errors == []
            assert len(won) == 4 and None not in won.values()
            assert len(set(won.values())) == 4, f"round {round_}: two analysts got one pair: {won}"
            assert set(won.values()) == set(QUEUE[:4])  # and nobody skipped further than needed
    finally:
        for e in engines:
            e.dispose()
