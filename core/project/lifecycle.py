"""The end-to-end baseline run on a project directory: load, block, score, evaluate."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.scoring.name_baselines import NameLogRegScorer, NameTfidfScorer
from core.blocking.name_blocking import BlockingConfig, BlockingReport, block
from core.data.candidates import CandidatePairs
from core.data.dataset import AlignmentDataset
from core.evaluation.harness import EvalReport, evaluate
from core.data.links import Split
from core.formats.native import load_project, save_candidates

METHODS = ("name-tfidf", "name-logreg")


def make_scorer(method: str, dataset: AlignmentDataset, candidates: CandidatePairs, *,
                config: BlockingConfig | None = None, seed: int = 0):
    """A fitted scorer by name (``name-tfidf`` or ``name-logreg``)."""
    config = config or BlockingConfig()
    if method == "name-tfidf":
        return NameTfidfScorer(dataset, config)
    if method == "name-logreg":
        return NameLogRegScorer(dataset, candidates, config, seed=seed)
    raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")


@dataclass(frozen=True, eq=False)
class BaselineRun:
    dataset: AlignmentDataset
    candidates: CandidatePairs
    blocking: BlockingReport
    reports: tuple[EvalReport, ...]


def run_baselines(project: str | Path, *, config: BlockingConfig | None = None,
                  methods: tuple[str, ...] = METHODS, kg_protocol: bool = False) -> BaselineRun:
    """Block the project (saving ``candidates.tsv``) and evaluate each baseline on TEST."""
    dataset = load_project(project)
    candidates, blocking = block(dataset, config)
    save_candidates(dataset, candidates, project)
    reports = tuple(evaluate(dataset, candidates, make_scorer(m, dataset, candidates, config=config),
                             split=Split.TEST, kg_protocol=kg_protocol and m == "name-tfidf")
                    for m in methods)
    return BaselineRun(dataset, candidates, blocking, reports)


@dataclass(frozen=True, eq=False)
class TrainedModel:
    version: str
    checkpoint: Path
    best_epoch: int
    seconds: float
    report: EvalReport
    scorer: object = None  # the trained core.scoring.model_scorer.ModelScorer


def run_model(project: str | Path, dataset: AlignmentDataset, candidates: CandidatePairs, train_config, *,
              model_config=None, on_step=None, on_epoch=None, name: str = "cg-mualign") -> TrainedModel:
    """Train, store as a new active model version, and evaluate on TEST."""
    from core.model.setup import build_setup
    from core.model.cg_mualign import ModelConfig
    from core.project.model_versions import store_version
    from core.training.loop import train

    model_config = model_config or ModelConfig()
    setup = build_setup(dataset, model_config)
    result = train(setup, model_config, train_config, candidates=candidates, on_step=on_step, on_epoch=on_epoch)
    result.scorer.name = name
    report = evaluate(dataset, candidates, result.scorer, split=Split.TEST)
    # Checkpoint complete under its final name first, then the active pointer (crash-safe order).
    version, final = store_version(project, result.scorer, train_config=train_config.to_dict(),
                                   metrics={"best_epoch": result.best_epoch, "valid_pr_auc": result.best_valid_pr_auc,
                                            "test_pr_auc": report.overall.pr_auc, "test_f1": report.overall.f1})
    return TrainedModel(version, final, result.best_epoch, result.seconds, report, result.scorer)


def score_candidates(project: str | Path, dataset: AlignmentDataset, candidates: CandidatePairs, scorer,
                     version: str):
    """Score every candidate; write ``scores.tsv`` (ids, type, score, distance, probability, rank).

    The same table is kept as ``scores/scores-<version>.tsv`` for the review app.
    """
    from core.project.score_table import model_scores, scores_path, write_scores

    frame = model_scores(dataset, candidates, scorer, version)
    write_scores(frame, scores_path(project, version))
    return frame, write_scores(frame, Path(project) / "scores.tsv")
