"""Review queue strategies, decision changes, entity search and entity cards."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.review.entity_card import entity_card
from core.review.entity_search import find_entities
from core.formats.native import load_project
from core.review.queue import (OrderedQueue, QueueStrategy, changed_decisions, pair_key, predicted_matches,
                               review_queue, seed_link_keys)


@pytest.fixture
def scores() -> pd.DataFrame:
    return pd.DataFrame({
        "left_id": ["a", "a", "a", "b", "b", "c"],
        "right_id": ["x", "y", "z", "x", "y", "z"],
        "type": ["film", "film", "film", "person", "person", "person"],
        "score": [-0.1, -2.0, -3.0, -0.5, -0.9, -4.0],
        "probability": [0.95, 0.48, 0.10, 0.70, 0.55, 0.01],
        "rank": [1, 2, 3, 1, 2, 1],
    })


def _pairs(frame: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(frame["left_id"], frame["right_id"]))


@pytest.mark.parametrize("strategy", list(QueueStrategy))
def test_ordered_queue_reads_like_the_queue_recomputed_after_each_decision(strategy):
    rng = np.random.default_rng(0)
    n = 400
    scores = pd.DataFrame({"left_id": [f"l{i // 4}" for i in range(n)], "right_id": [f"r{i}" for i in range(n)],
                           "type": rng.choice(["film", "person"], n), "score": rng.normal(size=n),
                           "probability": rng.random(n), "rank": np.tile([1, 2, 3, 4], n // 4)})
    seeds = {pair_key(f"l{i // 4}", f"r{i}") for i in range(0, n, 7)}
    queue = OrderedQueue.build(scores, strategy=strategy, exclude=seeds, entity_type="film", seed=5)
    decided: set[str] = set()
    for _ in range(60):
        expected = review_queue(scores, strategy=strategy, exclude=seeds | decided, entity_type="film", seed=5)
        rows, n_left = queue.pending(decided, n=3)
        assert n_left == len(expected)
        assert _pairs(scores.iloc[rows]) == _pairs(expected.head(3))
        if not n_left:
            break
        # decide the first pair, and now and then one further down or one outside the queue
        decided.add(pair_key(*_pairs(expected)[0]))
        decided.add(pair_key(*_pairs(scores.sample(1, random_state=int(rng.integers(1000))))[0]))


def test_ordered_queue_of_nothing_is_empty(scores):
    queue = OrderedQueue.build(scores.iloc[:0], strategy="highest")
    rows, n_left = queue.pending({pair_key("a", "x")})
    assert n_left == 0 and rows.size == 0


def test_uncertain_first_orders_by_distance_to_the_threshold(scores):
    queue = review_queue(scores, strategy=QueueStrategy.UNCERTAIN, max_rank=3)
    assert _pairs(queue) == [("a", "y"), ("b", "y"), ("b", "x"), ("a", "z"), ("a", "x"), ("c", "z")]
    # A different threshold changes the order: 0.9 puts the 0.95 pair first.
    assert _pairs(review_queue(scores, strategy="uncertain", threshold=0.9))[0] == ("a", "x")


def test_highest_first_and_rank_cap(scores):
    queue = review_queue(scores, strategy=QueueStrategy.HIGHEST, max_rank=1)
    assert _pairs(queue) == [("a", "x"), ("b", "x"), ("c", "z")]


def test_decided_pairs_and_type_filter_are_left_out(scores):
    queue = review_queue(scores, strategy=QueueStrategy.HIGHEST, exclude={pair_key("a", "x")}, entity_type="film")
    assert _pairs(queue) == [("a", "y"), ("a", "z")]


def test_random_order_is_seeded_and_stable_as_labels_arrive(scores):
    first = _pairs(review_queue(scores, strategy=QueueStrategy.RANDOM, seed=3))
    assert first == _pairs(review_queue(scores, strategy=QueueStrategy.RANDOM, seed=3))
    assert sorted(first) == sorted(_pairs(scores))  # random looks at every candidate, whatever its rank
    later = _pairs(review_queue(scores, strategy=QueueStrategy.RANDOM, seed=3, exclude={pair_key(*first[0])}))
    assert later == first[1:]
    orders = {tuple(_pairs(review_queue(scores, strategy=QueueStrategy.RANDOM, seed=s))) for s in range(6)}
    assert len(orders) > 1


def test_without_probabilities_the_score_is_compared(scores):
    no_model = scores.assign(probability=np.nan, score=[0.9, 0.5, 0.2, 0.6, 0.51, 0.1])
    assert predicted_matches(no_model, 0.55).tolist() == [True, False, False, True, False, False]
    assert _pairs(review_queue(no_model, strategy=QueueStrategy.UNCERTAIN))[0] == ("a", "y")


def test_changed_decisions_lists_flips_except_decided_pairs(scores):
    after = scores.assign(probability=[0.95, 0.60, 0.10, 0.30, 0.55, 0.01])
    changed = changed_decisions(scores, after)
    assert _pairs(changed) == [("a", "y"), ("b", "x")]
    assert changed["after"].tolist() == [True, False]
    assert _pairs(changed_decisions(scores, after, exclude={pair_key("a", "y")})) == [("b", "x")]


def test_seed_links_are_known_pairs(tiny_project):
    assert seed_link_keys(load_project(tiny_project)) == {pair_key("f1", "m10"), pair_key("p1", "q10")}


def test_search_finds_by_fuzzy_name_and_exact_id(tiny_project):
    dataset = load_project(tiny_project)
    hits = find_entities(dataset.right, "aditya raj")
    assert hits[0].entity_id == "q12" and hits[0].type == "person"
    assert find_entities(dataset.left, "Keanu Reevs")[0].entity_id == "p1"  # a typo still finds him
    assert find_entities(dataset.left, "f3")[0].name == "Speed"
    assert find_entities(dataset.left, "   ") == []
    assert find_entities(dataset.left, "zzzzqqq") == []


def test_entity_card_shows_present_attributes_only(tiny_project):
    dataset = load_project(tiny_project)
    (keanu,) = dataset.left.indices_of(["p1"])
    card = entity_card(dataset.left, int(keanu))
    assert (card.name, card.type, card.degree) == ("Keanu Reeves", "person", 3)
    assert card.attributes == (("born", "1964-09-02"),)
    (matrix,) = dataset.left.indices_of(["f1"])
    assert entity_card(dataset.left, int(matrix)).attributes == (("year", "1999"),)


def test_sorted_positions_give_pandas_stable_order_with_ties_unicode_and_nan():
    import numpy as np
    import pandas as pd

    from core.review.queue import sorted_positions

    rng = np.random.default_rng(0)
    n = 3000
    frame = pd.DataFrame({
        "score": rng.integers(0, 5, n).astype(float),  # many ties: the ids decide
        "left_id": pd.Series(rng.choice(["b", "a", "ä", "Z", "a b", "é1", "10", "9"], n), dtype="str"),
        "right_id": pd.Series(rng.choice(["x", "y", "ÿ", "X"], n), dtype=object),
    })
    for ascending in ([False, True, True], [True, False, True], [True, True, False]):
        expected = frame.sort_values(["score", "left_id", "right_id"], ascending=ascending, kind="stable").index
        got = sorted_positions(frame, ["score", "left_id", "right_id"], ascending=ascending)
        np.testing.assert_array_equal(got, expected.to_numpy())
    with_nan = frame.assign(score=frame["score"].where(frame.index % 7 != 0))
    expected = with_nan.sort_values(["score", "left_id"], ascending=[False, True], kind="stable").index
    np.testing.assert_array_equal(sorted_positions(with_nan, ["score", "left_id"], ascending=[False, True]),
                                  expected.to_numpy())
