"""Everything a model needs besides its weights, built once from a dataset.

Training, scoring and explanations all start here, so features, type/relation ids and sampling
weights are computed one way everywhere; a checkpoint stores the :class:`FeatureSpec` and
:class:`Vocabulary`, and :func:`setup_from_checkpoint_parts` rebuilds the same inputs for new data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data.dataset import AlignmentDataset
from core.features.entity_features import FeatureSpec, NameHashing, encode_entities, fit_feature_spec
from core.features.vocabulary import Vocabulary, build_vocabulary
from core.formats.native import aligned_types_of_entities
from core.model.cg_mualign import CGMuAlign
from core.model.config import ModelConfig
from core.sampling.blocks import PreparedGraph, prepare_graph


@dataclass(frozen=True, eq=False)
class EncoderSetup:
    dataset: AlignmentDataset
    spec: FeatureSpec
    vocabulary: Vocabulary
    left: PreparedGraph
    right: PreparedGraph
    left_aligned_types: np.ndarray  # aligned type of every left entity (-1: not aligned)
    right_aligned_types: np.ndarray

    def new_model(self, config: ModelConfig) -> CGMuAlign:
        return CGMuAlign(config, n_buckets=self.spec.hashing.n_buckets, dense_dim=self.spec.dense_width,
                         n_types=self.vocabulary.n_types, n_relations=self.vocabulary.n_relations)


def build_setup(dataset: AlignmentDataset, config: ModelConfig, *, spec: FeatureSpec | None = None,
                vocabulary: Vocabulary | None = None, hashing: NameHashing | None = None) -> EncoderSetup:
    """Fit features and ids on ``dataset`` (or reuse a checkpoint's ``spec`` and ``vocabulary``)."""
    spec = spec or fit_feature_spec(dataset, hashing)
    vocabulary = vocabulary or build_vocabulary(dataset, max_relations=config.max_relations)
    left = prepare_graph(dataset.left, encode_entities(dataset.left, spec, "left"), vocabulary, "left")
    right = prepare_graph(dataset.right, encode_entities(dataset.right, spec, "right"), vocabulary, "right")
    return EncoderSetup(dataset, spec, vocabulary, left, right,
                        aligned_types_of_entities(dataset.left, dataset.schema, "left"),
                        aligned_types_of_entities(dataset.right, dataset.schema, "right"))
