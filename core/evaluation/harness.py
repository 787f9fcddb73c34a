"""The evaluation harness: every scorer (baseline or model) is measured the same way here.

Two protocols, chosen by the data:

* **labelled pairs** (DeepMatcher-style benchmarks, whose splits contain labelled non-matches):
  the classification metrics are computed on exactly the labelled pairs of the split, so the
  figures compare with published tables. The choice is made per aligned type ("mixed" when
  papers have labelled pairs and derived author links do not).
* **candidates** (KG pairs with only positive links): the pairs are the blocked candidates of
  every left entity that has a true match in the split, labelled by the known truth. True matches
  that blocking lost still count in recall (``n_positives``), so a blocker cannot hide misses.

A pair that is a TRAIN link (a seed link, or a pair an analyst accepted or rejected, which
``core.review.labels_as_links`` adds as TRAIN links) is training data and never evaluation data:
it is left out of the candidates judged and ranked on VALID and TEST, so a model is not credited
for rejecting on TEST the very pair it was trained to reject.

Hit@1 and MRR always rank each left entity's true match among its blocked candidates. The F1
threshold is the best-F1 threshold on the VALID split, applied unchanged to the reported split:
it is never picked on the data it is reported on. With ``kg_protocol=True`` and a scorer that can
score all right entities of a type, Hits@1/10 and MRR also rank the true counterpart among all
right entities of its type (the KG-benchmark protocol, e.g. for DBP15K).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np

from core.evaluation import metrics
from core.data.candidates import CandidatePairs, pair_keys, split_pair_keys
from core.data.dataset import AlignmentDataset
from core.data.links import Split
from core.data.sets import isin


class PairScorer(Protocol):
    """What the harness needs from a scorer: higher score = more likely the same entity."""

    name: str

    def score_pairs(self, left: np.ndarray, right: np.ndarray, types: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True, eq=False)
class EvalPairs:
    """The pairs one split is judged on, and the true matches blocking lost (per aligned type)."""

    left: np.ndarray
    right: np.ndarray
    type: np.ndarray
    label: np.ndarray
    missed: np.ndarray  # (n_types,) true matches of the split not among the pairs
    protocol: str
    # (n_types,) true matches of the split not among the blocked candidates, whatever the protocol
    # (under "labelled pairs" they are still judged, but blocking would not have proposed them)
    lost: np.ndarray | None = None

    def of_type(self, t: int) -> "EvalPairs":
        sel = self.type == t
        missed = np.zeros_like(self.missed)
        missed[t] = self.missed[t]
        lost = None
        if self.lost is not None:
            lost = np.zeros_like(self.lost)
            lost[t] = self.lost[t]
        return EvalPairs(self.left[sel], self.right[sel], self.type[sel], self.label[sel], missed, self.protocol, lost)


@dataclass(frozen=True)
class MetricSet:
    """Metrics for one aligned type (or all of them). None where undefined (no positives)."""

    n_pairs: int
    n_positives: int  # true matches, including those lost by blocking
    n_missed: int  # true matches blocking lost
    pr_auc: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    recall_at_p95: float | None
    n_queries: int  # left entities ranked for Hit@1 / MRR
    hit_at_1: float | None
    mrr: float | None
    hit_at_10: float | None = None  # among the candidates; a match blocking lost is a miss
    n_lost: int = 0  # true matches of the split that blocking did not propose, whatever the protocol


@dataclass(frozen=True)
class KgRanking:
    """The KG-benchmark protocol for one aligned type: rank among all right entities of the type."""

    type: str
    n_queries: int
    hits_at_1: float
    hits_at_10: float
    mrr: float


@dataclass(frozen=True)
class EvalReport:
    method: str
    split: str
    protocol: str
    threshold: float | None  # chosen on VALID
    overall: MetricSet
    per_type: tuple[tuple[str, MetricSet], ...]
    kg_ranking: tuple[KgRanking, ...] = ()

    def to_records(self, *, dataset: str, seed: int | None, command: str) -> list[dict]:
        """Flat records for ``bench/results/*.json`` (one per figure)."""
        records = []
        for scope, m in (("all", self.overall), *self.per_type):
            for metric in ("pr_auc", "f1", "precision", "recall", "recall_at_p95", "hit_at_1", "hit_at_10", "mrr"):
                value = getattr(m, metric)
                if value is not None:
                    records.append({"dataset": dataset, "method": self.method, "metric": f"{metric}[{scope}]",
                                    "value": round(float(value), 6), "unit": "ratio", "seed": seed,
                                    "command": command, "split": self.split})
        for k in self.kg_ranking:
            for metric in ("hits_at_1", "hits_at_10", "mrr"):
                records.append({"dataset": dataset, "method": self.method, "metric": f"kg_{metric}[{k.type}]",
                                "value": round(float(getattr(k, metric)), 6), "unit": "ratio", "seed": seed,
                                "command": command, "split": self.split})
        return records


# ---------------------------------------------------------------------------- pair selection --
def evaluation_pairs(dataset: AlignmentDataset, candidates: CandidatePairs, split: Split) -> EvalPairs:
    """The pairs ``split`` is judged on (see the module docstring for the two protocols).

    The protocol is chosen per aligned type: a type whose links in the split include labelled
    non-matches is judged on exactly those pairs, any other type on its blocked candidates.
    """
    n_types = len(dataset.schema.types)
    links = dataset.links.in_split(split)
    labelled_types = np.unique(links.type[links.label == 0])
    labelled = links.select(np.isin(links.type, labelled_types))
    positives = links.positives().select(~np.isin(links.positives().type, labelled_types))
    n_right = dataset.right.n_entities
    gold = dataset.gold_pairs()
    pairs = candidates.select(isin(candidates.left, positives.left) & ~isin(candidates.type, labelled_types))
    pairs = pairs.select(~_is_training_pair(dataset, pairs))
    labels = isin(pairs.pair_keys(n_right), pair_keys(gold.left, gold.right, n_right)).astype(np.int64)
    found = candidates.contains(positives.left, positives.right, n_right)
    missed = np.bincount(positives.type[~found], minlength=n_types).astype(np.int64)
    matches = links.positives()
    proposed = candidates.contains(matches.left, matches.right, n_right)
    lost = np.bincount(matches.type[~proposed], minlength=n_types).astype(np.int64)
    protocol = ("labelled pairs" if len(labelled_types) == n_types or not len(positives) else
                "candidates" if not len(labelled_types) else "mixed")
    return EvalPairs(np.concatenate([labelled.left, pairs.left]), np.concatenate([labelled.right, pairs.right]),
                     np.concatenate([labelled.type, pairs.type]),
                     np.concatenate([labelled.label.astype(np.int64), labels]), missed, protocol, lost)


def _is_training_pair(dataset: AlignmentDataset, candidates: CandidatePairs) -> np.ndarray:
    """For each candidate, whether it is a TRAIN link (match or not): training data, never judged."""
    train = dataset.links.in_split(Split.TRAIN)
    n_right = dataset.right.n_entities
    return isin(candidates.pair_keys(n_right), pair_keys(train.left, train.right, n_right))


def _queries(dataset: AlignmentDataset, split: Split) -> tuple[np.ndarray, np.ndarray]:
    """(left entity, aligned type) of each left entity with a true match in ``split``."""
    positives = dataset.links.in_split(split).positives()
    left, first = np.unique(positives.left, return_index=True)
    return left, positives.type[first]


# ---------------------------------------------------------------------------- metrics ---------
def _metric_set(pairs: EvalPairs, scores: np.ndarray, threshold: float | None,
                query_left: np.ndarray, cand: CandidatePairs, cand_scores: np.ndarray, gold_keys: np.ndarray,
                n_right: int) -> MetricSet:
    n_missed = int(pairs.missed.sum())
    n_pos = int(pairs.label.sum()) + n_missed
    pr_auc = precision = recall = f1 = r95 = None
    if n_pos > 0 and pairs.label.sum() > 0:
        pr_auc = metrics.pr_auc_score(pairs.label, scores, n_positives=n_pos)
        r95 = metrics.recall_at_precision_score(pairs.label, scores, min_precision=0.95, n_positives=n_pos)
        if threshold is not None:
            precision, recall, f1 = metrics.precision_recall_f1(pairs.label, scores, threshold, n_positives=n_pos)
    elif n_pos > 0:
        pr_auc, r95, precision, recall, f1 = 0.0, 0.0, 0.0, 0.0, 0.0
    hit1 = hit10 = mrr = None
    if len(query_left):
        sel = isin(cand.left, query_left)
        labels = isin(cand.pair_keys(n_right)[sel], gold_keys).astype(np.int64)
        ranks = metrics.candidate_ranks(cand.left[sel], cand_scores[sel], labels, expected_queries=query_left)
        hit1, mrr = metrics.hits_at_k_score(ranks, 1), metrics.mrr_score(ranks)
        hit10 = metrics.hits_at_k_score(ranks, 10)
    n_lost = int(pairs.lost.sum()) if pairs.lost is not None else n_missed
    return MetricSet(len(pairs.label), n_pos, n_missed, pr_auc, precision, recall, f1, r95,
                     len(query_left), hit1, mrr, hit10, n_lost)


def scored_pairs(dataset: AlignmentDataset, candidates: CandidatePairs, scorer: PairScorer,
                 split: Split) -> tuple[EvalPairs, np.ndarray]:
    """The pairs ``split`` is judged on and their scores: what a PR curve or a threshold slider reads."""
    pairs = evaluation_pairs(dataset, candidates, split)
    return pairs, np.asarray(scorer.score_pairs(pairs.left, pairs.right, pairs.type), dtype=np.float64)


def choose_threshold(dataset: AlignmentDataset, candidates: CandidatePairs, scorer: PairScorer,
                     split: Split = Split.VALID) -> float | None:
    """Best-F1 threshold on ``split`` (VALID by default); None if it has no true match."""
    pairs = evaluation_pairs(dataset, candidates, split)
    if pairs.label.sum() == 0:
        return None
    scores = scorer.score_pairs(pairs.left, pairs.right, pairs.type)
    threshold, _ = metrics.best_f1_threshold(pairs.label, scores, n_positives=int(pairs.label.sum() + pairs.missed.sum()))
    return float(threshold)


def evaluate(dataset: AlignmentDataset, candidates: CandidatePairs, scorer: PairScorer, *,
             split: Split = Split.TEST, threshold: float | None = None, kg_protocol: bool = False,
             chunk_rows: int = 1024) -> EvalReport:
    """Score ``split`` with ``scorer`` and compute every metric, per aligned type and overall.

    ``threshold``: pass one to reuse it; by default it is chosen on VALID (never on ``split``).
    """
    if threshold is None:
        threshold = choose_threshold(dataset, candidates, scorer, Split.VALID)
    pairs = evaluation_pairs(dataset, candidates, split)
    query_left, query_type = _queries(dataset, split)
    cand = candidates.select(isin(candidates.left, query_left))
    cand = cand.select(~_is_training_pair(dataset, cand))
    n_right = dataset.right.n_entities
    scores, cand_scores = _score_once(scorer, pairs, cand, n_right)
    gold = dataset.gold_pairs()
    gold_keys = pair_keys(gold.left, gold.right, n_right)

    overall = _metric_set(pairs, scores, threshold, query_left, cand, cand_scores, gold_keys, n_right)
    per_type = []
    for t, c in enumerate(dataset.schema.types):
        sel = pairs.type == t
        tsel = cand.type == t
        per_type.append((c.name, _metric_set(pairs.of_type(t), scores[sel], threshold, query_left[query_type == t],
                                             cand.select(tsel), cand_scores[tsel], gold_keys, n_right)))
    kg = tuple(kg_ranking(dataset, scorer, split, chunk_rows=chunk_rows)) if kg_protocol else ()
    return EvalReport(scorer.name, split.value, pairs.protocol, threshold, overall, tuple(per_type), kg)


def _score_once(scorer: PairScorer, pairs: EvalPairs, cand: CandidatePairs, n_right: int):
    """Scores of the judged pairs and of the ranked candidates, each distinct pair scored once.

    Under the candidates protocol the judged pairs are candidates themselves, so scoring both
    lists separately would run the model twice over the same pairs.
    """
    keys = np.concatenate([pair_keys(pairs.left, pairs.right, n_right), cand.pair_keys(n_right)])
    types = np.concatenate([pairs.type, cand.type])
    unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    scores = np.asarray(scorer.score_pairs(*split_pair_keys(unique, n_right), types[first]))[inverse.reshape(-1)]
    return scores[: len(pairs.left)], scores[len(pairs.left):]


def kg_ranking(dataset: AlignmentDataset, scorer, split: Split = Split.TEST, *, chunk_rows: int = 1024):
    """Hits@1/10 and MRR ranking each true counterpart among all right entities of its type.

    Needs ``scorer.score_matrix(left, type_index) -> (scores, right_entities)``.
    """
    if not hasattr(scorer, "score_matrix"):
        raise TypeError(f"scorer {scorer.name!r} cannot score all right entities (no score_matrix)")
    positives = dataset.links.in_split(split).positives()
    for t, c in enumerate(dataset.schema.types):
        links = positives.of_type(t)
        if not len(links):
            continue
        ranks = []
        for start in range(0, len(links), chunk_rows):
            left = links.left[start:start + chunk_rows]
            scores, right = scorer.score_matrix(left, t)
            column_of = np.full(dataset.right.n_entities, -1, dtype=np.int64)
            column_of[right] = np.arange(len(right))
            ranks.append(metrics.full_ranking_ranks(scores, column_of[links.right[start:start + chunk_rows]]))
        ranks = np.concatenate(ranks)
        yield KgRanking(c.name, len(ranks), metrics.hits_at_k_score(ranks, 1), metrics.hits_at_k_score(ranks, 10),
                        metrics.mrr_score(ranks))


# ---------------------------------------------------------------------------- formatting ------
def _fmt(value) -> str:
    return "    -" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def format_report(report: EvalReport) -> str:
    """A fixed-width table of the report, for the CLI and bench logs.

    ``lost`` counts the split's true matches that blocking did not propose (under the labelled
    pairs protocol they are judged anyway). Types without a link in the split get no row of
    dashes, only a mention under the table.
    """
    head = (f"method={report.method} split={report.split} protocol={report.protocol} "
            f"threshold(valid)={_fmt(report.threshold)}")
    cols = (f"{'type':<14}{'pairs':>8}{'pos':>7}{'lost':>6}{'PRAUC':>8}{'P':>7}{'R':>7}{'F1':>7}{'R@P95':>7}"
            f"{'Hit@1':>7}{'Hit@10':>7}{'MRR':>7}")
    rows = [head, cols]
    shown = [(name, m) for name, m in report.per_type if m.n_pairs or m.n_positives or m.n_queries]
    for name, m in (*shown, ("ALL", report.overall)):
        rows.append(f"{name[:13]:<14}{m.n_pairs:>8}{m.n_positives:>7}{m.n_lost:>6}{_fmt(m.pr_auc):>8}"
                    f"{_fmt(m.precision):>7}{_fmt(m.recall):>7}{_fmt(m.f1):>7}{_fmt(m.recall_at_p95):>7}"
                    f"{_fmt(m.hit_at_1):>7}{_fmt(m.hit_at_10):>7}{_fmt(m.mrr):>7}")
    without = [name for name, m in report.per_type if (name, m) not in shown]
    if without:
        rows.append(f"no links in {report.split.upper()}: {', '.join(without)}")
    for k in report.kg_ranking:
        rows.append(f"KG protocol [{k.type}] queries={k.n_queries} Hits@1={k.hits_at_1:.4f} "
                    f"Hits@10={k.hits_at_10:.4f} MRR={k.mrr:.4f}")
    return "\n".join(rows)


def report_to_dict(report: EvalReport) -> dict:
    return asdict(report)
