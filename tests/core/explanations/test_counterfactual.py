"""Counterfactuals: the pair's score without one neighbour equals the score on a graph without it.

The 6-node pair of graphs (every degree under the sampling cap, so sampling keeps every
neighbour): taking Ann out of film Alpha's neighbourhood by masking must give exactly the score
that a graph without the Alpha-Ann triples gives, scored from scratch by the same model.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from core.data.dataset import AlignmentDataset
from core.data.kg import KnowledgeGraph
from core.data.links import Links
from core.data.schema import Correspondence, SchemaMapping
from core.explanations.counterfactual import (
    Counterfactual, counterfactual_score, pair_counterfactuals, without_neighbour,
)
from core.model.cg_mualign import ModelConfig
from core.model.setup import build_setup
from core.sampling.blocks import prepare_graph
from core.scoring.model_scorer import ModelScorer

# film Alpha (0) -acted-> Ann (1), -directed-> Ann (1), -acted-> Bob (2); film Beta (3) -acted-> Ann,
# Bob and Cy (4); film Lonely (5) has no edges. The right side is the same graph, names varied.
LEFT_NAMES = ["film Alpha", "person Ann", "person Bob", "film Beta", "person Cy", "film Lonely"]
RIGHT_NAMES = ["film Alpha!", "person Anne", "person Bobby", "film Beta 2", "person Cyd", "film Lonely"]
TRIPLES = [(0, 0, 1), (0, 1, 1), (0, 0, 2), (3, 0, 1), (3, 0, 2), (3, 0, 4)]
RELATIONS = ("acted", "directed")


def graph(prefix: str, names: list[str], triples) -> KnowledgeGraph:
    types = np.array([0 if n.startswith("film") else 1 for n in names], dtype=np.int32)
    heads, relations, tails = (np.array(column, dtype=np.int64) for column in zip(*triples))
    return KnowledgeGraph(np.array([f"{prefix}{i}" for i in range(len(names))], dtype=object), types,
                          ("film", "person"), np.array(names, dtype=object), pd.DataFrame(index=range(len(names))),
                          heads, relations.astype(np.int32), tails, RELATIONS)


def scorer_for(left_triples=TRIPLES, n_layers: int = 2) -> ModelScorer:
    schema = SchemaMapping((Correspondence("film", "film", "film"), Correspondence("person", "person", "person")),
                           tuple(Correspondence(r, r, r) for r in RELATIONS))
    dataset = AlignmentDataset(graph("L", LEFT_NAMES, left_triples), graph("R", RIGHT_NAMES, TRIPLES), schema,
                               Links.empty())
    config = ModelConfig(hidden=16, name_dim=8, n_layers=n_layers)
    setup = build_setup(dataset, config)
    torch.manual_seed(0)
    return ModelScorer(setup.new_model(config), setup, calibration=(4.0, 2.0))


def rescored_without(scorer: ModelScorer, left_triples) -> float:
    """The pair (L0, R0) scored by the same model and features on a left graph holding only ``left_triples``."""
    kg = graph("L", LEFT_NAMES, left_triples)
    setup = scorer.setup
    left = prepare_graph(kg, setup.left.features, setup.vocabulary, "left")
    copy = ModelScorer(scorer.model, replace(setup, dataset=replace(setup.dataset, left=kg), left=left),
                       seed=scorer.seed, calibration=scorer.calibration)
    return float(copy.score_pairs(np.array([0]), np.array([0]))[0])


@pytest.mark.parametrize("n_layers", [1, 2, 3])
@pytest.mark.parametrize("neighbour", [1, 2])  # Ann (two relations, also reached via Beta at hop 2) and Bob
def test_a_counterfactual_equals_the_score_on_the_graph_without_that_neighbour(n_layers, neighbour):
    scorer = scorer_for(n_layers=n_layers)
    kept = [t for t in TRIPLES if {t[0], t[2]} != {0, neighbour}]
    expected = rescored_without(scorer, kept)
    real = float(scorer.score_pairs(np.array([0]), np.array([0]))[0])
    got = counterfactual_score(scorer, 0, 0, side="left", neighbour=neighbour)
    assert got == pytest.approx(expected, rel=1e-5, abs=1e-6)
    assert abs(got - real) > 1e-6  # the neighbour mattered: the test compares something


def test_the_report_covers_the_heaviest_neighbours_and_agrees_with_each_rescoring():
    scorer = scorer_for()
    report = pair_counterfactuals(scorer, 0, 0, per_side=5, model_version="v7")
    real = float(scorer.score_pairs(np.array([0]), np.array([0]))[0])
    assert (report.left_id, report.right_id, report.model_version) == ("L0", "R0", "v7")
    assert report.score == pytest.approx(real, abs=1e-6)
    assert report.probability == pytest.approx(1 / (1 + np.exp(-(4.0 * real + 2.0))), abs=1e-6)
    assert {(c.side, c.entity_id) for c in report.neighbours} == {
        ("left", "L1"), ("left", "L2"), ("right", "R1"), ("right", "R2")}
    ann = next(c for c in report.neighbours if c.entity_id == "L1")
    assert (ann.name, set(ann.relations)) == ("person Ann", {"acted", "directed"})
    assert sum(c.weight for c in report.neighbours if c.side == "left") == pytest.approx(1.0, abs=1e-5)
    changes = [abs(c.score_change) for c in report.neighbours]
    assert changes == sorted(changes, reverse=True)  # most influential first
    for c in report.neighbours:
        index = int(c.entity_id[1:])
        assert c.score == pytest.approx(counterfactual_score(scorer, 0, 0, side=c.side, neighbour=index), abs=1e-6)
        assert c.score_change == pytest.approx(c.score - report.score, abs=1e-9)
        assert c.probability_change == pytest.approx(c.probability - report.probability, abs=1e-9)
    assert len(pair_counterfactuals(scorer, 0, 0, per_side=1).neighbours) == 2  # one per side


def test_an_entity_outside_the_sample_changes_nothing_and_the_batch_is_left_alone():
    scorer = scorer_for()
    real = float(scorer.score_pairs(np.array([0]), np.array([0]))[0])
    assert counterfactual_score(scorer, 0, 0, side="right", neighbour=4) == pytest.approx(real, abs=1e-7)  # Cy: hop 3
    (_, batch, _), = list(scorer.forward_pairs(np.array([0]), np.array([0])))
    before = [b.mask.clone() for b in batch.left.blocks]
    masked = without_neighbour(batch, "left", 1)
    assert all(torch.equal(a, b.mask) for a, b in zip(before, batch.left.blocks))
    assert masked.right is batch.right
    assert sum(int(b.mask.sum()) for b in masked.left.blocks) < sum(int(m.sum()) for m in before)


def test_an_isolated_pair_has_no_counterfactuals():
    report = pair_counterfactuals(scorer_for(), 5, 5)
    assert report.neighbours == ()


def test_bad_sides_are_refused():
    scorer = scorer_for()
    with pytest.raises(ValueError, match="side must be 'left' or 'right'"):
        counterfactual_score(scorer, 0, 0, side="middle", neighbour=1)
    with pytest.raises(ValueError, match="side must be 'left' or 'right'"):
        Counterfactual("up", "x", "x", (), 0.0, 0.0, None, 0.0, None)
