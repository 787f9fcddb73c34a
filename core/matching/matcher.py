"""The end-to-end matcher: candidate pairs of a dataset -> calibrated match probabilities, decisions, and why.

:func:`fit_matcher` builds the evidence of :mod:`~core.matching.pair_features` (name, aligned
attributes, structure, optionally the CG-MuAlign distance), fits the combiner of
:mod:`~core.matching.combiner` and decides which aligned types are one-to-one;
:meth:`Matcher.score` replays the same steps on any candidate pairs.

Which pairs teach what (no TEST link reaches a fit):

* **TRAIN rows**, per aligned type: where the TRAIN split holds labelled non-matches
  (DeepMatcher-style benchmarks) its labelled pairs as they are; otherwise the TRAIN matches as
  positives and the other blocked candidates of their left entities as negatives (the
  confusions the matcher will face), leaving out pairs known to match from TRAIN or VALID.
  Analyst labels are added as TRAIN rows (a label overrides a split row of the same pair).
* **VALID rows**, built the same way from the VALID split, drive only choices: early stopping,
  the hyper-parameter grid, Platt scaling and the F1 threshold.
* **Anchors** for the structural profiles: the TRAIN matches and the analyst's matches at fit
  time; the TRAIN matches plus ``extra_matches`` (accepted labels) at score time. Each pair's
  profiles ignore the anchors that involve its own entities, so a TRAIN pair is not told its
  own label.

**The GNN distance** is weighed on VALID (``gnn_stacking``, default): CG-MuAlign trained on the
TRAIN links, so on TRAIN pairs its distances are in-sample and would teach the combiner to trust
it too much. The combiner learns the other groups on TRAIN; a logistic regression on VALID then
combines its log-odds with the distance, a few parameters fitted where Platt scaling would be.

**Iterations** (``rounds``): after a round is scored, the confident mutual matches (decided,
probability at least ``confident_probability``, each the other's best candidate) join the
anchors, the structural columns are recomputed, and a new combiner is fitted on the same rows.
:meth:`Matcher.score` replays every round, so scoring sees anchors found the same way as the
fit did. ``rounds=0`` is one combiner with the known anchors only.

**Collective decision**: for each one-to-one type (``one_to_one="auto"``: a type the schema
declares one-to-one, else one whose TRAIN matches look one-to-one by
:func:`~core.matching.assignment.detect_one_to_one`), a pair is decided a match only if the
joint assignment over that type's candidates keeps it and its probability reaches the threshold.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score

from core.evaluation.metrics import best_f1_threshold
from core.data.candidates import CandidatePairs, pair_keys
from core.data.dataset import AlignmentDataset
from core.data.links import Split
from core.data.sets import isin, unique
from core.matching.assignment import Objective, assign_one_to_one, detect_one_to_one
from core.matching.combiner import (FittedCombiner, MatcherConfig, check_known_settings, fit_combiner,
                                    load_combiner)
from core.matching.comparisons import ComparisonSpec
from core.matching.feature_block import FeatureBlock
from core.matching.label_propagation import LABEL_COLUMN, cached_alignment, label_features
from core.matching.relative import DEFAULT_RELATIVE_COLUMNS, RELATIVE_SUFFIXES, relative_features
from core.matching.pair_features import (
    GNN_GROUP,
    GnnDistance,
    anchor_pair_features,
    comparison_specs,
    gnn_pair_features,
    static_pair_features,
    structure_context,
)

__all__ = [
    "MATCHER_DIR",
    "FILE_FORMAT",
    "FILE_VERSION",
    "GnnDistance",
    "MatchingConfig",
    "MatchScores",
    "Matcher",
    "fit_matcher",
    "load_matcher",
    "training_rows",
    "informative_columns",
    "select_columns",
    "RoundOutput",
    "round_output",
    "decided_scores",
    # the parts a quick refit (core.matching.refit) reuses
    "EvidenceBuilder",
    "decide_pairs",
    "fit_gnn_stack",
    "label_rows",
]

#: Sub-directory name inside a model version directory.
MATCHER_DIR = "matcher"
FILE_FORMAT = "mualign.matching.matcher"
FILE_VERSION = 1
_ONE_TO_ONE_MODES = ("auto", "on", "off")
#: Pairs the combiner reads at a time when scoring, at most: scikit-learn copies the columns it is
#: given (as float64, in its own order), which over every candidate of a large project is gigabytes.
SCORE_CHUNK_ROWS = 262_144
#: ... and the bytes of one chunk's float64 columns, at most: a chunk above glibc's 32 MiB mmap
#: threshold is mapped afresh and page-faulted every time (``cli.keep_freed_memory``); DBLP-ACM's
#: 55 columns at 262,144 rows were 115 MB, and 1M rows scored in 3.7-4.2 s against 2.9-3.1 s in
#: chunks of 16 MiB (the same figures)
SCORE_CHUNK_BYTES = 16 << 20


@dataclass(frozen=True)
class MatchingConfig:
    """Every knob of the end-to-end matcher (``to_dict``/``from_dict`` for JSON).

    Parameters
    ----------
    combiner : MatcherConfig
        The learner (gradient boosting by default, logistic regression as the simple option).
    use_attributes : bool
        Compare the schema's aligned attributes (the name is always compared).
    use_structure : bool
        Anchor-profile propagation and neighbour-name overlap along aligned relations.
    use_gnn : bool
        Add the CG-MuAlign distance when a ``gnn`` callable is given to the fit.
    one_to_one : 'auto', 'on' or 'off'
        'auto': types the schema declares one-to-one, else detected on TRAIN matches; 'on': every
        type; 'off': none.
    rounds : int
        Iterations after the first fit in which confident mutual matches become anchors (0: none).
        At most: a round is kept only if its VALID F1 is strictly higher than the round before
        (iTunes-Amazon, seed 0: the round tied on VALID, 0.962, and cost 0.02 TEST F1).
    comparisons : dict, optional
        User overrides of the comparisons, keyed by "name" or an aligned attribute.
    confident_probability : float
        Lowest probability at which a decided mutual-best pair becomes an anchor for the next round.
    hops : int
        Walk length of the anchor profiles.
    gnn_stacking : bool
        Weigh the GNN distance on VALID rather than on TRAIN: the combiner learns the other groups
        on TRAIN, then a logistic regression on VALID combines its log-odds with the distance
        (see :func:`fit_gnn_stack`). CG-MuAlign was trained on the TRAIN links, so its distances
        on TRAIN pairs are in-sample, tighter than on any new pair; a combiner fitted on them
        learns to trust the GNN more than it deserves.
    type_column : bool
        Give each group a copy of the pair's aligned-type code, so a group's trees can weigh its
        evidence differently per type (a year mismatch means more for films than for genres)
        while contributions stay per group. Only when the schema has several types.
    relative_features : bool
        Add, for the key columns (name char-3gram cosine, anchor-profile cosines, GNN distance),
        how each candidate compares with its entities' other candidates: reciprocal rank on
        each side, margin to the best other, mutual best, CSLS (:mod:`core.matching.relative`).
        Computed over the candidate set (never labels); each column joins its source's group.
    label_propagation : bool
        With ``use_structure``, add the three-view label-propagation cosine over every triple
        (:mod:`core.matching.label_propagation`, from the known anchors with its own
        self-training rounds) and its relative columns.
    fit_pairs_limit : int
        Most pairs the fit computes evidence for: its TRAIN and VALID rows and, for the rounds
        and the relative columns, the other candidates. Above it only the candidates that share
        an entity with a row join, and then a seeded sample of the rows' left entities (each
        with all its rows and candidates, so the relative columns of the kept rows are those of
        the whole candidate set); ``describe()["fit_sample"]`` says what was kept (see
        :func:`fit_pair_set`). The shared benchmarks stay under the default (DBP15K: about 1M
        candidates); a 300K-entity side blocks to 8.9M candidates, whose 80 float64 columns
        alone are 5.3 GiB.
    """

    combiner: MatcherConfig = MatcherConfig()
    use_attributes: bool = True
    use_structure: bool = True
    use_gnn: bool = True
    one_to_one: str = "auto"
    rounds: int = 1
    comparisons: dict | None = None
    confident_probability: float = 0.9
    hops: int = 2
    type_column: bool = True
    gnn_stacking: bool = True
    relative_features: bool = True
    label_propagation: bool = True
    fit_pairs_limit: int = 2_000_000

    def __post_init__(self) -> None:
        if self.one_to_one not in _ONE_TO_ONE_MODES:
            raise ValueError(f"one_to_one must be one of {list(_ONE_TO_ONE_MODES)}, got {self.one_to_one!r}")
        if self.rounds < 0:
            raise ValueError(f"rounds must be >= 0, got {self.rounds}")
        if not 0.5 <= self.confident_probability <= 1.0:
            raise ValueError(f"confident_probability must lie in [0.5, 1], got {self.confident_probability}")
        if self.hops < 1:
            raise ValueError(f"hops must be >= 1, got {self.hops}")
        if self.fit_pairs_limit < 1:
            raise ValueError(f"fit_pairs_limit must be >= 1, got {self.fit_pairs_limit}")
        if isinstance(self.combiner, dict):
            object.__setattr__(self, "combiner", MatcherConfig.from_dict(self.combiner))

    def to_dict(self) -> dict:
        data = asdict(self)
        data["combiner"] = self.combiner.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "MatchingConfig":
        """Build from parsed JSON; unknown keys are an error naming them."""
        check_known_settings(cls, data, "matching")
        data = dict(data)
        if isinstance(data.get("combiner"), dict):
            combiner = dict(data["combiner"])
            for key in ("learning_rates", "max_leaf_nodes", "l2_regularizations", "logreg_cs"):
                if key in combiner:
                    combiner[key] = tuple(combiner[key])
            data["combiner"] = MatcherConfig.from_dict(combiner)
        return cls(**data)


@dataclass(frozen=True, eq=False)
class MatchScores:
    """One row per candidate pair, in the order of the candidates given.

    ``log_odds == baseline + contributions.sum(1)`` and ``probability == sigmoid(log_odds)``.
    ``assigned`` says which pairs the one-to-one step kept (False for every pair of a type it does
    not apply to), ``one_to_one`` which pairs' type it applies to; ``anchors_per_round`` how
    many new anchors each iteration added.
    """

    probability: np.ndarray
    log_odds: np.ndarray
    contributions: np.ndarray
    group_names: tuple[str, ...]
    baseline: float
    decided: np.ndarray
    assigned: np.ndarray | None = None
    one_to_one: np.ndarray | None = None
    anchors_per_round: tuple[int, ...] = ()

    def __len__(self) -> int:
        return len(self.probability)


@dataclass(frozen=True, eq=False)
class Matcher:
    """A fitted matcher: one combiner per round, the comparisons, and the one-to-one types."""

    config: MatchingConfig
    combiners: tuple[FittedCombiner, ...]
    specs: tuple[ComparisonSpec, ...]
    type_names: tuple[str, ...]
    one_to_one_types: tuple[str, ...]
    uses_gnn: bool
    uses_structure: bool
    fit_seconds: float = 0.0
    rounds_report: tuple[dict, ...] = field(default=())
    gnn_stacks: tuple[dict | None, ...] = field(default=())
    #: (left, right) anchors fixed at fit time (a quick refit keeps its version's, see
    #: core.matching.refit); when set, :meth:`score` uses them instead of TRAIN + ``extra_matches``.
    fixed_anchors: tuple[np.ndarray, np.ndarray] | None = None
    #: (left, right) anchors the label propagation ran from at fit time (the known ones, before any
    #: round added its own); a quick refit keeps them with ``fixed_anchors`` so that its scores
    #: are those of its cached evidence. None: the first anchors scoring starts from.
    fixed_propagation_anchors: tuple[np.ndarray, np.ndarray] | None = None
    #: how the fit sampled its rows above ``config.fit_pairs_limit`` (see :func:`fit_pair_set`); empty: no sample
    fit_sample: dict = field(default_factory=dict)

    def _stack(self, r: int) -> dict | None:
        return self.gnn_stacks[r] if self.gnn_stacks else None

    @property
    def threshold(self) -> float:
        """Probability threshold of a match, chosen for F1 on VALID (last round)."""
        stack = self._stack(len(self.combiners) - 1)
        return float(self.combiners[-1].threshold if stack is None else stack["threshold"])

    @property
    def feature_names(self) -> tuple[str, ...]:
        stack = self._stack(len(self.combiners) - 1)
        return self.combiners[-1].feature_names + (() if stack is None else tuple(stack["gnn_columns"]))

    @property
    def group_names(self) -> tuple[str, ...]:
        stack = self._stack(len(self.combiners) - 1)
        return self.combiners[-1].group_names + (() if stack is None else (GNN_GROUP,))

    # ---- scoring --------------------------------------------------------------------------
    def score(self, dataset: AlignmentDataset, candidates: CandidatePairs, *, gnn: GnnDistance | None = None,
              extra_matches: tuple[np.ndarray, np.ndarray] | None = None) -> MatchScores:
        """Probability, log-odds, contributions and decision of every candidate (see :meth:`score_with_evidence`)."""
        return self.score_with_evidence(dataset, candidates, gnn=gnn, extra_matches=extra_matches)[0]

    def score_with_evidence(self, dataset: AlignmentDataset, candidates: CandidatePairs, *,
                            gnn: GnnDistance | None = None,
                            extra_matches: tuple[np.ndarray, np.ndarray] | None = None):
        """(MatchScores, the last round's FeatureBlock, its anchors, the propagation's anchors): what a quick refit caches.

        Probability, log-odds, per-group contributions and decision of every candidate pair.

        Parameters
        ----------
        dataset : AlignmentDataset
            The graphs the matcher was fitted on (or graphs with the same schema).
        candidates : CandidatePairs
        gnn : callable, optional
            Required when the matcher was fitted with the GNN distance.
        extra_matches : (left, right) int arrays, optional
            Accepted labels: anchors beside the TRAIN matches.

        Raises
        ------
        ValueError
            Aligned types differ from the fit's, or a GNN-fitted matcher gets no ``gnn``.
        """
        self._check_dataset(dataset)
        if self.uses_gnn and gnn is None:
            raise ValueError("this matcher was fitted with the CG-MuAlign distance; pass gnn= (the model's "
                             "distance callable), or refit with use_gnn=False")
        left, right = np.asarray(candidates.left, dtype=np.int64), np.asarray(candidates.right, dtype=np.int64)
        types = np.asarray(candidates.type, dtype=np.int64)
        evidence = EvidenceBuilder.build(dataset, left, right, types, self.specs, self.config,
                                   self.uses_structure, gnn if self.uses_gnn else None)
        anchor_left, anchor_right = (_known_anchors(dataset, extra_matches) if self.fixed_anchors is None
                                     else tuple(np.asarray(a, dtype=np.int64) for a in self.fixed_anchors))
        propagation = ((anchor_left, anchor_right) if self.fixed_propagation_anchors is None
                       else tuple(np.asarray(a, dtype=np.int64) for a in self.fixed_propagation_anchors))
        evidence.propagation_anchors = propagation
        one_to_one = self._one_to_one(types)
        added = []
        for r, combiner in enumerate(self.combiners):
            full = evidence.block(anchor_left, anchor_right)
            output = round_output(combiner, self._stack(r), full)
            if r == len(self.combiners) - 1:
                break
            decided, _ = decide_pairs(left, right, types, output.probability, output.threshold, one_to_one)
            new = _confident_mutual(left, right, output.probability, decided, self.config.confident_probability,
                                    anchor_left, anchor_right)
            added.append(int(new.sum()))
            anchor_left, anchor_right = np.r_[anchor_left, left[new]], np.r_[anchor_right, right[new]]
            full = output = None  # freed before the next round's block: two at once were the scoring peak
        scores = decided_scores(output, left, right, types, one_to_one, anchors_per_round=tuple(added))
        return scores, full, (anchor_left, anchor_right), propagation

    def score_last_block(self, left: np.ndarray, right: np.ndarray, types: np.ndarray,
                         block: FeatureBlock, contributions: np.ndarray | None = None) -> MatchScores:
        """The figures :meth:`score` gives, from the last round's feature block it computed.

        The block (cached as a version's evidence) is what the last round scores; rebuilding it is
        what costs, so a cached one makes scoring every candidate a pass over the trees. With the
        last round's ``contributions`` too (also cached) there is no pass at all: the log-odds are
        the baseline plus their sum, as :func:`round_output` computes them. ``anchors_per_round``
        is empty: the earlier rounds are not run again.
        """
        types = np.asarray(types, dtype=np.int64)
        combiner, stack = self.combiners[-1], self._stack(len(self.combiners) - 1)
        if contributions is not None and contributions.shape == (block.n_pairs, len(output_groups(combiner, stack))):
            output = output_of_contributions(combiner, stack, np.asarray(contributions, dtype=np.float64))
        else:
            output = round_output(combiner, stack, block)
        return decided_scores(output, np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64), types,
                              self._one_to_one(types))

    def _one_to_one(self, types: np.ndarray) -> np.ndarray:
        """Whether each pair's aligned type is decided one-to-one."""
        return np.isin(types, [self.type_names.index(t) for t in self.one_to_one_types])

    def _check_dataset(self, dataset: AlignmentDataset) -> None:
        if tuple(dataset.schema.type_names) != self.type_names:
            raise ValueError(f"the matcher was fitted for aligned types {list(self.type_names)}, "
                             f"the dataset has {list(dataset.schema.type_names)}; refit the matcher")

    # ---- persistence and summary ------------------------------------------------------------
    def save(self, directory: str | Path) -> None:
        """Write ``matcher.json`` and one ``combiner_{round}.joblib`` per round into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        files = []
        for r, combiner in enumerate(self.combiners):
            name = f"combiner_{r}.joblib"
            combiner.save(directory / name)
            files.append(name)
        manifest = {
            "format": FILE_FORMAT, "version": FILE_VERSION, "config": self.config.to_dict(),
            "specs": [{"attribute": s.attribute, "kind": s.kind.value, "comparisons": list(s.comparisons),
                       "left_column": s.left_column, "right_column": s.right_column} for s in self.specs],
            "type_names": list(self.type_names), "one_to_one_types": list(self.one_to_one_types),
            "uses_gnn": self.uses_gnn, "uses_structure": self.uses_structure,
            "fit_seconds": self.fit_seconds, "rounds_report": list(self.rounds_report),
            "combiner_files": files, "gnn_stacks": list(self.gnn_stacks), "fit_sample": dict(self.fit_sample),
        }
        if self.fixed_anchors is not None:
            manifest["fixed_anchors"] = [np.asarray(a, dtype=np.int64).tolist() for a in self.fixed_anchors]
        if self.fixed_propagation_anchors is not None:
            manifest["fixed_propagation_anchors"] = [np.asarray(a, dtype=np.int64).tolist()
                                                     for a in self.fixed_propagation_anchors]
        (directory / "matcher.json").write_text(json.dumps(manifest, indent=1, default=_json_default) + "\n",
                                                encoding="utf-8")

    def describe(self) -> dict:
        """A summary for the UI and CLI: groups, threshold, fit time, VALID metrics, rounds."""
        last = self.combiners[-1]
        return {
            "combiner": self.config.combiner.kind.value, "groups": list(self.group_names),
            "n_features": len(self.feature_names), "threshold": self.threshold,
            "fit_seconds": round(self.fit_seconds, 3),
            "valid_f1": float(last.valid_f1 if self._stack(len(self.combiners) - 1) is None
                              else self._stack(len(self.combiners) - 1)["valid_f1"]),
            "valid_average_precision": float(last.valid_average_precision),
            "hyper_parameters": dict(last.hyper_parameters), "rounds": list(self.rounds_report),
            "one_to_one_types": list(self.one_to_one_types), "uses_gnn": self.uses_gnn,
            "uses_structure": self.uses_structure, "fit_sample": dict(self.fit_sample),
        }


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def load_matcher(directory: str | Path) -> Matcher:
    """Read a matcher written by :meth:`Matcher.save`.

    Raises
    ------
    ValueError
        No ``matcher.json`` in the directory, a file that is not a matcher manifest, a version
        this code cannot read, or a missing combiner file; each message names the file.
    """
    directory = Path(directory)
    path = directory / "matcher.json"
    if not path.is_file():
        raise ValueError(f"{path}: no matcher here (matcher.json missing); fit the matcher first")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a readable matcher manifest ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FILE_FORMAT:
        raise ValueError(f"{path}: not a mualign matcher manifest (expected format {FILE_FORMAT!r})")
    if manifest.get("version") != FILE_VERSION:
        raise ValueError(f"{path}: matcher version {manifest.get('version')!r}, this code reads version "
                         f"{FILE_VERSION}; refit the matcher")
    combiners = []
    for name in manifest["combiner_files"]:
        if not (directory / name).is_file():
            raise ValueError(f"{directory / name}: combiner file listed in {path} is missing")
        combiners.append(load_combiner(directory / name))
    specs = tuple(ComparisonSpec(s["attribute"], s["kind"], tuple(s["comparisons"]), s["left_column"],
                                 s["right_column"]) for s in manifest["specs"])
    return Matcher(config=MatchingConfig.from_dict(manifest["config"]), combiners=tuple(combiners), specs=specs,
                   type_names=tuple(manifest["type_names"]), one_to_one_types=tuple(manifest["one_to_one_types"]),
                   uses_gnn=bool(manifest["uses_gnn"]), uses_structure=bool(manifest["uses_structure"]),
                   fit_seconds=float(manifest["fit_seconds"]), rounds_report=tuple(manifest["rounds_report"]),
                   gnn_stacks=tuple(manifest.get("gnn_stacks", ())), fit_sample=dict(manifest.get("fit_sample", {})),
                   fixed_anchors=(None if manifest.get("fixed_anchors") is None else
                                  tuple(np.asarray(a, dtype=np.int64) for a in manifest["fixed_anchors"])),
                   fixed_propagation_anchors=(
                       None if manifest.get("fixed_propagation_anchors") is None else
                       tuple(np.asarray(a, dtype=np.int64) for a in manifest["fixed_propagation_anchors"])))


# --------------------------------------------------------------------------------------------
# Evidence for a fixed set of pairs
# --------------------------------------------------------------------------------------------


@dataclass(eq=False)
class EvidenceBuilder:
    """The anchor-free columns of a set of pairs, computed once; anchor columns per call."""

    left: np.ndarray
    right: np.ndarray
    types: np.ndarray
    static: FeatureBlock
    gnn: FeatureBlock | None
    context: object
    type_groups: bool
    relative: bool = False
    dataset: AlignmentDataset | None = None  # set when label propagation applies (see block)
    #: the anchors the propagation runs from; None: the first anchors block() is given (the known ones)
    propagation_anchors: tuple[np.ndarray, np.ndarray] | None = None
    _labels: FeatureBlock | None = None  # the label-propagation column, once computed

    @classmethod
    def build(cls, dataset, left, right, types, specs, config: MatchingConfig, use_structure: bool,
              gnn: GnnDistance | None) -> "EvidenceBuilder":
        static = static_pair_features(dataset, left, right, specs=specs, use_structure=use_structure)
        context = structure_context(dataset, hops=config.hops) if use_structure else None
        gnn_block = gnn_pair_features(gnn, left, right) if gnn is not None else None
        type_groups = config.type_column and len(dataset.schema.types) > 1
        return cls(left, right, types, static, gnn_block, context, type_groups, config.relative_features,
                   dataset if use_structure and config.label_propagation else None)

    def block(self, anchor_left: np.ndarray, anchor_right: np.ndarray) -> FeatureBlock:
        blocks = [self.static]
        if self.context is not None:
            blocks.append(anchor_pair_features(self.context, self.left, self.right, anchor_left, anchor_right))
        if self.dataset is not None:  # propagated once, from the known anchors: rounds do not move it
            if self._labels is None:  # so the column is computed once too
                if self.propagation_anchors is None:
                    self.propagation_anchors = (anchor_left, anchor_right)
                self._labels = label_features(cached_alignment(self.dataset, *self.propagation_anchors),
                                              self.left, self.right)
            blocks.append(self._labels)
        if self.gnn is not None:
            blocks.append(self.gnn)
        # relative columns over this whole set of pairs (the fit passes every candidate, see fit_matcher)
        specs = (*DEFAULT_RELATIVE_COLUMNS, LABEL_COLUMN) if self.relative else ()
        keys = _key_columns(blocks, specs)
        specs = tuple(spec for spec in specs if spec.lstrip("-") in keys.names)
        groups = tuple(dict.fromkeys(g for b in blocks for g in b.groups))  # relative columns join their source's
        width = (sum(b.values.shape[1] for b in blocks) + len(specs) * len(RELATIVE_SUFFIXES)
                 + (len(groups) if self.type_groups else 0))
        # one array, filled in place: at millions of pairs every extra copy of the columns is gigabytes
        values = np.empty((len(self.left), width), dtype=np.float64)
        names, column_groups, j = [], [], 0

        def put(block: FeatureBlock) -> None:
            nonlocal j
            values[:, j:j + block.values.shape[1]] = block.values
            names.extend(block.names)
            column_groups.extend(block.groups)
            j += block.values.shape[1]

        for block in blocks:
            put(block)
        for spec in specs:  # one key column at a time: its six columns are the only temporary
            put(relative_features(keys, self.left, self.right, columns=(spec,)))
        if j != width - (len(groups) if self.type_groups else 0):  # np.empty: a column left unfilled is garbage
            raise RuntimeError(f"evidence block: {j} columns filled before the type codes, {width} planned")
        if self.type_groups:
            values[:, j:] = self.types.astype(np.float64)[:, None]
            names.extend(f"{g}.aligned_type" for g in groups)
            column_groups.extend(groups)
        return FeatureBlock(tuple(names), tuple(column_groups), values)


def _key_columns(blocks: list[FeatureBlock], specs: tuple[str, ...]) -> FeatureBlock:
    """The columns named in ``specs`` (a leading "-" marks a distance) found in ``blocks``, as one narrow block."""
    wanted = {spec.lstrip("-") for spec in specs}
    names, groups, values = [], [], []
    for block in blocks:
        for j, name in enumerate(block.names):
            if name in wanted:
                names.append(name)
                groups.append(block.groups[j])
                values.append(block.values[:, j])
    n = blocks[0].n_pairs if blocks else 0
    return FeatureBlock(tuple(names), tuple(groups), np.column_stack(values) if values else np.zeros((n, 0)))


@dataclass(frozen=True, eq=False)
class RoundOutput:
    """One round's figures for a set of pairs: what a round hands the next, and the last round the scores."""

    log_odds: np.ndarray
    probability: np.ndarray
    contributions: np.ndarray
    group_names: tuple[str, ...]
    baseline: float
    threshold: float


def decided_scores(output: RoundOutput, left: np.ndarray, right: np.ndarray, types: np.ndarray,
                   one_to_one: np.ndarray, *, anchors_per_round: tuple[int, ...] = ()) -> MatchScores:
    """The last round's output as MatchScores: its threshold, then the 1-to-1 step where it applies."""
    decided, assigned = decide_pairs(left, right, types, output.probability, output.threshold, one_to_one)
    return MatchScores(probability=output.probability, log_odds=output.log_odds, contributions=output.contributions,
                       group_names=output.group_names, baseline=output.baseline, decided=decided, assigned=assigned,
                       one_to_one=one_to_one, anchors_per_round=anchors_per_round)


def round_output(combiner: FittedCombiner, stack: dict | None, block: FeatureBlock) -> RoundOutput:
    """One round's calibrated log-odds, probability, contributions and threshold on these pairs.

    One pass over the trees: the log-odds are the baseline plus the sum of the per-group
    contributions (exact to float rounding, ~1e-12, by construction of the combiner), where asking
    the combiner for both would run every tree twice (a third of ``mualign train``'s matcher time
    on DBLP-ACM). With a GNN stack: ``log_odds = a * combiner_log_odds + b . gnn + c``, so every
    combiner group contributes ``a`` times its own contribution, the ``gnn`` group ``b . gnn``, and
    the baseline is ``a * combiner_baseline + c``: still an exact split.
    """
    n = block.n_pairs
    contributions = np.empty((n, len(combiner.group_names)), dtype=np.float64)
    rows = max(1, min(SCORE_CHUNK_ROWS, SCORE_CHUNK_BYTES // (8 * max(1, len(combiner.feature_names)))))
    for start in range(0, n, rows):  # the combiner's own copies of its columns stay one chunk
        features = select_columns(block.select_rows(slice(start, start + rows)), combiner.feature_names)
        contributions[start:start + rows] = combiner.contributions(features)
    if stack is not None:
        # a relative margin is NaN for an entity with one candidate: no evidence, 0 in the linear stack
        gnn = np.nan_to_num(select_columns(block, tuple(stack["gnn_columns"])).values) @ np.asarray(stack["gnn_coef"])
        contributions = np.column_stack([float(stack["stage_scale"]) * contributions, gnn])
    return output_of_contributions(combiner, stack, contributions)


def output_groups(combiner: FittedCombiner, stack: dict | None) -> tuple[str, ...]:
    """The contribution groups of a round's output: the combiner's, then ``gnn`` under a GNN stack."""
    return combiner.group_names + ((GNN_GROUP,) if stack is not None else ())


def output_of_contributions(combiner: FittedCombiner, stack: dict | None, contributions: np.ndarray) -> RoundOutput:
    """A round's output from its final per-group contributions (stack scaling applied, ``gnn`` last)."""
    baseline, threshold = float(combiner.baseline_log_odds), float(combiner.threshold)
    if stack is not None:
        baseline = float(stack["stage_scale"]) * baseline + float(stack["intercept"])
        threshold = float(stack["threshold"])
    log_odds = baseline + contributions.sum(axis=1)
    return RoundOutput(log_odds, expit(log_odds), contributions, output_groups(combiner, stack), baseline, threshold)


def fit_gnn_stack(combiner: FittedCombiner, valid_block: FeatureBlock, valid_y: np.ndarray,
                   gnn_columns: tuple[str, ...], seed: int) -> dict:
    """Weights of [combiner log-odds, GNN columns] fitted on VALID, and the F1 threshold there.

    A logistic regression with mild regularisation (C = 10): three or so parameters on the
    hundreds of VALID pairs, like Platt scaling, which it replaces for this round.
    """
    stage = combiner.log_odds(select_columns(valid_block, combiner.feature_names))
    gnn = np.nan_to_num(select_columns(valid_block, gnn_columns).values)
    model = LogisticRegression(C=10.0, max_iter=1000, random_state=seed).fit(np.column_stack([stage, gnn]), valid_y)
    coef = model.coef_.ravel()
    final = model.decision_function(np.column_stack([stage, gnn]))
    threshold, f1 = best_f1_threshold(valid_y, expit(final))
    return {"stage_scale": float(coef[0]), "gnn_columns": list(gnn_columns), "gnn_coef": coef[1:].tolist(),
            "intercept": float(model.intercept_[0]), "threshold": float(threshold), "valid_f1": float(f1),
            "valid_average_precision": float(average_precision_score(valid_y, final))}


def informative_columns(block: FeatureBlock) -> tuple[str, ...]:
    """Columns with at least two distinct non-missing values among these (TRAIN) rows.

    A column that is constant or missing on every TRAIN row (an attribute no training pair has,
    a relation without edges) cannot teach the combiner anything, and gradient boosting cannot
    bin it.
    """
    out = []
    for j, name in enumerate(block.names):
        column = block.values[:, j]
        present = column[~np.isnan(column)]
        if len(present) and (present != present[0]).any():
            out.append(name)
    return tuple(out)


def select_columns(block: FeatureBlock, names: tuple[str, ...]) -> FeatureBlock:
    """The block's columns ``names``, in that order.

    Raises
    ------
    ValueError
        A column the matcher was fitted on is not produced for these pairs (different schema
        attributes or relations than at fit time).
    """
    position = {n: j for j, n in enumerate(block.names)}
    absent = [n for n in names if n not in position]
    if absent:
        raise ValueError(f"the matcher was fitted on columns this dataset does not produce: {absent}; "
                         "the schema's attributes or relations changed since the fit, refit the matcher")
    index = [position[n] for n in names]
    return FeatureBlock(tuple(names), tuple(block.groups[j] for j in index), block.values[:, index])


def _known_anchors(dataset: AlignmentDataset, extra_matches) -> tuple[np.ndarray, np.ndarray]:
    """TRAIN matches plus the extra matches given (accepted labels)."""
    train = dataset.links.in_split(Split.TRAIN).positives()
    left, right = np.asarray(train.left, dtype=np.int64), np.asarray(train.right, dtype=np.int64)
    if extra_matches is not None:
        extra_left, extra_right = (np.asarray(a, dtype=np.int64).reshape(-1) for a in extra_matches)
        if len(extra_left) != len(extra_right):
            raise ValueError(f"extra_matches: {len(extra_left)} left and {len(extra_right)} right entities")
        left, right = np.r_[left, extra_left], np.r_[right, extra_right]
    return left, right


# --------------------------------------------------------------------------------------------
# Decisions
# --------------------------------------------------------------------------------------------


def decide_pairs(left, right, types, probability, threshold: float, one_to_one: np.ndarray):
    """(decided, assigned): threshold, and for one-to-one types the joint assignment too.

    The assignment may keep only pairs at or above the threshold; under a threshold below 0.5
    the objective is the expected number of matches (log-odds would refuse pairs under 0.5).
    Repeated pairs are decided once and share the decision.
    """
    decided = probability >= threshold
    assigned = np.zeros(len(left), dtype=bool)
    if not one_to_one.any():
        return decided, assigned
    objective = Objective.LOG_ODDS if threshold >= 0.5 else Objective.PROBABILITY
    floor = np.nextafter(threshold, -np.inf)
    for t in np.unique(types[one_to_one]):
        rows = np.flatnonzero(types == t)
        keys = np.column_stack([left[rows], right[rows]])
        unique, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        kept, _ = assign_one_to_one(unique[:, 0], unique[:, 1], probability[rows[first]],
                                    min_probability=floor, objective=objective)
        assigned[rows] = kept[inverse.reshape(-1)]
        decided[rows] &= assigned[rows]
    return decided, assigned


def _confident_mutual(left, right, probability, decided, min_probability: float, anchor_left, anchor_right):
    """Decided pairs at ``min_probability`` or more that are each other's best, new entities only."""
    n = len(left)
    if n == 0:
        return np.zeros(0, dtype=bool)
    order = np.lexsort((np.arange(n), -probability))
    best_left = np.full(int(left.max()) + 1, -1, dtype=np.int64)
    best_right = np.full(int(right.max()) + 1, -1, dtype=np.int64)
    # reversed assignment leaves the first (highest) position per entity
    best_left[left[order[::-1]]] = order[::-1]
    best_right[right[order[::-1]]] = order[::-1]
    rows = np.arange(n)
    mutual = (best_left[left] == rows) & (best_right[right] == rows)
    fresh = ~isin(left, anchor_left) & ~isin(right, anchor_right)
    return decided & mutual & (probability >= min_probability) & fresh


# --------------------------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------------------------


def training_rows(dataset: AlignmentDataset, candidates: CandidatePairs, split: Split,
                  *, exclude_keys: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(left, right, type, label) rows that ``split`` (TRAIN or VALID) contributes to a fit.

    Per aligned type: where the split has labelled non-matches, its labelled pairs; otherwise
    its matches and, as non-matches, the other candidates of their left entities, leaving out
    pairs known to match from the TRAIN or VALID splits. TEST links are never read. Pairs whose
    key (:func:`~core.data.candidates.pair_keys`) is in ``exclude_keys`` are dropped.

    Raises
    ------
    ValueError
        For TEST or UNUSED, which never teach anything.
    """
    if split not in (Split.TRAIN, Split.VALID):
        raise ValueError(f"fit rows come from TRAIN or VALID only, not {split.value}")
    n_right = dataset.right.n_entities
    links = dataset.links.in_split(split)
    known = dataset.links.in_split(Split.TRAIN, Split.VALID).positives()
    known_keys = pair_keys(known.left, known.right, n_right)
    labelled_types = np.unique(links.type[links.label == 0])
    labelled = links.select(np.isin(links.type, labelled_types))
    positives = links.positives().select(~np.isin(links.positives().type, labelled_types))
    from_left = isin(candidates.left, positives.left) & ~isin(candidates.type, labelled_types)
    negatives = candidates.select(from_left & ~isin(candidates.pair_keys(n_right), known_keys))
    left = np.concatenate([labelled.left, positives.left, negatives.left]).astype(np.int64)
    right = np.concatenate([labelled.right, positives.right, negatives.right]).astype(np.int64)
    types = np.concatenate([labelled.type, positives.type, negatives.type]).astype(np.int64)
    labels = np.concatenate([labelled.label, np.ones(len(positives)), np.zeros(len(negatives))]).astype(np.int64)
    keys = pair_keys(left, right, n_right)
    _, first = np.unique(keys, return_index=True)  # a pair listed twice counts once
    keep = np.zeros(len(keys), dtype=bool)
    keep[first] = True
    if exclude_keys is not None:
        keep &= ~isin(keys, exclude_keys)
    return left[keep], right[keep], types[keep], labels[keep]


def label_rows(dataset: AlignmentDataset, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Analyst labels as rows; the type comes from the left entity's type through the schema."""
    left, right, is_match = (np.asarray(a).reshape(-1) for a in labels)
    if not (len(left) == len(right) == len(is_match)):
        raise ValueError(f"labels: {len(left)} left, {len(right)} right and {len(is_match)} decisions; "
                         "expected one of each per labelled pair")
    left, right = left.astype(np.int64), right.astype(np.int64)
    aligned = np.array([dataset.schema.aligned_type_of("left", t) for t in dataset.left.type_names], dtype=np.int64)
    types = aligned[dataset.left.entity_types[left]] if len(left) else np.zeros(0, dtype=np.int64)
    if (types < 0).any():
        raise ValueError("labels include left entities of a type the schema does not align")
    return left, right, types, is_match.astype(bool).astype(np.int64)


def _one_to_one_types(dataset: AlignmentDataset, mode: str, match_left, match_right, match_types) -> tuple[str, ...]:
    names = tuple(dataset.schema.type_names)
    if mode == "off":
        return ()
    if mode == "on":
        return names
    declared = getattr(dataset.schema, "one_to_one", None)
    if declared is not None:
        return tuple(t for t in names if t in set(declared))
    return tuple(t for i, t in enumerate(names)
                 if detect_one_to_one(match_left[match_types == i], match_right[match_types == i]).is_one_to_one)


def fit_matcher(dataset: AlignmentDataset, candidates: CandidatePairs, *, gnn: GnnDistance | None = None,
                labels: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                config: MatchingConfig | None = None, seed: int = 0) -> Matcher:
    """Fit the end-to-end matcher on TRAIN (+ labels), with every choice made on VALID.

    Parameters
    ----------
    dataset : AlignmentDataset
    candidates : CandidatePairs
        The blocked candidates: negatives come from them, and iterations score them.
    gnn : callable, optional
        ``(left, right) -> distance``, e.g. ``ModelScorer.distances``; used when
        ``config.use_gnn``.
    labels : (left, right, is_match), optional
        Analyst labels, used like TRAIN rows; their matches are anchors too.
    config : MatchingConfig, optional
    seed : int
        Replaces ``config.combiner.seed``.

    Raises
    ------
    ValueError
        TRAIN or VALID rows without both matches and non-matches.
    """
    start = time.perf_counter()
    config = config or MatchingConfig()
    config = replace(config, combiner=replace(config.combiner, seed=seed))
    n_right = dataset.right.n_entities
    labelled = label_rows(dataset, labels) if labels is not None else None
    label_keys = pair_keys(labelled[0], labelled[1], n_right) if labelled is not None else None
    train = training_rows(dataset, candidates, Split.TRAIN, exclude_keys=label_keys)
    if labelled is not None:
        train = tuple(np.concatenate([a, b]) for a, b in zip(train, labelled))
    train_keys = pair_keys(train[0], train[1], n_right)
    valid = training_rows(dataset, candidates, Split.VALID, exclude_keys=train_keys)
    for label, rows in (("TRAIN", train), ("VALID", valid)):
        if len(np.unique(rows[3])) < 2:
            raise ValueError(f"the {label} rows have {int(rows[3].sum())} matches and {int((rows[3] == 0).sum())} "
                             "non-matches; fitting the matcher needs both (add links or labels)")
    anchor_left, anchor_right = _known_anchors(dataset, None)
    if labelled is not None:
        matched = labelled[3] == 1
        anchor_left, anchor_right = np.r_[anchor_left, labelled[0][matched]], np.r_[anchor_right, labelled[1][matched]]
    train_matches = train[3] == 1
    one_to_one_types = _one_to_one_types(dataset, config.one_to_one, train[0][train_matches],
                                         train[1][train_matches], train[2][train_matches])

    # One set of pairs: the fit rows, then (for iterations and ranks) the other candidates (see fit_pair_set).
    needs_context = config.rounds > 0 or config.relative_features
    train, valid, extra, fit_sample = fit_pair_set(candidates, train, valid, n_right, needs_context=needs_context,
                                                   limit=config.fit_pairs_limit, seed=seed,
                                                   keep=None if labelled is None else pair_keys(labelled[0], labelled[1],
                                                                                                 n_right))
    n_rows = len(train[0]) + len(valid[0])
    left = np.r_[train[0], valid[0], candidates.left[extra]].astype(np.int64)
    right = np.r_[train[1], valid[1], candidates.right[extra]].astype(np.int64)
    types = np.r_[train[2], valid[2], candidates.type[extra]].astype(np.int64)
    specs = comparison_specs(dataset, config.comparisons, use_attributes=config.use_attributes)
    use_structure = config.use_structure and bool(dataset.schema.relations)
    use_gnn = config.use_gnn and gnn is not None
    evidence = EvidenceBuilder.build(dataset, left, right, types, specs, config, use_structure, gnn if use_gnn else None)
    is_train = np.arange(len(left)) < len(train[0])
    is_valid = (np.arange(len(left)) >= len(train[0])) & (np.arange(len(left)) < n_rows)
    one_to_one = np.isin(types, [dataset.schema.type_names.index(t) for t in one_to_one_types])

    stacked = use_gnn and config.gnn_stacking
    combiners, stacks, report = [], [], []
    for r in range(config.rounds + 1):
        full = evidence.block(anchor_left, anchor_right)
        columns = informative_columns(full.select_rows(is_train))
        # the stack stays a few weights on VALID: relative GNN columns (collinear with the distance,
        # hundreds of VALID pairs) reach the matcher only without stacking
        gnn_columns = tuple(n for n in columns if n.startswith(f"{GNN_GROUP}.") and n != f"{GNN_GROUP}.aligned_type"
                            and ".rel_" not in n)
        if stacked:
            columns = tuple(n for n in columns if not n.startswith(f"{GNN_GROUP}."))
        block = select_columns(full, columns)
        # every round searches the whole grid: fitting a later round only at round 0's choice saved
        # a tenth of the fit on DBLP-ACM but cost DBP15K's decided pairs 0.002 F1 at both seeds tried
        combiner = fit_combiner(block.select_rows(is_train), train[3], block.select_rows(is_valid), valid[3],
                                config=config.combiner)
        combiners.append(combiner)
        stack = fit_gnn_stack(combiner, full.select_rows(is_valid), valid[3], gnn_columns, seed) \
            if stacked and gnn_columns else None
        stacks.append(stack)
        source = stack if stack is not None else {"valid_f1": combiner.valid_f1, "threshold": combiner.threshold,
                                                  "valid_average_precision": combiner.valid_average_precision}
        entry = {"round": r, "anchors": int(len(np.unique(np.column_stack([anchor_left, anchor_right]), axis=0))),
                 "valid_f1": float(source["valid_f1"]),
                 "valid_average_precision": float(source["valid_average_precision"]),
                 "threshold": float(source["threshold"])}
        if r > 0 and entry["valid_f1"] <= report[-1]["valid_f1"]:
            # a round is kept only when it decides VALID better (strictly): the anchors it added
            # did not help, so the matcher stays with the round before (ties: the simpler one)
            combiners.pop()
            stacks.pop()
            report[-1].update(next_round_valid_f1=entry["valid_f1"], next_round_kept=False)
            break
        report.append(entry)
        if r == config.rounds:
            break
        output = round_output(combiner, stack, full)
        decided, _ = decide_pairs(left, right, types, output.probability, output.threshold, one_to_one)
        new = _confident_mutual(left, right, output.probability, decided, config.confident_probability,
                                anchor_left, anchor_right)
        entry["new_anchors"] = int(new.sum())
        anchor_left, anchor_right = np.r_[anchor_left, left[new]], np.r_[anchor_right, right[new]]
        full = block = output = None  # freed before the next round's block is built
    return Matcher(config=config, combiners=tuple(combiners), specs=specs,
                   type_names=tuple(dataset.schema.type_names), one_to_one_types=one_to_one_types,
                   uses_gnn=use_gnn, uses_structure=use_structure, fit_seconds=time.perf_counter() - start,
                   rounds_report=tuple(report), gnn_stacks=tuple(stacks) if stacked else (), fit_sample=fit_sample)


def fit_pair_set(candidates: CandidatePairs, train: tuple, valid: tuple, n_right: int, *, needs_context: bool,
                 limit: int, seed: int = 0, keep: np.ndarray | None = None):
    """(train rows, valid rows, which candidates join them, the sample's summary): the pairs a fit computes.

    ``train``/``valid`` are (left, right, type, label) rows. With ``needs_context`` (rounds or
    relative columns) every other candidate joins the set: the rounds find their anchors among
    all candidates, as scoring does. Above ``limit`` pairs, only the candidates that share a
    left or right entity with a row join (each row is still ranked among all of its entities'
    candidates, exactly as scoring ranks it), and if that is still too many, a seeded sample of
    the rows' left entities is kept (whole: an entity's rows and candidates stay together);
    rows whose key is in ``keep`` (the analyst's labels) are always kept. The summary is empty
    when the whole set was used.
    """
    n_candidates = len(candidates.left)
    candidate_keys = candidates.pair_keys(n_right)

    def pairs_for(tr, va, *, every: bool = False):
        rows_left, rows_right = np.r_[tr[0], va[0]], np.r_[tr[1], va[1]]
        if not needs_context:
            return np.zeros(n_candidates, dtype=bool)
        others = ~isin(candidate_keys, pair_keys(rows_left, rows_right, n_right))
        if every:
            return others
        return others & (isin(candidates.left, rows_left) | isin(candidates.right, rows_right))

    extra = pairs_for(train, valid, every=True)
    total = len(train[0]) + len(valid[0]) + int(extra.sum())
    if total <= limit:
        return train, valid, extra, {}
    entities = unique(np.r_[train[0], valid[0]])
    order = np.random.default_rng(seed).permutation(len(entities))
    fraction = 1.0
    while True:  # the set shrinks about in proportion; a second pass corrects hubs
        chosen = entities[order[:max(1, int(len(entities) * fraction))]]
        sample = [tuple(a[_kept_rows(rows, chosen, keep, n_right)] for a in rows) for rows in (train, valid)]
        extra = pairs_for(*sample)
        size = len(sample[0][0]) + len(sample[1][0]) + int(extra.sum())
        if size <= limit or len(chosen) == 1:
            break
        fraction *= 0.9 * limit / size
    summary = {"limit": int(limit), "pairs_without_sample": int(total), "pairs": int(size),
               "left_entities_kept": int(len(chosen)), "left_entities": int(len(entities)),
               "fraction": round(len(chosen) / len(entities), 4),
               "train_rows": int(len(sample[0][0])), "valid_rows": int(len(sample[1][0]))}
    return sample[0], sample[1], extra, summary


def _kept_rows(rows: tuple, chosen: np.ndarray, keep: np.ndarray | None, n_right: int) -> np.ndarray:
    kept = isin(rows[0], chosen)
    if keep is not None and len(keep):
        kept |= isin(pair_keys(rows[0], rows[1], n_right), keep)
    return kept
