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

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from core.blocking.name_blocking import BlockingConfig, BlockingReport, TypeBlockingStats, block
from core.data.candidates import CandidatePairs
from core.data.dataset import AlignmentDataset
from core.data.links import Split
from core.evaluation.harness import EvalReport, evaluate
from core.formats.errors import DataError, Problem, ProblemLog
from core.formats.native import CANDIDATES_FILE, load_candidates, load_project, save_candidates
from core.formats.textio import atomic_write_text, parse_json, read_text
from core.scoring.name_baselines import NameLogRegScorer, NameTfidfScorer

METHODS = ("name-tfidf", "name-logreg")
#: Methods ``evaluate_method`` accepts: the name baselines and the project's active model.
EVALUATION_METHODS = (*METHODS, "model")
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
                  dataset: AlignmentDataset | None = None, blocker=None) -> BlockedProject:
    """Block the project and store ``candidates.tsv`` with ``blocking_report.json`` beside it.

    ``blocker(dataset, config) -> (candidates, report)`` computes the candidates (default
    :func:`~core.blocking.name_blocking.block`; ``--engine ray`` passes the distributed one, which
    gives the same pairs).

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
    candidates, report = (blocker or block)(dataset, config)
    path = save_candidates(dataset, candidates, project)
    save_blocking_report(project, report, candidates_sha256=file_sha256(path))
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
def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB pieces (candidates files run to hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for piece in iter(lambda: fh.read(1 << 20), b""):
            digest.update(piece)
    return digest.hexdigest()


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
    if data.get("candidates_sha256") != file_sha256(candidates):
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
    config = config or BlockingConfig()
    if method == "name-tfidf":
        return NameTfidfScorer(dataset, config)
    if method == "name-logreg":
        return NameLogRegScorer(dataset, candidates, config, seed=seed)
    raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")


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

    def __init__(self, scorer, on_progress: Progress, *, piece: int = 8192):
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
        return self._in_pieces(self.scorer.distances, left, right)


# ----------------------------------------------------------------------------- whole steps ----
def evaluate_method(project: str | Path, method: str, *, split: Split = Split.TEST, kg_protocol: bool = False,
                    dataset: AlignmentDataset | None = None, candidates: CandidatePairs | None = None,
                    model_path: str | Path | None = None, on_progress: Progress | None = None) -> EvalReport:
    """Evaluate a name baseline or the active model (``method="model"``) on the blocked candidates.

    Name scorers use the n-gram settings of the stored blocking. ``kg_protocol`` needs a scorer
    that ranks all right entities of a type (name-tfidf): any other is refused before scoring.
    """
    if method not in EVALUATION_METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {EVALUATION_METHODS}")
    if kg_protocol and method != "name-tfidf":
        raise ValueError(f"the KG protocol ranks every right entity of a type, which only name-tfidf can do; "
                         f"{method!r} scores candidate pairs only (drop --kg-protocol or use --method name-tfidf)")
    if candidates is None:
        dataset, candidates = load_blocked(project, dataset)
    if method == "model":
        scorer, _ = active_scorer(project, dataset, model_path=model_path)
    else:
        scorer = make_scorer(method, dataset, candidates, config=blocking_config(project))
    if kg_protocol and not hasattr(scorer, "score_matrix"):
        raise ValueError(f"scorer {scorer.name!r} cannot rank all right entities (no score_matrix)")
    if on_progress is not None:
        scorer = ProgressScorer(scorer, on_progress)
    return evaluate(dataset, candidates, scorer, split=split, kg_protocol=kg_protocol)


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
    report: EvalReport
    scorer: object = None  # the trained core.scoring.model_scorer.ModelScorer


def run_model(project: str | Path, dataset: AlignmentDataset, candidates: CandidatePairs, train_config, *,
              model_config=None, on_step=None, on_epoch=None, name: str = "cg-mualign", trainer=None,
              activate: bool = True) -> TrainedModel:
    """Train, store as a new active model version, and evaluate on TEST.

    ``activate=False`` stores the version without making it active (a retrain activates it only
    when it is better on validation, see ``core.project.retrain``).

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
    # Checkpoint complete under its final name first, then the active pointer (crash-safe order).
    version, final = store_version(project, result.scorer, train_config=train_config.to_dict(),
                                   metrics={"best_epoch": result.best_epoch, "valid_pr_auc": result.best_valid_pr_auc,
                                            "test_pr_auc": report.overall.pr_auc, "test_f1": report.overall.f1},
                                   activate=activate)
    return TrainedModel(version, final, result.best_epoch, result.seconds, report, result.scorer)


def score_candidates(project: str | Path, dataset: AlignmentDataset, candidates: CandidatePairs, scorer,
                     version: str, *, on_progress: Progress | None = None):
    """Score every candidate; write ``scores.tsv`` (ids, type, score, distance, probability, rank).

    The same table is kept as ``scores/scores-<version>.tsv`` for the review app.
    """
    from core.project.score_table import model_scores, scores_path, write_scores

    if on_progress is not None:
        scorer = ProgressScorer(scorer, on_progress)
    frame = model_scores(dataset, candidates, scorer, version)
    write_scores(frame, scores_path(project, version))
    return frame, write_scores(frame, Path(project) / "scores.tsv")
