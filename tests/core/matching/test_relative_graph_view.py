"""The whole-graph anchor view: used only where the schema leaves relations unaligned."""

from __future__ import annotations

import math

import numpy as np

from core.data.dataset import AlignmentDataset
from core.data.schema import Correspondence, SchemaMapping
from core.matching.pair_features import anchor_pair_features, structure_context
from tests.core.matching.test_pair_features import LEFT, RIGHT, tiny_dataset

NAN = math.nan


def test_graph_view_sees_unaligned_relations():
    base = tiny_dataset()
    # the schema pairs acted_in with a relation the right graph lacks: the aligned view sees no right
    # edge, the whole-graph view sees both graphs' triples (the same films and actors)
    schema = SchemaMapping(types=base.schema.types, relations=(Correspondence("acted_in", "acted_in", "missing"),),
                           attributes=base.schema.attributes)
    dataset = AlignmentDataset(base.left, base.right, schema, base.links, "tiny-unaligned")
    context = structure_context(dataset)
    assert context.graph_adjacencies is not None
    block = anchor_pair_features(context, LEFT, RIGHT, np.array([2]), np.array([2]))
    col = {n: block.values[:, j] for j, n in enumerate(block.names)}
    assert np.isnan(col["structure.anchor_hop1_cosine"]).all()
    # by hand (as the aligned view of the fully aligned pair): films share Keanu; people see no anchor at hop 1
    np.testing.assert_allclose(col["structure.graph_hop1_cosine"], [1, 1, 1, NAN, NAN, NAN])
    np.testing.assert_allclose(col["structure.graph_hop2_cosine"], [NAN, NAN, NAN, NAN, 1, NAN])


def test_no_graph_view_when_every_triple_is_aligned():
    context = structure_context(tiny_dataset())
    assert context.graph_adjacencies is None
