"""Quick refit of a fitted matcher from new labels, on cached evidence (issue 15: "seconds").

A full fit compares every pair (names, attributes, neighbour names), propagates the anchors,
runs the GNN, searches hyper-parameters and iterates rounds. None of that depends on an
analyst's label except the rows the label adds and, when it is accepted, the anchors. So a
version caches its **evidence**: the last round's feature block of every candidate (every
column any combiner reads, the GNN distance included) and the anchors it was computed under
(:class:`PairEvidence`, written beside the matcher). A quick refit then

* takes the TRAIN rows and the labelled rows (labels override split rows of the same pair) and
  the VALID rows from the cache (the few fit rows that are not candidates are computed apart),
* fits **one** combiner with the hyper-parameters the version chose on VALID (no grid, no
  rounds), the GNN stack on VALID as the full fit does, calibration and threshold on VALID,
* on fewer rows: every match, every labelled pair and every non-match the version was unsure
  of is kept, but of the non-matches the version already ruled out (probability below
  ``EASY_BELOW``) only about one in ``EASY_KEEP_ONE_IN`` (:func:`thin_easy_negatives`). They are
  most TRAIN rows (on the demo movies 45K of 54K are left out) and teach the boosting little a
  sample does not; the fit's cost is linear in rows (the refit's CPU time 5.1 -> 2.9 s there,
  TEST F1 0.998 -> 0.996, recall 0.997 -> 0.992, precision 1.000 both).
* scores every candidate by predicting on the cached block (no comparison is recomputed).

**Anchors**: the refit keeps the version's anchors (TRAIN matches, the accepted labels the
version read and the confident matches its rounds added) as ``Matcher.fixed_anchors``, so the
revision scores from its cache and scores the same when reloaded. Labels accepted since the
version teach the combiner as rows but are not yet anchors of the structural profiles; the full
retrain recomputes the anchors (and the rounds) from all labels.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from core.data.candidates import CandidatePairs, pair_keys
from core.data.dataset import AlignmentDataset
from core.data.links import Split
from core.data.sets import locate
from core.matching.combiner import chosen_only, fit_combiner
from core.matching.feature_block import FeatureBlock
from core.matching.matcher import (EvidenceBuilder, Matcher, MatchScores, decided_scores, fit_gnn_stack,
                                   informative_columns, label_rows, round_output, select_columns, training_rows)
from core.matching.pair_features import GNN_GROUP

EVIDENCE_FILE = "evidence.npz"
# /2: the version's probability of each pair; /3: propagation anchors; /4: the last round's contributions
EVIDENCE_FORMAT = "mualign.matching.evidence/4"
#: a TRAIN non-match the version gave a probability below this is "easy" for the quick refit
EASY_BELOW = 1e-3
#: the quick refit keeps about one easy non-match in this many
EASY_KEEP_ONE_IN = 8


@dataclass(frozen=True, eq=False)
class PairEvidence:
    """The last round's feature block of a set of pairs, the anchors it was computed under, and the verdict.

    ``probability`` is the version's match probability of each pair (None: unknown, nothing is
    thinned in a refit).
    """

    left: np.ndarray
    right: np.ndarray
    types: np.ndarray
    block: FeatureBlock
    anchors: tuple[np.ndarray, np.ndarray]
    probability: np.ndarray | None = None
    #: the anchors the label propagation ran from (the known ones; None: ``anchors``)
    propagation_anchors: tuple[np.ndarray, np.ndarray] | None = None
    #: the version's per-group contributions of each pair (its last round's; None: unknown). With
    #: them a later command has every candidate's scores without a pass over the trees.
    contributions: np.ndarray | None = None

    def covers(self, candidates: CandidatePairs) -> bool:
        """Whether these are exactly ``candidates`` in their order (re-blocking makes a cache stale)."""
        return (len(self.left) == len(candidates) and np.array_equal(self.left, candidates.left)
                and np.array_equal(self.right, candidates.right))

    def save(self, path: str | Path) -> Path:
        """Write one ``.npz`` under a temporary name and rename it (a killed write leaves no half file).

        A temporary left by a writer that was killed (its process is gone) is removed first, so
        killed writes do not pile up 60 MB files beside the version.
        """
        path = Path(path)
        _remove_dead_temporaries(path)
        temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        with open(temporary, "wb") as handle:
            np.savez(handle, format=np.array(EVIDENCE_FORMAT), left=self.left, right=self.right, types=self.types,
                     values=self.block.values, names=np.array(self.block.names), groups=np.array(self.block.groups),
                     anchor_left=self.anchors[0], anchor_right=self.anchors[1],
                     probability=(np.full(len(self.left), np.nan) if self.probability is None
                                  else np.asarray(self.probability, dtype=np.float64)),
                     contributions=(np.zeros((0, 0)) if self.contributions is None
                                    else np.asarray(self.contributions, dtype=np.float64)),
                     **_propagation_arrays(self.propagation_anchors))
        os.replace(temporary, path)
        return path


def _propagation_arrays(anchors) -> dict:
    empty = np.zeros(0, dtype=np.int64)
    return dict(has_propagation_anchors=np.array(anchors is not None),
                propagation_left=empty if anchors is None else np.asarray(anchors[0], dtype=np.int64),
                propagation_right=empty if anchors is None else np.asarray(anchors[1], dtype=np.int64))


def _remove_dead_temporaries(path: Path) -> None:
    for stale in path.parent.glob(f".{path.name}.tmp-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _process_alive(int(pid)):
            stale.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def load_evidence(path: str | Path) -> PairEvidence | None:
    """The cached evidence at ``path``, or None when absent or unreadable (it is only a cache)."""
    try:
        with np.load(Path(path), allow_pickle=False) as data:
            if str(data["format"]) != EVIDENCE_FORMAT:
                return None
            block = FeatureBlock(tuple(str(n) for n in data["names"]), tuple(str(g) for g in data["groups"]),
                                 data["values"])
            probability = data["probability"]
            propagation = ((data["propagation_left"], data["propagation_right"])
                           if bool(data["has_propagation_anchors"]) else None)
            contributions = data["contributions"]
            return PairEvidence(data["left"], data["right"], data["types"], block,
                                (data["anchor_left"], data["anchor_right"]),
                                None if np.isnan(probability).all() else probability, propagation,
                                contributions if len(contributions) == len(block.values) else None)
    except (OSError, ValueError, KeyError):
        return None


def candidate_evidence(matcher: Matcher, dataset: AlignmentDataset, candidates: CandidatePairs, *, gnn=None,
                       extra_matches=None) -> tuple[MatchScores, PairEvidence]:
    """Score every candidate as :meth:`Matcher.score` does and keep the evidence for quick refits."""
    scores, block, anchors, propagation = matcher.score_with_evidence(dataset, candidates, gnn=gnn,
                                                                      extra_matches=extra_matches)
    evidence = PairEvidence(np.asarray(candidates.left, dtype=np.int64), np.asarray(candidates.right, dtype=np.int64),
                            np.asarray(candidates.type, dtype=np.int64), block,
                            tuple(np.asarray(a, dtype=np.int64) for a in anchors),
                            np.asarray(scores.probability, dtype=np.float64),
                            tuple(np.asarray(a, dtype=np.int64) for a in propagation),
                            np.asarray(scores.contributions, dtype=np.float64))
    return scores, evidence


def quick_combiner_config(matcher: Matcher):
    """The combiner's settings with the version's chosen hyper-parameters as the only grid point."""
    return chosen_only(matcher.combiners[-1], matcher.config.combiner)


@dataclass(frozen=True, eq=False)
class QuickRefit:
    matcher: Matcher  # one combiner, the version's anchors fixed
    scores: MatchScores  # every candidate, in the candidates' order
    evidence: PairEvidence  # what the new matcher scored from (the version's: same block, same anchors)
    seconds: float
    computed_rows: int  # fit rows that were not candidates, computed apart


def thin_easy_negatives(is_match: np.ndarray, prior: np.ndarray, protected: np.ndarray, *, seed: int = 0,
                        below: float = EASY_BELOW, keep_one_in: int = EASY_KEEP_ONE_IN) -> np.ndarray:
    """The fit rows to keep (sorted indices), most of the certain non-matches left out.

    A row is *easy* when it is a non-match, not ``protected`` (an analyst's label), and the
    version gave it a probability (``prior``, NaN where unknown) below ``below``. Every other row
    is kept; of the easy rows a seeded random one in ``keep_one_in`` (about). Deterministic given
    ``seed``.

    The kept rows are not re-weighted: the fit's probabilities are recalibrated on VALID (Platt
    scaling), which removes the shift that fewer negatives give, and scikit-learn's weighted
    binning costs more than the rows it saves (3.8 s for 8K rows on the demo movies).
    """
    is_match, prior, protected = np.asarray(is_match), np.asarray(prior, dtype=np.float64), np.asarray(protected)
    easy = (is_match == 0) & ~protected & (prior < below)  # NaN < below is False: unknown rows stay
    if keep_one_in <= 1 or not easy.any():
        return np.arange(len(is_match))
    chosen = np.random.default_rng(seed).random(len(is_match)) < 1.0 / keep_one_in
    return np.flatnonzero(~easy | chosen)


def _rows(evidence: PairEvidence, left, right, n_right: int) -> tuple[np.ndarray, np.ndarray]:
    """(found, row): where each pair sits in the cached block."""
    keys = pair_keys(evidence.left, evidence.right, n_right)
    order = np.argsort(keys, kind="stable")
    found, where = locate(keys[order], pair_keys(left, right, n_right))
    return found, order[where]


def _block_of(matcher: Matcher, evidence: PairEvidence, dataset: AlignmentDataset, left, right, types, gnn):
    """The evidence block of these pairs: cached rows, the others computed under the same anchors."""
    found, rows = _rows(evidence, left, right, dataset.right.n_entities)
    values = np.empty((len(left), evidence.block.values.shape[1]))
    values[found] = evidence.block.values[rows[found]]
    missing = ~found
    if missing.any():
        builder = EvidenceBuilder.build(dataset, left[missing], right[missing], types[missing], matcher.specs,
                                  matcher.config, matcher.uses_structure, gnn if matcher.uses_gnn else None)
        builder.propagation_anchors = evidence.propagation_anchors
        fresh = builder.block(*evidence.anchors)
        values[missing] = select_columns(fresh, evidence.block.names).values
    return FeatureBlock(evidence.block.names, evidence.block.groups, values), int(missing.sum())


def refit_on_evidence(matcher: Matcher, evidence: PairEvidence, dataset: AlignmentDataset,
                      candidates: CandidatePairs, *, labels=None, gnn=None, seed: int = 0,
                      keep_easy_one_in: int = EASY_KEEP_ONE_IN) -> QuickRefit:
    """Refit ``matcher``'s last combiner on TRAIN rows + ``labels`` from ``evidence``; score every candidate.

    ``dataset`` is the one the fit reads links from (the labelled pairs' links removed, as for a
    full fit); ``labels`` the ``(left, right, is_match)`` tuple of :func:`~core.matching.matcher.fit_matcher`.
    ``gnn`` is needed only for fit rows outside the candidates. ``keep_easy_one_in``: how many
    of the version's certain non-matches one kept row stands for (1: every row, no thinning).

    Raises
    ------
    ValueError
        ``evidence`` is not of these candidates, or TRAIN/VALID rows lack matches or non-matches.
    """
    start = time.perf_counter()
    if not evidence.covers(candidates):
        raise ValueError("the cached evidence is of other candidates (the project was blocked again); "
                         "refit the matcher in full")
    n_right = dataset.right.n_entities
    labelled = label_rows(dataset, labels) if labels is not None and len(labels[0]) else None
    label_keys = pair_keys(labelled[0], labelled[1], n_right) if labelled is not None else None
    train = training_rows(dataset, candidates, Split.TRAIN, exclude_keys=label_keys)
    if labelled is not None:
        train = tuple(np.concatenate([a, b]) for a, b in zip(train, labelled))
    valid = training_rows(dataset, candidates, Split.VALID, exclude_keys=pair_keys(train[0], train[1], n_right))
    for name, rows in (("TRAIN", train), ("VALID", valid)):
        if len(np.unique(rows[3])) < 2:
            raise ValueError(f"the {name} rows have {int(rows[3].sum())} matches and {int((rows[3] == 0).sum())} "
                             "non-matches; fitting the matcher needs both (add links or labels)")
    train_block, computed_train = _block_of(matcher, evidence, dataset, *train[:3], gnn)
    columns = informative_columns(train_block)  # on every row, before thinning
    if evidence.probability is not None:
        found, rows = _rows(evidence, train[0], train[1], n_right)
        prior = np.where(found, evidence.probability[rows], np.nan)
        protected = np.zeros(len(train[0]), dtype=bool)
        if labelled is not None:
            protected[len(train[0]) - len(labelled[0]):] = True
        kept = thin_easy_negatives(train[3], prior, protected, seed=seed, keep_one_in=keep_easy_one_in)
        train = tuple(a[kept] for a in train)
        train_block = train_block.select_rows(kept)
    valid_block, computed_valid = _block_of(matcher, evidence, dataset, *valid[:3], gnn)

    stacked = bool(matcher.gnn_stacks) and matcher.uses_gnn
    gnn_columns = tuple(n for n in columns if n.startswith(f"{GNN_GROUP}.") and n != f"{GNN_GROUP}.aligned_type")
    if stacked:
        columns = tuple(n for n in columns if not n.startswith(f"{GNN_GROUP}."))
    combiner_config = replace(quick_combiner_config(matcher), seed=seed)
    combiner = fit_combiner(select_columns(train_block, columns), train[3], select_columns(valid_block, columns),
                            valid[3], config=combiner_config)
    stack = fit_gnn_stack(combiner, valid_block, valid[3], gnn_columns, seed) if stacked and gnn_columns else None
    source = stack if stack is not None else {"valid_f1": combiner.valid_f1, "threshold": combiner.threshold,
                                              "valid_average_precision": combiner.valid_average_precision}
    anchors = evidence.anchors
    report = ({"round": 0, "anchors": int(len(np.unique(np.column_stack(anchors), axis=0))) if len(anchors[0]) else 0,
               "valid_f1": float(source["valid_f1"]), "valid_average_precision": float(source["valid_average_precision"]),
               "threshold": float(source["threshold"]), "quick_refit": True, "fit_rows": int(len(train[0]))},)
    config = replace(matcher.config, combiner=combiner_config, rounds=0)
    left, right, types = evidence.left, evidence.right, evidence.types
    one_to_one = np.isin(types, [matcher.type_names.index(t) for t in matcher.one_to_one_types])
    scores = decided_scores(round_output(combiner, stack, evidence.block), left, right, types, one_to_one)
    seconds = time.perf_counter() - start
    refitted = Matcher(config=config, combiners=(combiner,), specs=matcher.specs, type_names=matcher.type_names,
                       one_to_one_types=matcher.one_to_one_types, uses_gnn=matcher.uses_gnn,
                       uses_structure=matcher.uses_structure, fit_seconds=seconds, rounds_report=report,
                       gnn_stacks=(stack,) if stacked else (), fixed_anchors=anchors,
                       fixed_propagation_anchors=evidence.propagation_anchors)
    return QuickRefit(refitted, scores, evidence, seconds, computed_train + computed_valid)
