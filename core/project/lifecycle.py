"""A project's lifecycle, step by step: load, block, read the stored blocking, score, evaluate.

This module is the one owner of these steps: ``mualign`` (cli/main.py) and the app's pages both
call it, so a page never re-blocks with settings other than those that made the candidates in
use. Each step reads and writes the project directory:

::

    PROJECT/candidates.tsv          blocked pairs (the only writer is :func:`block_project`)
    PROJECT/blocking_report.json    the report of that blocking: its settings (BlockingConfig),
                                    per-type sizes and pair completeness, and a SHA-256 of the
                                    candidates.tsv it describes
    PROJECT/models/, scores.tsv     model versions and score tables (core.project.model_versions,
                                    core.project.score_table)

The report carries a fingerprint of the candidates file because either file can change without
the other (a crash between the two writes, a hand-edited or copied candidates.tsv): a report whose
fingerprint does not match is not shown as if it described the candidates in use.

Nothing here loads torch at import time, so pages that only show the blocking stay light.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from core.blocking.config import BlockingConfig
from core.blocking.report import BlockingReport, TypeBlockingStats
from core.data.candidates import CandidatePairs
from core.data.dataset import AlignmentDataset
from core.data.links import Split
from core.data.sets import isin
from core.evaluation.harness import EvalReport, evaluate
from core.formats.errors import DataError, Problem, ProblemLog
from core.formats.native import CANDIDATES_FILE, load_candidates, load_project, save_candidates
from core.formats.textio import atomic_copy, atomic_write_text, parse_json, read_text
from core.project.cache import file_digest, remember_candidates

METHODS = ("name-tfidf", "name-logreg")
#: Methods ``evaluate_method`` accepts: the project's default scorer (the matcher over the active
#: model's distances, issue 15), the active model's distance alone, and the name baselines.
EVALUATION_METHODS = ("mualign", "model", *METHODS)
BLOCKING_REPORT_FILE = "blocking_report.json"
REPORT_FORMAT = "mualign-blocking-report"
REPORT_FORMAT_VERSION = 1

#: Called as ``on_progress(done, total)`` while pairs are scored.
Progress = Callable[[int, int], None]


# ------------------------------------------------------------------------------ load, block ----
def load_dataset(project: str | Path) -> AlignmentDataset:
    """The project's graphs, schema and links (DataError listing every ``path:line`` problem).

    Read through the project's binary cache (:mod:`core.project.cache`) when it is fresh.
    """
    from core.project.cache import load_project_cached

    return load_project_cached(project)


@dataclass(frozen=True, eq=False)
class BlockedProject:
    """A project after blocking: its data, the candidates in use, and the report that made them."""

    dataset: AlignmentDataset
    candidates: CandidatePairs
    report: BlockingReport


def block_project(project: str | Path, config: BlockingConfig | None = None, *,
                  dataset: AlignmentDataset | None = None, blocker=None,
                  embeddings: tuple[np.ndarray, np.ndarray] | None = None) -> BlockedProject:
    """Block the project and store ``candidates.tsv`` with ``blocking_report.json`` beside it.

    ``blocker(dataset, config, embeddings=...) -> (candidates, report)`` computes the candidates
    (default :func:`~core.blocking.name_blocking.block`; ``--engine ray`` passes the distributed
    one, which gives the same pairs). ``embeddings``: per-entity vectors of a trained model
    (:func:`model_embeddings`), a candidate source beside names and structure.

    Raises
    ------
    ValueError
        ``config.keys`` names an aligned type the schema does not have, or an attribute that is
        not aligned (nothing is written then).
    """
    config = config or BlockingConfig()
    dataset = dataset or load_dataset(project)
    unknown = [t for t, _ in config.keys if t not in dataset.schema.type_names]
    if unknown:
        raise ValueError(f"blocking key for unknown aligned type(s) {unknown}; "
                         f"known: {list(dataset.schema.type_names)}")
    if blocker is None:
        from core.blocking.name_blocking import block as blocker  # TF-IDF and sparse products: only here
    candidates, report = blocker(dataset, config, embeddings=embeddings)
    digest = file_digest(save_candidates(dataset, candidates, project))
    save_blocking_report(project, report, candidates_sha256=digest)
    remember_candidates(dataset, project, candidates, digest=digest)
    return BlockedProject(dataset, candidates, report)


def load_blocked(project: str | Path, dataset: AlignmentDataset | None = None
                 ) -> tuple[AlignmentDataset, CandidatePairs]:
    """(dataset, candidates in use). Never blocks.

    Raises
    ------
    FileNotFoundError
        The project has not been blocked; the message says which command does it.
    DataError
        ``candidates.tsv`` names unknown ids or types, or is malformed.
    """
    dataset = dataset or load_dataset(project)
    path = Path(project) / CANDIDATES_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `mualign block --project {project}` first")
    from core.project.cache import load_candidates_cached

    candidates = load_candidates_cached(dataset, project)
    if not len(candidates):
        raise DataError([Problem(str(path), None, "holds no candidate pairs, so there is nothing to score or "
                                                  f"evaluate; run `mualign block --project {project}` again "
                                                  "(a larger --top-k, fewer --key)")])
    return dataset, candidates


# ------------------------------------------------------------------ the stored blocking report ----
def blocking_report_to_dict(report: BlockingReport) -> dict:
    """The report as JSON-ready data: its config and one record per aligned type."""
    return {"config": asdict(report.config), "per_type": [asdict(s) for s in report.per_type]}


def blocking_report_from_dict(data: dict) -> BlockingReport:
    """The inverse of :func:`blocking_report_to_dict`; ValueError/TypeError/KeyError when malformed."""
    config = dict(data["config"])
    config["ngram_range"] = tuple(config["ngram_range"])
    config["keys"] = tuple(tuple(pair) for pair in config["keys"])
    known_config = {f.name for f in fields(BlockingConfig)}
    known_stats = {f.name for f in fields(TypeBlockingStats)}
    per_type = tuple(TypeBlockingStats(**{k: v for k, v in s.items() if k in known_stats}) for s in data["per_type"])
    return BlockingReport(per_type, BlockingConfig(**{k: v for k, v in config.items() if k in known_config}))


def save_blocking_report(project: str | Path, report: BlockingReport, *, candidates_sha256: str) -> Path:
    """Write ``blocking_report.json`` (atomically) for the candidates file with that SHA-256."""
    path = Path(project) / BLOCKING_REPORT_FILE
    data = {"format": REPORT_FORMAT, "format_version": REPORT_FORMAT_VERSION, "candidates_file": CANDIDATES_FILE,
            "candidates_sha256": candidates_sha256, "n_candidates": report.n_candidates,
            **blocking_report_to_dict(report)}
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return path


def load_blocking_report(project: str | Path) -> BlockingReport | None:
    """The stored report of the blocking that made the project's ``candidates.tsv``.

    Returns None, and never re-blocks, when there is no stored report (a project blocked by an
    older mualign), no candidates file, or a report that describes another candidates file
    (fingerprint differs); :func:`missing_report_message` says what to do then.

    Raises
    ------
    DataError
        The report file exists but is damaged, or was written by a newer mualign.
    """
    path = Path(project) / BLOCKING_REPORT_FILE
    candidates = Path(project) / CANDIDATES_FILE
    if not path.exists() or not candidates.exists():
        return None
    log = ProblemLog()
    text = read_text(path, log)
    data = parse_json(text, path, log) if text is not None else None
    log.raise_if_any()
    if not isinstance(data, dict) or data.get("format") != REPORT_FORMAT:
        raise DataError([Problem(str(path), None, "not a mualign blocking report; run `mualign block` to write "
                                                  "it anew")])
    version = data.get("format_version")
    if not isinstance(version, int) or version > REPORT_FORMAT_VERSION:
        raise DataError([Problem(str(path), None, f"blocking report format {version!r} is newer than this "
                                                  f"mualign reads ({REPORT_FORMAT_VERSION}); upgrade mualign "
                                                  "or run `mualign block` again")])
    if data.get("candidates_sha256") != file_digest(candidates):
        return None
    try:
        return blocking_report_from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError([Problem(str(path), None, f"damaged blocking report ({type(exc).__name__}: {exc}); "
                                                  "run `mualign block` to write it anew")]) from None


def missing_report_message(project: str | Path) -> str:
    """What to tell an analyst when :func:`load_blocking_report` returns None."""
    if not (Path(project) / CANDIDATES_FILE).exists():
        return (f"The project has not been blocked yet. Run `mualign block --project {project}` "
                "(with --top-k and --key as you need) to make its candidate pairs.")
    return ("No stored blocking report describes this project's candidates.tsv (it was blocked by an older "
            "mualign, or the file was replaced since). Run "
            f"`mualign block --project {project}` with the options you want: it blocks again and stores "
            f"the report as {BLOCKING_REPORT_FILE}.")


def blocking_config(project: str | Path) -> BlockingConfig:
    """The settings that made the candidates in use, or the defaults when no report is stored.

    Name scorers take their n-gram settings from it, so they score as blocking ranked.
    """
    report = load_blocking_report(project)
    return report.config if report is not None else BlockingConfig()


# ---------------------------------------------------------------------------------- scorers ----
def make_scorer(method: str, dataset: AlignmentDataset, candidates: CandidatePairs, *,
                config: BlockingConfig | None = None, seed: int = 0):
    """A fitted scorer by name (``name-tfidf`` or ``name-logreg``)."""
    from core.scoring.name_baselines import NameLogRegScorer, NameTfidfScorer

    config = config or BlockingConfig()
    if method == "name-tfidf":
        return NameTfidfScorer(dataset, config)
    if method == "name-logreg":
        return NameLogRegScorer(dataset, candidates, config, seed=seed)
    raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")


def model_embeddings(project: str | Path, dataset: AlignmentDataset) -> tuple[np.ndarray, np.ndarray]:
    """(left (n_left, hidden), right (n_right, hidden)): the active model's vector of every entity.

    Each entity of an aligned type gets CG-MuAlign's output with no counterpart (cross-graph
    attention uniform, :meth:`~core.model.cg_mualign.CGMuAlign.embed_alone`); other rows stay 0
    (no candidate from them). Blocking's embedding source ranks right entities by cosine.

    Raises
    ------
    FileNotFoundError
        No model has been trained; the message names the command that trains one.
    """
    from core.scoring.model_scorer import aligned_embeddings

    scorer, _ = active_scorer(project, dataset)
    return aligned_embeddings(scorer, dataset)


def active_scorer(project: str | Path, dataset: AlignmentDataset, *, model_path: str | Path | None = None):
    """(scorer, checkpoint info) of the project's active model version, or of ``model_path``.

    Raises
    ------
    FileNotFoundError
        No model has been trained; the message names the command that trains one.
    core.project.checkpoint.CheckpointError
        The checkpoint is unusable or belongs to other data (a ValueError).
    """
    from core.project.checkpoint import load_scorer
    from core.project.model_versions import active_model_path

    return load_scorer(model_path or active_model_path(project), dataset)


class ProgressScorer:
    """A scorer that scores in pieces and reports ``on_progress(done, total)`` after each.

    Model scoring runs for minutes at scale; this lets the CLI draw a progress bar without the
    scorer knowing about it. The model scores each pair from a sample fixed per entity, so
    pieces give exactly the scores of one call.
    """

    def __init__(self, scorer, on_progress: Progress, *, piece: int = 32768):
        self.scorer, self.on_progress, self.piece = scorer, on_progress, piece

    def __getattr__(self, name):  # name, calibration, probability_of_score, score_matrix, ...
        return getattr(self.scorer, name)

    def _in_pieces(self, method, *arrays) -> np.ndarray:
        total = len(arrays[0])
        parts = []
        for start in range(0, total, self.piece):
            parts.append(np.asarray(method(*(a[start:start + self.piece] for a in arrays))))
            self.on_progress(min(start + self.piece, total), total)
        return np.concatenate(parts) if parts else np.asarray(method(*arrays))

    def score_pairs(self, left, right, types=None) -> np.ndarray:
        if types is None:
            return self._in_pieces(self.scorer.score_pairs, left, right)
        return self._in_pieces(self.scorer.score_pairs, left, right, types)

    def distances(self, left, right) -> np.ndarray:
        if getattr(self.scorer, "reports_progress", False):  # one call: each node's lower layers run once
            return self.scorer.distances(left, right, on_progress=self.on_progress)
        return self._in_pieces(self.scorer.distances, left, right)


# ----------------------------------------------------------------------------- whole steps ----
def evaluate_method(project: str | Path, method: str, *, split: Split = Split.TEST, kg_protocol: bool = False,
                    dataset: AlignmentDataset | None = None, candidates: CandidatePairs | None = None,
                    model_path: str | Path | None = None, on_progress: Progress | None = None) -> EvalReport:
    """Evaluate the project's default scorer, the active model, or a name baseline on the blocked candidates.

    ``mualign`` is the matcher of the active version over its model's distances (its probability,
    thresholded where the matcher's own threshold is, chosen on VALID); a version stored before
    the matcher is evaluated as ``model`` (:func:`evaluation_scorer` says so). Name scorers use the
    n-gram settings of the stored blocking. ``kg_protocol`` needs a scorer that ranks all right
    entities of a type (name-tfidf): any other is refused before scoring.
    """
    return evaluate_with_decisions(project, method, split=split, kg_protocol=kg_protocol, dataset=dataset,
                                   candidates=candidates, model_path=model_path, on_progress=on_progress).report


@dataclass(frozen=True)
class DecisionMetrics:
    """Precision/recall/F1 of the matcher's decided pairs (threshold, then the 1-to-1 step) on a split.

    Recall counts the split's true matches that blocking lost as missed, as the harness does.
    """

    n_decided: int
    precision: float | None
    recall: float | None
    f1: float | None


@dataclass(frozen=True, eq=False)
class Evaluation:
    report: EvalReport
    decisions: DecisionMetrics | None = None  # the matcher's decided pairs (None for other methods)
    note: str = ""  # e.g. why ``mualign`` fell back to the model's probability


def evaluate_with_decisions(project: str | Path, method: str, *, split: Split = Split.TEST,
                            kg_protocol: bool = False, dataset: AlignmentDataset | None = None,
                            candidates: CandidatePairs | None = None, model_path: str | Path | None = None,
                            on_progress: Progress | None = None) -> Evaluation:
    """:func:`evaluate_method`, plus the matcher's decided pairs judged on the split."""
    if method not in EVALUATION_METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {EVALUATION_METHODS}")
    if kg_protocol and method != "name-tfidf":
        raise ValueError(f"the KG protocol ranks every right entity of a type, which only name-tfidf can do; "
                         f"{method!r} scores candidate pairs only (drop --kg-protocol or use --method name-tfidf)")
    if candidates is None:
        dataset, candidates = load_blocked(project, dataset)
    # the active version's matcher was evaluated before (by ``train``, or an earlier ``evaluate``):
    # its recorded figures give the same report without loading the model (see stored_evaluation)
    recorded_version = active_version_or_none(project) if method == "mualign" and model_path is None else None
    if recorded_version is not None:  # (mualign with --kg-protocol was refused above)
        replayed = replay_evaluation(project, recorded_version, split, dataset, candidates)
        if replayed is not None:
            return replayed
    note, threshold, recording = "", None, None
    if method in ("model", "mualign"):
        model, info = active_scorer(project, dataset, model_path=model_path)
        if on_progress is not None:
            model = ProgressScorer(model, on_progress)
        scorer = model
        if method == "mualign":
            version = info.version if model_path is not None else recorded_version
            scorer, note = evaluation_scorer(project, version, dataset, candidates, model)
            threshold = getattr(scorer, "threshold", None)
            if version is not None:
                prime_from_evidence(project, version, scorer, candidates)
            if recorded_version is not None and not note:
                from core.project.stored_evaluation import RecordingScorer

                scorer = recording = RecordingScorer(scorer, dataset.right.n_entities)
    else:
        scorer = make_scorer(method, dataset, candidates, config=blocking_config(project))
        if on_progress is not None:
            scorer = ProgressScorer(scorer, on_progress)
    if kg_protocol and not hasattr(scorer, "score_matrix"):
        raise ValueError(f"scorer {scorer.name!r} cannot rank all right entities (no score_matrix)")
    report = evaluate(dataset, candidates, scorer, split=split, kg_protocol=kg_protocol, threshold=threshold)
    decisions = decided_metrics(dataset, candidates, scorer, split) if hasattr(scorer, "match_scores") else None
    if recording is not None:
        from core.project.stored_evaluation import save_evaluation

        save_evaluation(project, recorded_version, split, dataset, candidates, recording)
    return Evaluation(report, decisions, note)


def replay_evaluation(project: str | Path, version: str, split: Split, dataset: AlignmentDataset,
                      candidates: CandidatePairs) -> Evaluation | None:
    """The matcher's evaluation of ``split`` from ``version``'s record, or None where there is no usable one.

    The record holds every pair the harness read when it scored them, so the report is the one
    that scoring gives; a pair it lacks (``NotStored``) sends the caller back to the model.
    """
    from core.project.stored_evaluation import NotStored, load_evaluation

    scorer = load_evaluation(project, version, split, dataset, candidates)
    if scorer is None:
        return None
    try:
        report = evaluate(dataset, candidates, scorer, split=split, threshold=scorer.threshold)
        decisions = decided_metrics(dataset, candidates, scorer, split)
    except NotStored:
        return None
    return Evaluation(report, decisions, f"the figures recorded when model version {version} was last evaluated "
                                         "on this split, read back: its files, the links and the candidates are "
                                         "unchanged since, so scoring again would give the same")


def active_version_or_none(project: str | Path) -> str | None:
    from core.project.model_versions import active_version

    return active_version(project)


def evaluation_scorer(project: str | Path, version: str | None, dataset: AlignmentDataset,
                      candidates: CandidatePairs, model) -> tuple[object, str]:
    """(the version's matcher scorer, "") or, for a version without a matcher, (``model``, why not)."""
    scorer = version_matcher_scorer(project, version, dataset, candidates, model) if version else None
    if scorer is None:
        return model, no_matcher_note(version)
    return scorer, ""


def no_matcher_note(version: str | None) -> str:
    """What to tell a user whose model version has no matcher (stored before issue 15)."""
    return (f"model version {version} has no matcher (it was stored before mualign fitted one), so its "
            "probabilities are the model's calibrated probability; `mualign train` or the Retrain page "
            "fits a matcher with the next version")


def decided_metrics(dataset: AlignmentDataset, candidates: CandidatePairs, scorer, split: Split) -> DecisionMetrics:
    """Precision, recall and F1 of the pairs the matcher decides are matches, among the split's judged pairs."""
    from core.evaluation.harness import evaluation_pairs
    from core.evaluation.metrics import precision_recall_f1

    pairs = evaluation_pairs(dataset, candidates, split)
    decided = scorer.match_scores(pairs.left, pairs.right, pairs.type).decided
    n_positives = int(pairs.label.sum() + pairs.missed.sum())
    if n_positives == 0:
        return DecisionMetrics(int(decided.sum()), None, None, None)
    precision, recall, f1 = precision_recall_f1(pairs.label, decided.astype(np.float64), 0.5, n_positives=n_positives)
    return DecisionMetrics(int(decided.sum()), precision, recall, f1)


def format_decisions(evaluation: Evaluation) -> str:
    """One line on the decided pairs, for the CLI (empty for methods without decisions)."""
    d = evaluation.decisions
    if d is None:
        return ""
    def fmt(value):
        return "-" if value is None else f"{value:.3f}"
    return (f"decided pairs (threshold, then the 1-to-1 step where it applies): {d.n_decided:,} "
            f"P {fmt(d.precision)} R {fmt(d.recall)} F1 {fmt(d.f1)}")


# ------------------------------------------------------------------------------ the matcher ----
def version_matcher_scorer(project: str | Path, version: str, dataset: AlignmentDataset,
                           candidates: CandidatePairs, model, *, gnn=None):
    """The matcher scorer of a stored version, or None when the version has no matcher.

    ``model`` gives the distances (the version's GNN); ``gnn``, a
    :class:`~core.scoring.matcher_scorer.CachedDistances` already holding them (from the stored
    score table), saves running it again. The accepted labels the matcher was fitted from are
    its anchors again (``version.json``), so it scores as it was validated.
    """
    from core.project.model_versions import has_matcher, matcher_dir, version_info
    from core.scoring.matcher_scorer import CachedDistances, MatcherScorer

    if not has_matcher(project, version):
        return None
    from core.matching.matcher import load_matcher

    matcher = load_matcher(matcher_dir(project, version))
    info = version_info(project, version)
    accepted = _label_pairs(dataset, info.get("accepted_labels"))
    rejected = _label_pairs(dataset, info.get("rejected_labels"))
    extra = accepted if len(accepted[0]) else None
    fitted_on = without_labelled_pairs(dataset, np.concatenate([accepted[0], rejected[0]]),
                                       np.concatenate([accepted[1], rejected[1]]))
    if gnn is None:
        gnn = CachedDistances(model, dataset.right.n_entities)
    return MatcherScorer(matcher, model, fitted_on, candidates, gnn=gnn, extra_matches=extra)


def _label_pairs(dataset: AlignmentDataset, pairs) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) indices of ``[[left id, right id], ...]`` from ``version.json`` (unknown ids left out)."""
    pairs = [p for p in (pairs or []) if isinstance(p, (list, tuple)) and len(p) == 2]
    left = dataset.left.indices_of([str(a) for a, _ in pairs]) if pairs else np.zeros(0, dtype=np.int64)
    right = dataset.right.indices_of([str(b) for _, b in pairs]) if pairs else np.zeros(0, dtype=np.int64)
    keep = (left >= 0) & (right >= 0)
    return left[keep].astype(np.int64), right[keep].astype(np.int64)


@dataclass(frozen=True, eq=False)
class FittedMatcher:
    """A matcher fitted for a model version, or why none could be (``scorer`` None)."""

    scorer: object  # MatcherScorer, or None
    seconds: float
    note: str = ""
    info: dict | None = None  # what version.json records


def label_arrays(dataset: AlignmentDataset, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Analyst labels (``AnalystLabel``) as the matcher's ``labels`` tuple (left, right, is_match).

    Labels naming an unknown entity or two entities of different aligned types are left out, as
    ``core.review.labels_as_links`` leaves them out of a retrain.
    """
    from core.formats.native import aligned_types_of_entities

    labels = list(labels)
    left = dataset.left.indices_of([label.left_id for label in labels])
    right = dataset.right.indices_of([label.right_id for label in labels])
    is_match = np.array([label.is_match for label in labels], dtype=bool)
    keep = (left >= 0) & (right >= 0)
    left_type = aligned_types_of_entities(dataset.left, dataset.schema, "left")[np.where(keep, left, 0)]
    right_type = aligned_types_of_entities(dataset.right, dataset.schema, "right")[np.where(keep, right, 0)]
    keep &= (left_type == right_type) & (left_type >= 0)
    return left[keep].astype(np.int64), right[keep].astype(np.int64), is_match[keep]


def without_labelled_pairs(dataset: AlignmentDataset, left: np.ndarray, right: np.ndarray) -> AlignmentDataset:
    """``dataset`` without the links of the labelled pairs: the labels stand for them in a fit.

    A labelled pair that was a VALID or TEST link would otherwise be a training label and a
    validation (or test) pair at once; as in a retrain, the analyst's word moves it to training.
    """
    from dataclasses import replace

    from core.data.candidates import pair_keys

    if not len(left):
        return dataset
    n_right = dataset.right.n_entities
    links = dataset.links
    keep = ~isin(pair_keys(links.left, links.right, n_right), pair_keys(left, right, n_right))
    return replace(dataset, links=links.select(keep))


def fit_version_matcher(dataset: AlignmentDataset, candidates: CandidatePairs, model, *, labels=(),
                        gnn=None, seed: int = 0, config=None) -> FittedMatcher:
    """Fit the matcher over ``candidates`` with ``model``'s distances as its gnn input (issue 15).

    ``labels``: analysts' accept/reject labels (``AnalystLabel``), fitted like TRAIN links; the
    accepted ones are also anchors when scoring. ``gnn``: a ``CachedDistances`` of ``model``
    already holding the candidates' distances (the default computes them once here). A project
    the matcher cannot be fitted on (too few links to learn from or to validate on) gets no
    matcher and a note saying why: the version then scores with the model's probability.
    """
    import time

    from core.scoring.matcher_scorer import MatcherScorer, candidate_distances

    start = time.perf_counter()
    left, right, is_match = label_arrays(dataset, labels)
    fit_data = without_labelled_pairs(dataset, left, right)
    gnn = gnn if gnn is not None else candidate_distances(model, dataset, candidates)
    from core.matching.matcher import fit_matcher

    try:
        matcher = fit_matcher(fit_data, candidates, gnn=gnn, labels=(left, right, is_match) if len(left) else None,
                              config=config, seed=seed)
    except ValueError as exc:
        return FittedMatcher(None, time.perf_counter() - start,
                             f"no matcher fitted ({exc}); this version scores with the model's probability")
    extra = (left[is_match], right[is_match]) if is_match.any() else None
    scorer = MatcherScorer(matcher, model, fit_data, candidates, gnn=gnn, extra_matches=extra)
    seconds = time.perf_counter() - start
    accepted = [[str(a), str(b)] for a, b in zip(dataset.left.entity_ids[left[is_match]],
                                                 dataset.right.entity_ids[right[is_match]])]
    rejected = [[str(a), str(b)] for a, b in zip(dataset.left.entity_ids[left[~is_match]],
                                                 dataset.right.entity_ids[right[~is_match]])]
    info = {"fit_seconds": round(seconds, 3), "seed": seed, "accepted_labels": accepted, "rejected_labels": rejected,
            "describe": _jsonable(matcher.describe())}
    return FittedMatcher(scorer, seconds, "", info)


def _jsonable(value):
    """``describe()`` as plain JSON (numpy numbers and tuples made lists and floats)."""
    import json

    return json.loads(json.dumps(value, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))


@dataclass(frozen=True, eq=False)
class BaselineRun:
    dataset: AlignmentDataset
    candidates: CandidatePairs
    blocking: BlockingReport
    reports: tuple[EvalReport, ...]


def run_baselines(project: str | Path, *, config: BlockingConfig | None = None,
                  methods: tuple[str, ...] = METHODS, kg_protocol: bool = False) -> BaselineRun:
    """Block the project (storing candidates and report) and evaluate each baseline on TEST."""
    blocked = block_project(project, config)
    dataset, candidates = blocked.dataset, blocked.candidates
    reports = tuple(evaluate(dataset, candidates, make_scorer(m, dataset, candidates, config=config),
                             split=Split.TEST, kg_protocol=kg_protocol and m == "name-tfidf")
                    for m in methods)
    return BaselineRun(dataset, candidates, blocked.report, reports)


@dataclass(frozen=True, eq=False)
class TrainedModel:
    version: str
    checkpoint: Path
    best_epoch: int
    seconds: float
    report: EvalReport  # the model's distance alone, on TEST
    scorer: object = None  # the trained core.scoring.model_scorer.ModelScorer
    matcher: FittedMatcher | None = None  # the matcher fitted over its distances (issue 15)
    matcher_report: Evaluation | None = None  # the matcher on TEST (None without one)

    @property
    def default_scorer(self):
        """What the version scores with: the matcher where one was fitted, else the model."""
        return self.matcher.scorer if self.matcher is not None and self.matcher.scorer is not None else self.scorer


def run_model(project: str | Path, dataset: AlignmentDataset, candidates: CandidatePairs, train_config, *,
              model_config=None, on_step=None, on_epoch=None, name: str = "cg-mualign", trainer=None,
              activate: bool = True, fit_matcher: bool = True, labels=(), matcher_dataset=None) -> TrainedModel:
    """Train, fit the matcher over the model's distances, store both as a new version, evaluate on TEST.

    ``activate=False`` stores the version without making it active (a retrain activates it only
    when it is better on validation, see ``core.project.retrain``). ``labels`` (analyst labels)
    and ``matcher_dataset`` (the project's own links, when ``dataset`` has the labels merged in
    as training links for the GNN) are what the matcher is fitted from; see
    :func:`fit_version_matcher`.

    ``trainer`` has :func:`core.training.loop.train`'s signature and result (the default; ``--engine
    ray`` passes the data-parallel one).
    """
    from core.model.setup import build_setup
    from core.model.cg_mualign import ModelConfig
    from core.project.model_versions import store_version
    from core.training.loop import train

    model_config = model_config or ModelConfig()
    setup = build_setup(dataset, model_config)
    result = (trainer or train)(setup, model_config, train_config, candidates=candidates, on_step=on_step,
                                on_epoch=on_epoch)
    result.scorer.name = name
    report = evaluate(dataset, candidates, result.scorer, split=Split.TEST)
    matcher = matcher_report = evidence = None
    if fit_matcher:
        matcher = fit_version_matcher(matcher_dataset or dataset, candidates, result.scorer, labels=labels,
                                      seed=train_config.seed)
        if matcher.scorer is not None:
            from core.project.stored_evaluation import RecordingScorer

            evidence = _prime_with_evidence(matcher.scorer, candidates)
            # recorded, so that `mualign evaluate` reads this very report back (stored_evaluation)
            recording = RecordingScorer(matcher.scorer, dataset.right.n_entities)
            matcher_report = Evaluation(evaluate(dataset, candidates, recording, split=Split.TEST,
                                                 threshold=recording.threshold),
                                        decided_metrics(dataset, candidates, recording, Split.TEST))
    metrics = {"best_epoch": result.best_epoch, "valid_pr_auc": result.best_valid_pr_auc,
               "test_pr_auc": report.overall.pr_auc, "test_f1": report.overall.f1}
    matcher_info = None
    if matcher_report is not None:
        overall = matcher_report.report.overall
        matcher_info = {**matcher.info, "test_pr_auc": overall.pr_auc, "test_f1": overall.f1,
                        "test_decided_f1": matcher_report.decisions.f1}
    # Checkpoint and matcher complete under their final names first, then the active pointer (crash-safe order).
    version, final = store_version(project, result.scorer, train_config=train_config.to_dict(), metrics=metrics,
                                   activate=activate,
                                   matcher=matcher.scorer.matcher if matcher_info is not None else None,
                                   matcher_info=matcher_info)
    if evidence is not None:  # the quick refit's cache, from the one pass that scored every candidate
        from core.project.model_versions import evidence_path

        evidence.save(evidence_path(project, version))
    if matcher_report is not None:
        from core.project.stored_evaluation import save_evaluation

        save_evaluation(project, version, Split.TEST, dataset, candidates, recording)
    return TrainedModel(version, final, result.best_epoch, result.seconds, report, result.scorer, matcher,
                        matcher_report)


def prime_from_evidence(project: str | Path, version: str, scorer, candidates: CandidatePairs) -> bool:
    """Give a version's matcher scorer every candidate's figures from its stored evidence, if it covers them.

    The evidence holds the last round's features of every candidate (written when the version was
    trained or first scored), so scoring is one pass over the trees instead of rebuilding the
    features and running the GNN over every candidate; the pairs outside the candidates are still
    scored fresh. False (nothing changed) for a scorer without a matcher or without such evidence.
    """
    from core.matching.refit import load_evidence
    from core.project.model_versions import evidence_path

    if not _scores_these(scorer, candidates) or scorer.has_all_candidates:
        return False
    evidence = load_evidence(evidence_path(project, version))
    if evidence is None or not evidence.covers(candidates):
        return False
    scorer.prime(scorer.matcher.score_last_block(candidates.left, candidates.right, candidates.type, evidence.block,
                                                 evidence.contributions))
    return True


def _prime_with_evidence(scorer, candidates: CandidatePairs):
    """Score every candidate once, keeping the evidence: the TEST report, the decisions, the score
    table and the quick refit's cache all read this one pass (each would otherwise score anew)."""
    from core.project.retrain import scored_evidence

    return scored_evidence(scorer, candidates) if _scores_these(scorer, candidates) else None


def score_candidates(project: str | Path, dataset: AlignmentDataset, candidates: CandidatePairs, scorer,
                     version: str, *, on_progress: Progress | None = None):
    """Score every candidate; write ``scores.tsv`` (ids, type, score, distance, probability, rank).

    With a matcher scorer the table holds the matcher's probability, log-odds (``score``),
    decision and per-group contributions (``core.project.score_table``). The same table is kept
    as ``scores/scores-<version>.tsv`` for the review app. A bare model scorer of a version that
    has a matcher is scored through that matcher: a version's table always holds its default score.
    """
    from core.project.score_table import model_scores, store_scores

    if not hasattr(scorer, "match_scores"):
        scorer = version_matcher_scorer(project, version, dataset, candidates, scorer) or scorer
    restore = None
    if on_progress is not None:
        if hasattr(scorer, "match_scores"):  # the GNN's distances are what takes the time
            restore = scorer.gnn.model
            scorer.gnn.model = ProgressScorer(restore, on_progress)
        else:
            scorer = ProgressScorer(scorer, on_progress)
    try:
        if _scores_these(scorer, candidates) and not _evidence_kept(project, version, scorer):
            # the version's evidence (every candidate's features) is kept for quick refits from the
            # Retrain page; building it scores every candidate once, which the table then reuses
            from core.project.retrain import version_evidence

            version_evidence(project, version, scorer, candidates)
        frame = model_scores(dataset, candidates, scorer, version)
    finally:
        if restore is not None:
            scorer.gnn.model = restore
    stored = store_scores(frame, project, version, dataset, candidates)
    # the active table is the version's, byte for byte: copied, not formatted again (at 26M rows the
    # text is gigabytes, held in memory while it is written)
    atomic_copy(stored, Path(project) / "scores.tsv")
    return frame, Path(project) / "scores.tsv"


def _evidence_kept(project: str | Path, version: str, scorer) -> bool:
    """A scorer given every candidate's figures with its evidence stored beside them (``run_model``):
    reading the file back would only confirm it. A refit that finds it stale builds it anew."""
    from core.project.model_versions import evidence_path

    return scorer.has_all_candidates and evidence_path(project, version).is_file()


def _scores_these(scorer, candidates: CandidatePairs) -> bool:
    """Whether ``scorer`` is a matcher scorer built over exactly ``candidates`` (same pairs, same order)."""
    own = getattr(scorer, "candidates", None)
    if not hasattr(scorer, "match_scores") or own is None:
        return False
    return own is candidates or (len(own) == len(candidates) and np.array_equal(own.left, candidates.left)
                                 and np.array_equal(own.right, candidates.right))


# ---------------------------------------------------------------- decided links, why a decision ----
def version_scores(project: str | Path, version: str, dataset: AlignmentDataset, candidates: CandidatePairs,
                   model) -> tuple[object, str, object]:
    """(score table, note, scorer) of ``version``: its stored table when it is current, else scored and stored.

    The scorer is the version's matcher scorer, or ``model`` (with a note) for a version without one.
    """
    from core.project.score_table import stored_or_scored

    scorer, note = evaluation_scorer(project, version, dataset, candidates, model)
    return stored_or_scored(project, dataset, candidates, scorer, version), note, scorer


def decided_links(project: str | Path) -> tuple[object, str, str]:
    """(links, version, note): the pairs the active version decides are matches, best first.

    The matcher's decisions (its threshold, then the 1-to-1 step where a type is one-to-one);
    for a version without a matcher, calibrated probability >= 0.5 (the note says so). Columns
    ``left_id, right_id, type, probability``.
    """
    from core.project.model_versions import active_version
    from core.project.score_table import decided_pairs

    dataset, candidates = load_blocked(project)
    model, _ = active_scorer(project, dataset)
    version = active_version(project)
    frame, note, _ = version_scores(project, version, dataset, candidates, model)
    links = decided_pairs(frame)[["left_id", "right_id", "type", "probability"]]
    links = links.sort_values(["type", "probability", "left_id", "right_id"], ascending=[True, False, True, True],
                              kind="stable").reset_index(drop=True)
    return links, version, note


def pair_waterfall(project: str | Path, version: str, dataset: AlignmentDataset, model, left: int, right: int):
    """(waterfall, "") of one pair under ``version``'s matcher, or (None, why there is none).

    A candidate pair is read from the version's score table (written when it is missing), so the
    figures are those the review page shows; a pair blocking did not propose is scored alone.
    """
    from core.explanations.waterfall import build_waterfall
    from core.project.score_table import waterfall_of_row

    try:
        _, candidates = load_blocked(project, dataset)
    except FileNotFoundError:
        candidates = None
    if candidates is None:
        return None, "the project is not blocked, so the matcher has no candidates to score"
    scorer = version_matcher_scorer(project, version, dataset, candidates, model)
    if scorer is None:
        return None, no_matcher_note(version)
    if candidates.contains(np.array([left]), np.array([right]), dataset.right.n_entities)[0]:
        frame, _, _ = version_scores(project, version, dataset, candidates, model)
        left_id, right_id = dataset.left.entity_ids[left], dataset.right.entity_ids[right]
        row = frame[(frame["left_id"] == str(left_id)) & (frame["right_id"] == str(right_id))]
        if len(row):
            return waterfall_of_row(row.iloc[0].to_dict(), threshold=scorer.threshold), ""
    scores = scorer.match_scores(np.array([left]), np.array([right]))
    return build_waterfall(scores.baseline, scores.group_names, scores.contributions[0],
                           log_odds=scores.log_odds[0], probability=scores.probability[0],
                           decided=bool(scores.decided[0]), threshold=scorer.threshold), ""
