"""Score candidate pairs with a trained model, in batches, reproducibly.

The score is ``-distance`` (higher = more likely the same entity). A logistic calibration fitted
on the validation pairs turns it into a match probability. Sampling at scoring time uses a fixed
seed per edge, so the same pair gets the same score (and the same attention) every time it is asked
for, alone or in any batch.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from core.data.sets import unique
from core.model.cg_mualign import CGMuAlign
from core.model.device import device_errors
from core.model.setup import EncoderSetup
from core.scoring.layerwise import (LowerTable, layerwise_distances, layerwise_embeddings, pair_tables,
                                    top_layer_distances)
from core.sampling.blocks import pair_batch


@dataclass(eq=False)
class ModelScorer:
    """A :class:`~core.evaluation.harness.PairScorer` over a trained :class:`CGMuAlign`."""

    model: CGMuAlign
    setup: EncoderSetup
    name: str = "cg-mualign"
    #: pairs scored together. Large because a batch samples and encodes each of its entities'
    #: neighbourhoods once, however many of its pairs the entity is in: on the demo movies (2 torch
    #: threads) 1,024 pairs a batch scored 7.6K pairs per CPU-second, 4,096 17.6K, 16,384 26.7-32K,
    #: 65,536 39K at 1 GB peak memory (bench/scoring_speed.py). Results agree to float rounding (1e-6).
    batch_size: int = 16384
    seed: int = 0
    calibration: tuple[float, float] | None = None  # (slope, intercept) on -distance
    #: :meth:`distances` takes ``on_progress``: a progress bar needs no pieces (which would each
    #: encode their nodes' lower layers again)
    reports_progress: ClassVar[bool] = True

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @contextmanager
    def _inference(self):
        """The model in eval mode without gradients, a device failure said as such; its mode restored after."""
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad(), device_errors(self.device):
                yield
        finally:
            self.model.train(was_training)

    def forward_pairs(self, left: np.ndarray, right: np.ndarray, *, return_attention: bool = False):
        """Yield (batch slice, PairBatch, PairOutput) for consecutive batches of pairs.

        Raises
        ------
        core.model.device.DeviceError
            If the model's device (a GPU) fails while scoring; the message says to choose ``--device cpu``.
        """
        config = self.model.config
        with self._inference():
            for start in range(0, len(left), self.batch_size):
                stop = min(start + self.batch_size, len(left))
                # An int seed: each entity's sample is fixed by the seed, whatever else is in the batch.
                batch = pair_batch(self.setup.left, self.setup.right, left[start:stop], right[start:stop],
                                   cap=config.neighbour_cap, n_layers=config.n_layers,
                                   rng=self.seed, device=self.device).to(self.device)
                out = self.model(self.setup.left.features, batch.left, batch.left_rows,
                                 self.setup.right.features, batch.right, batch.right_rows,
                                 return_attention=return_attention)
                yield slice(start, stop), batch, out

    def distances(self, left: np.ndarray, right: np.ndarray, *,
                  on_progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """The model's distance of every pair (float32 values in a float64 array), scored layer-wise.

        The layers below the top run once per node the pairs read, the top layer per pair
        (:mod:`core.scoring.layerwise`): the same numbers as :meth:`forward_pairs` to float
        rounding, without encoding an entity again in every batch it appears in.
        ``on_progress(done, total)`` after each batch of pairs.

        Raises
        ------
        core.model.device.DeviceError
            If the model's device (a GPU) fails while scoring; the message says to choose ``--device cpu``.
        """
        with self._inference():
            return layerwise_distances(self.model, self.setup.left, self.setup.right, left, right,
                                       seed=self.seed, batch_size=self.batch_size, device=self.device,
                                       on_progress=on_progress)

    def pair_tables(self, left: np.ndarray, right: np.ndarray) -> tuple[LowerTable, LowerTable]:
        """The lower-layer tables :meth:`distances` builds first (a Ray job builds them once on the driver)."""
        with self._inference():
            return pair_tables(self.model, self.setup.left, self.setup.right, left, right, seed=self.seed,
                               batch_size=self.batch_size, device=self.device)

    def distances_from_tables(self, tables: tuple[LowerTable, LowerTable], left: np.ndarray,
                              right: np.ndarray) -> np.ndarray:
        """:meth:`distances` of pairs whose nodes ``tables`` (from :meth:`pair_tables` of a superset) hold."""
        with self._inference():
            return top_layer_distances(self.model, self.setup.left, self.setup.right, tables, left, right,
                                       seed=self.seed, batch_size=self.batch_size, device=self.device)

    def entity_embeddings(self, side: str, entities: np.ndarray) -> np.ndarray:
        """(len(entities), hidden) float32: each entity's vector with no counterpart (``CGMuAlign.embed_alone``).

        ``side`` is "left" or "right". Sampled as scoring samples (the scorer's int seed), layer-wise
        (:func:`core.scoring.layerwise.layerwise_embeddings`), in batches of ``batch_size``
        entities; for candidates from embeddings in blocking.
        """
        if side not in ("left", "right"):
            raise ValueError(f"side must be 'left' or 'right', not {side!r}")
        graph = self.setup.left if side == "left" else self.setup.right
        with self._inference():
            return layerwise_embeddings(self.model, graph, entities, seed=self.seed, batch_size=self.batch_size,
                                        device=self.device)

    def score_pairs(self, left: np.ndarray, right: np.ndarray, types: np.ndarray | None = None) -> np.ndarray:
        """-distance for each pair (higher = more alike)."""
        return -self.distances(left, right)

    def probabilities(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Calibrated match probability; needs :meth:`calibrate` first."""
        return self.probability_of_score(self.score_pairs(left, right))

    def probability_of_score(self, scores: np.ndarray) -> np.ndarray:
        """The calibrated probability of already computed scores (-distance)."""
        if self.calibration is None:
            raise RuntimeError("the scorer is not calibrated: call calibrate() on validation pairs first")
        slope, intercept = self.calibration
        return 1.0 / (1.0 + np.exp(-(slope * np.asarray(scores) + intercept)))

    def calibrate(self, left: np.ndarray, right: np.ndarray, labels: np.ndarray, *,
                  scores: np.ndarray | None = None) -> tuple[float, float]:
        """Platt scaling of the score on labelled pairs (typically VALID).

        ``scores``: this scorer's scores of the pairs when already computed (training's last
        validation), so they are not scored again.
        """
        from sklearn.linear_model import LogisticRegression

        if len(np.unique(labels)) < 2:
            raise ValueError("calibration needs both matches and non-matches")
        scores = (self.score_pairs(left, right) if scores is None else np.asarray(scores)).reshape(-1, 1)
        lr = LogisticRegression().fit(scores, labels)
        self.calibration = (float(lr.coef_[0, 0]), float(lr.intercept_[0]))
        return self.calibration



def aligned_embeddings(scorer: ModelScorer, dataset) -> tuple[np.ndarray, np.ndarray]:
    """(left (n_left, hidden), right (n_right, hidden)): the vector of every entity of an aligned type.

    :meth:`ModelScorer.entity_embeddings` of each side's entities of the schema's aligned types;
    the other rows stay 0, so blocking's cosine proposes nothing from them.
    """
    out = []
    for index, graph in enumerate((dataset.left, dataset.right)):
        parts = [dataset.entities_of_aligned_type(t)[index] for t in range(len(dataset.schema.types))]
        rows = unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
        vectors = np.zeros((graph.n_entities, scorer.model.config.hidden), dtype=np.float32)
        vectors[rows] = scorer.entity_embeddings("left" if index == 0 else "right", rows)
        out.append(vectors)
    return out[0], out[1]
