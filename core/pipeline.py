"""The end-to-end baseline run on a project directory: load, block, score, evaluate."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.baseline import NameLogRegScorer, NameTfidfScorer
from core.blocking import BlockingConfig, BlockingReport, block
from core.candidates import CandidatePairs
from core.dataset import AlignmentDataset
from core.evaluation import EvalReport, evaluate
from core.links import Split
from core.native_format import load_project, save_candidates

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
