"""Bulk accept with a check: accept every pair above a probability, after a blind sample says it is safe.

Accepting the thousands of pairs the model is sure about one by one wastes the analyst's time;
accepting them unchecked trusts a threshold nobody measured. The compromise (what dedupe's and
Prodigy's users ask for): pick a threshold, review a random sample of the pairs above it in blind
mode (no score shown, so the model cannot nudge the answer), read the sample's precision and its
lower confidence bound, and only then accept the rest in one step, which one undo takes back.

The functions here are pure (frames in, values out); the page records the sample's labels as
ordinary decisions and the bulk accept as one batch in the label store.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.review.competitors import PairDecision
from core.review.queue import decision_value, keyed_in

Z_95 = 1.959963984540054  # two-sided 95% normal quantile, for the Wilson interval


@dataclass(frozen=True)
class SampleCheck:
    """What the blind sample says about the pairs above the threshold.

    ``precision`` is accepted / (accepted + rejected) among the reviewed sample pairs (skips say
    nothing either way), ``None`` before any is judged; ``precision_low``/``precision_high`` its
    Wilson 95% interval. ``complete`` once every sample pair has a label.
    """

    sample_size: int
    accepted: int
    rejected: int
    skipped: int
    precision: float | None
    precision_low: float | None
    precision_high: float | None

    @property
    def reviewed(self) -> int:
        return self.accepted + self.rejected + self.skipped

    @property
    def complete(self) -> bool:
        return self.reviewed >= self.sample_size


def pairs_above(scores: pd.DataFrame, threshold: float, *, exclude: set[str] = frozenset(),
                entity_type: str | None = None) -> pd.DataFrame:
    """The undecided pairs at or above ``threshold`` (probability, or score without one), best first.

    ``exclude``: :func:`core.review.queue.pair_key` of pairs not to take (labelled pairs, seed links).
    """
    frame = scores if entity_type is None else scores[scores["type"] == entity_type]
    frame = frame[decision_value(frame) >= threshold]
    if exclude:
        frame = frame[~keyed_in(frame, exclude)]
    value = decision_value(frame)
    return frame.assign(_v=value).sort_values(["_v", "left_id", "right_id"], ascending=[False, True, True],
                                              kind="stable").drop(columns="_v").reset_index(drop=True)


def blind_sample(pairs: pd.DataFrame, size: int, *, seed: int = 0) -> pd.DataFrame:
    """A seeded simple random sample of ``size`` rows of ``pairs`` (all of them if fewer), in random order."""
    if size < 0:
        raise ValueError(f"sample size must be >= 0, got {size}")
    order = np.random.default_rng(seed).permutation(len(pairs))[:size]
    return pairs.iloc[order].reset_index(drop=True)


def check_sample(sample: pd.DataFrame, labels: Mapping[tuple[str, str], str]) -> SampleCheck:
    """Count the sample's current labels (``labels``: (left_id, right_id) -> decision) and its precision."""
    decisions = [labels.get((str(a), str(b))) for a, b in zip(sample["left_id"], sample["right_id"])]
    accepted, rejected, skipped = (sum(d == word for d in decisions) for word in ("accept", "reject", "skip"))
    judged = accepted + rejected
    precision = accepted / judged if judged else None
    low, high = wilson_interval(accepted, judged) if judged else (None, None)
    return SampleCheck(len(sample), accepted, rejected, skipped, precision, low, high)


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a proportion: sound near 0 and 1, where a sample of 30 often is.

    Examples
    --------
    >>> tuple(round(x, 3) for x in wilson_interval(30, 30))
    (0.886, 1.0)
    """
    if trials <= 0:
        raise ValueError(f"trials must be positive, got {trials}")
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def bulk_accept_decisions(pairs: pd.DataFrame, *, labels: Mapping[tuple[str, str], str] | None = None
                          ) -> tuple[PairDecision, ...]:
    """Accept decisions for ``pairs`` that carry no label yet (the sample's own labels stand as given).

    A sample pair the analyst rejected stays rejected, and one they accepted is not accepted twice.
    """
    labels = labels or {}
    return tuple(
        PairDecision(str(a), str(b), str(t), "accept", float(s) if s == s else None)
        for a, b, t, s in zip(pairs["left_id"], pairs["right_id"], pairs["type"], pairs["score"])
        if (str(a), str(b)) not in labels)
