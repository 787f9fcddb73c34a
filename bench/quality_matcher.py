"""Match quality of the end-to-end matcher (issue 15): mualign against its ablations and peers, over seeds.

    python bench/quality_matcher.py                                     # every dataset but DBP15K, seeds 0 1 2
    python bench/quality_matcher.py --datasets demo_music --seeds 0 --epochs 5
    python bench/quality_matcher.py --datasets dbp15k_fr_en dbp15k_fr_en_translated --epochs 4 \
        --no-ablation --out quality_matcher_dbp15k_gnn                  # DBP15K: no ablation fits

Per dataset and seed: block, train CG-MuAlign (the project's default TrainConfig, ``--epochs``
epochs; ``--epochs 0`` skips the GNN), fit the matcher, and evaluate on TEST with
``core.evaluation.harness.evaluate`` (threshold chosen on VALID), overall and per type:

* ``mualign``: the default end-to-end matcher (names, attributes, structure, CG-MuAlign
  distance, one iteration, one-to-one step where auto-detected); ``mualign-no-1to1`` the same
  scores without the one-to-one step.
* ablation, cumulative: ``names``, ``+attributes``, ``+structure``, ``+cg-mualign``,
  ``+1to1``, ``+iterations`` (= ``mualign``).
* peers, fitted on the same TRAIN rows: ``magellan-rf`` (scikit-learn random forest over the same
  name and attribute comparison features, missing values as -1), ``name-logreg``, and
  ``cg-mualign`` (the trained model's distance alone); on DBLP-ACM also ``splink`` (the model of
  bench/peer_splink.py, unsupervised EM, its own blocking; in this process, ``--no-splink`` skips it).

Also the matcher's fit time on each dataset (with the GNN's distance time taken out) beside the
load average, and a reliability curve of ``mualign`` on TEST pairs (10 bins). Records go to
``bench/results/<--out>.json``.

``--no-ablation`` skips the ablation's fits (``names`` .. ``+1to1``), the expensive part on big
data; ``mualign``, ``mualign-no-1to1`` and the peers are still measured. ``--no-magellan`` skips
the random forest peer.

Datasets are rows of :data:`DATASETS`: add a :class:`BenchDataset` (a loader, blocking settings,
optionally a candidate function, ``kg_protocol``) to run a new one. The DBP15K FR-EN rows
(``dbp15k_fr_en``: URI names, ``dbp15k_fr_en_translated``, ``dbp15k_fr_en_structure``: ids
only) come from bench/structural_candidates.py's :data:`DBP15K_DATASETS` with its default
blocking (names top 20 + structure top 10). Every TEST link is judged there: Hits@1 is the share
of TEST links whose left entity ranks its match first among its candidates (after the one-to-one
step for ``mualign``), a match blocking lost counting as a miss, as that script's ``--matcher``
measures ``mualign-no-gnn``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from _common import load_benchmark, record, write_results
from structural_candidates import DBP15K_DATASETS

from core.blocking.name_blocking import BlockingConfig, block
from core.data.candidates import CandidatePairs, pair_keys, split_pair_keys
from core.data.dataset import AlignmentDataset
from core.data.links import Split
from core.evaluation.harness import evaluate, evaluation_pairs, format_report
from core.matching.matcher import MatchingConfig, fit_matcher, training_rows
from core.matching.pair_features import comparison_specs, static_pair_features
from core.project.lifecycle import make_scorer

METRICS = ("pr_auc", "f1", "precision", "recall", "recall_at_p95", "hit_at_1", "hit_at_10", "mrr")


# --------------------------------------------------------------------------------------------
# The dataset table
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchDataset:
    """One row of the dataset table.

    ``candidates(dataset, blocking_candidates) -> CandidatePairs`` may replace or extend the
    name-blocked candidates (structural candidates, for example); default: blocking's.
    """

    load: Callable[[], AlignmentDataset]
    blocking: BlockingConfig = field(default_factory=BlockingConfig)
    candidates: Callable[[AlignmentDataset, CandidatePairs], CandidatePairs] | None = None
    kg_protocol: bool = False


def _demo(kind: str) -> Callable[[], AlignmentDataset]:
    def load() -> AlignmentDataset:
        if kind == "movies":
            from core.demo.movies import generate_movie_pair

            return generate_movie_pair(300, seed=0).dataset
        from core.demo.music import generate_music_pair

        return generate_music_pair(300, seed=0).dataset
    return load


DATASETS: dict[str, BenchDataset] = {
    "dblp_acm": BenchDataset(lambda: load_benchmark("dblp_acm"), BlockingConfig(top_k=20)),
    # the 109-pair test split as bench/quality.py loads it (no deduplication)
    "itunes_amazon": BenchDataset(lambda: load_benchmark("itunes_amazon"), BlockingConfig(top_k=20)),
    "demo_movies": BenchDataset(_demo("movies"), BlockingConfig(top_k=20)),
    "demo_music": BenchDataset(_demo("music"), BlockingConfig(top_k=20)),
    # DBP15K FR-EN, JAPE split, three name settings (URI, translated, ids): names top 20 + structure top 10
    **{name: BenchDataset(load, blocking) for name, (load, blocking) in DBP15K_DATASETS.items()},
}


# --------------------------------------------------------------------------------------------
# Scorers the harness can call
# --------------------------------------------------------------------------------------------


def scoring_universe(dataset: AlignmentDataset, candidates: CandidatePairs) -> CandidatePairs:
    """The candidates plus every labelled pair of a type judged on labelled pairs.

    DeepMatcher-style benchmarks judge their labelled pairs, which a blocker proposed; they must
    be scored (and compete in the one-to-one step) like candidates. Only the pairs are added,
    from every split alike, never their labels. Types judged on candidates get nothing added, so
    a TEST match that blocking lost stays lost.
    """
    links = dataset.links
    labelled_types = np.unique(links.type[links.label == 0])
    extra = links.select(np.isin(links.type, labelled_types))
    n_right = dataset.right.n_entities
    keys = np.r_[candidates.pair_keys(n_right), pair_keys(extra.left, extra.right, n_right)]
    types = np.r_[candidates.type, extra.type]
    scores = np.r_[candidates.name_score, np.zeros(len(extra), dtype=candidates.name_score.dtype)]
    unique, first = np.unique(keys, return_index=True)
    left, right = split_pair_keys(unique, n_right)
    return CandidatePairs(left, right, types[first].astype(candidates.type.dtype), scores[first])


@dataclass(eq=False)
class LookupScorer:
    """Scores precomputed on the scoring universe, looked up by pair (the harness's PairScorer)."""

    name: str
    keys: np.ndarray  # sorted pair keys
    values: np.ndarray
    n_right: int

    def score_pairs(self, left, right, types=None) -> np.ndarray:
        keys = pair_keys(left, right, self.n_right)
        position = np.clip(np.searchsorted(self.keys, keys), 0, len(self.keys) - 1)
        if len(keys) and (self.keys[position] != keys).any():
            raise KeyError(f"{self.name}: {(self.keys[position] != keys).sum()} pairs outside the scoring universe")
        return self.values[position]


def one_to_one_scores(universe: CandidatePairs, scores) -> np.ndarray:
    """Probabilities with the one-to-one step: a pair that lost its entity to an assigned pair drops by 1.

    Ranks and the VALID threshold then see the joint decision: the assigned pair stays first
    for its entities, the pairs it beat fall below every pair still in play, in their order.
    """
    if scores.one_to_one is None or not scores.one_to_one.any():
        return scores.probability.copy()
    assigned = scores.assigned
    used_left = np.isin(universe.left, universe.left[assigned])
    used_right = np.isin(universe.right, universe.right[assigned])
    lost = scores.one_to_one & ~assigned & (used_left | used_right)
    return scores.probability - lost.astype(np.float64)


def gnn_cache(distances: Callable[[np.ndarray, np.ndarray], np.ndarray], n_right: int):
    """Memoised GNN distance (pairs scored once across the ablation's fits) and a timer."""
    cache: dict[int, float] = {}
    spent = [0.0]

    def distance(left: np.ndarray, right: np.ndarray) -> np.ndarray:
        keys = pair_keys(left, right, n_right)
        missing = np.unique(keys[[k not in cache for k in keys.tolist()]])
        if len(missing):
            start = time.perf_counter()
            values = distances(*split_pair_keys(missing, n_right))
            spent[0] += time.perf_counter() - start
            cache.update(zip(missing.tolist(), np.asarray(values, dtype=np.float64).tolist()))
        return np.array([cache[k] for k in keys.tolist()], dtype=np.float64)
    return distance, spent


# --------------------------------------------------------------------------------------------
# Peers
# --------------------------------------------------------------------------------------------


def magellan_rf(dataset: AlignmentDataset, candidates: CandidatePairs, universe: CandidatePairs, seed: int):
    """A Magellan-style random forest over the name and attribute comparisons, on the matcher's TRAIN rows."""
    from sklearn.ensemble import RandomForestClassifier

    specs = comparison_specs(dataset)
    left, right, _, y = training_rows(dataset, candidates, Split.TRAIN)
    train_X = static_pair_features(dataset, left, right, specs=specs, use_structure=False).values
    forest = RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=1)
    forest.fit(np.nan_to_num(train_X, nan=-1.0), y)
    X = static_pair_features(dataset, universe.left, universe.right, specs=specs, use_structure=False).values
    return forest.predict_proba(np.nan_to_num(X, nan=-1.0))[:, 1]


# --------------------------------------------------------------------------------------------
# One dataset, one seed
# --------------------------------------------------------------------------------------------


ABLATION = (
    ("names", MatchingConfig(use_attributes=False, use_structure=False, use_gnn=False, rounds=0, one_to_one="off")),
    ("+attributes", MatchingConfig(use_structure=False, use_gnn=False, rounds=0, one_to_one="off")),
    ("+structure", MatchingConfig(use_gnn=False, rounds=0)),
    ("+cg-mualign", MatchingConfig(rounds=0)),
)


def train_gnn(dataset: AlignmentDataset, candidates: CandidatePairs, seed: int, epochs: int):
    from core.model.cg_mualign import ModelConfig
    from core.model.setup import build_setup
    from core.training.loop import TrainConfig, train

    model_config = ModelConfig.variant("cg-mualign")
    setup = build_setup(dataset, model_config)
    start = time.perf_counter()
    result = train(setup, model_config, TrainConfig(epochs=epochs, seed=seed), candidates=candidates)
    return result.scorer, time.perf_counter() - start


def run_seed(name: str, spec: BenchDataset, dataset: AlignmentDataset, candidates: CandidatePairs, seed: int,
             epochs: int, log, ablation: bool = True, magellan: bool = True) -> tuple[dict[str, object], list[dict]]:
    """Reports per method, and extra records (fit times, reliability, rounds).

    ``ablation=False`` skips the ablation's fits, ``magellan=False`` the random forest peer.
    """
    n_right = dataset.right.n_entities
    universe = scoring_universe(dataset, candidates)
    keys = universe.pair_keys(n_right)
    reports, extra = {}, []

    def judge(method: str, values: np.ndarray) -> None:
        scorer = LookupScorer(method, keys, np.asarray(values, dtype=np.float64), n_right)
        reports[method] = evaluate(dataset, candidates, scorer, split=Split.TEST)
        log(format_report(reports[method]))

    gnn = None
    if epochs > 0:
        model_scorer, seconds = train_gnn(dataset, candidates, seed, epochs)
        print(f"  cg-mualign trained: {epochs} epochs {seconds:.1f} s, load {os.getloadavg()[0]:.1f}", flush=True)
        extra.append(record(name, "cg-mualign", "train_seconds", round(seconds, 2), "s", seed,
                            epochs=epochs, load_average_1min=round(os.getloadavg()[0], 2)))
        gnn, gnn_time = gnn_cache(model_scorer.distances, n_right)
        judge("cg-mualign", -gnn(universe.left, universe.right))

    for method, config in ABLATION if ablation else ():
        if method == "+cg-mualign" and gnn is None:
            continue
        matcher = fit_matcher(dataset, candidates, gnn=gnn, config=config, seed=seed)
        scores = matcher.score(dataset, universe, gnn=gnn if matcher.uses_gnn else None)
        judge(method, scores.probability)  # one_to_one="auto" changes decisions only, not probabilities
        if method == "+cg-mualign" or (gnn is None and method == "+structure"):
            judge("+1to1", one_to_one_scores(universe, scores))

    before = gnn_time[0] if gnn is not None else 0.0
    load_before = os.getloadavg()[0]
    matcher = fit_matcher(dataset, candidates, gnn=gnn, config=MatchingConfig(), seed=seed)
    gnn_seconds = (gnn_time[0] if gnn is not None else 0.0) - before
    extra.append(record(name, "mualign", "fit_seconds", round(matcher.fit_seconds, 2), "s", seed,
                        fit_seconds_beyond_gnn=round(matcher.fit_seconds - gnn_seconds, 2),
                        load_average_1min=round((load_before + os.getloadavg()[0]) / 2, 2)))
    log(f"  fit mualign: {matcher.fit_seconds:.1f} s ({matcher.fit_seconds - gnn_seconds:.1f} s beyond the GNN) "
        f"load {os.getloadavg()[0]:.1f}; rounds {matcher.rounds_report}; one-to-one {matcher.one_to_one_types}")
    scores = matcher.score(dataset, universe, gnn=gnn if matcher.uses_gnn else None)
    judge("mualign-no-1to1", scores.probability)
    judge("mualign", one_to_one_scores(universe, scores))
    if ablation:
        reports["+iterations"] = reports["mualign"]
    for r in matcher.rounds_report:
        extra.append(record(name, "mualign", f"valid_f1[round{r['round']}]", round(r["valid_f1"], 5), "ratio",
                            seed, anchors=r["anchors"]))
    extra += reliability_records(name, dataset, candidates, universe, scores.probability, keys, seed)

    if magellan:
        start = time.perf_counter()
        judge("magellan-rf", magellan_rf(dataset, candidates, universe, seed))
        print(f"  magellan-rf: {time.perf_counter() - start:.1f} s, load {os.getloadavg()[0]:.1f}", flush=True)
    logreg = make_scorer("name-logreg", dataset, candidates, config=spec.blocking, seed=seed)
    judge("name-logreg", logreg.score_pairs(universe.left, universe.right, universe.type))
    if name == "dblp_acm" and SPLINK[0]:
        reports["splink"], seconds = splink_report(dataset, candidates, seed)
        extra.append(record(name, "splink", "fit_seconds", round(seconds, 2), "s", seed,
                            load_average_1min=round(os.getloadavg()[0], 2)))
        log(format_report(reports["splink"]))
    return reports, extra


#: whether to run the Splink peer on DBLP-ACM (``--no-splink`` turns it off)
SPLINK = [True]


def splink_report(dataset: AlignmentDataset, candidates: CandidatePairs, seed: int):
    """Splink (bench/peer_splink.py's model: Fellegi-Sunter, EM, its own blocking) judged by the same harness.

    In this process, seeded like the rest of the seed; a TEST pair Splink's blocking never
    compared scores 0. Returns (report, seconds to train and predict).
    """
    from peer_splink import _predictions_to_scorer, run_splink

    start = time.perf_counter()
    predictions, _ = run_splink(u_max_pairs=1e6, seed=seed)
    seconds = time.perf_counter() - start
    return evaluate(dataset, candidates, _predictions_to_scorer("splink", predictions, dataset), split=Split.TEST), seconds


def reliability_records(name, dataset, candidates, universe, probability, keys, seed) -> list[dict]:
    """Predicted against observed match rate on the TEST pairs judged, in 10 equal-width bins."""
    pairs = evaluation_pairs(dataset, candidates, Split.TEST)
    position = np.searchsorted(keys, pair_keys(pairs.left, pairs.right, dataset.right.n_entities))
    predicted = probability[position]
    bins = np.minimum((predicted * 10).astype(int), 9)
    out = []
    for b in range(10):
        sel = bins == b
        if sel.any():
            out.append(record(name, "mualign", f"reliability[{b / 10:.1f}-{(b + 1) / 10:.1f}]",
                              round(float(pairs.label[sel].mean()), 5), "observed match rate", seed,
                              predicted=round(float(predicted[sel].mean()), 5), n_pairs=int(sel.sum())))
    return out


# --------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------


def summarise(name: str, method: str, reports: list, echo: bool = True) -> list[dict]:
    records = []
    scopes = [("all", [r.overall for r in reports])] + [
        (t, [dict(r.per_type)[t] for r in reports]) for t, _ in reports[0].per_type]
    for scope, sets in scopes:
        parts = []
        for metric in METRICS:
            values = [getattr(m, metric) for m in sets]
            if any(v is None for v in values):
                continue
            parts.append(f"{metric}={np.mean(values):.4f}±{np.std(values):.4f}")
            for seed, value in zip(SEEDS, values):
                records.append(record(name, method, f"{metric}[{scope}]", round(float(value), 5), "ratio", seed))
        if parts and echo:
            print(f"dataset={name} method={method} type={scope} seeds={len(sets)} " + " ".join(parts), flush=True)
    return records


SEEDS: list[int] = [0, 1, 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", default=[d for d in DATASETS if d not in DBP15K_DATASETS],
                        choices=list(DATASETS), help="default: every dataset but DBP15K's")
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=20, help="CG-MuAlign epochs (0: no GNN)")
    parser.add_argument("--out", default="quality_matcher")
    parser.add_argument("--verbose", action="store_true", help="print every evaluation table")
    parser.add_argument("--no-ablation", action="store_true", help="skip the ablation's fits (big data)")
    parser.add_argument("--no-magellan", action="store_true", help="skip the magellan-rf peer")
    parser.add_argument("--no-splink", action="store_true",
                        help="skip the Splink peer on DBLP-ACM (needs the bench extra: pip install -e '.[bench]')")
    args = parser.parse_args()
    SEEDS[:] = args.seeds
    SPLINK[0] = not args.no_splink
    log = print if args.verbose else (lambda *_: None)
    records = [record("host", "host", "cpu_count", os.cpu_count(), "cores")]
    for name in args.datasets:
        spec = DATASETS[name]
        dataset = spec.load()
        candidates, report = block(dataset, spec.blocking)
        if spec.candidates is not None:
            candidates = spec.candidates(dataset, candidates)
        print(f"\n## dataset={name} candidates={len(candidates):,} pair_completeness={report.pair_completeness} "
              f"load={os.getloadavg()[0]:.1f}", flush=True)
        by_method: dict[str, list] = {}
        for seed in args.seeds:
            reports, extra = run_seed(name, spec, dataset, candidates, seed, args.epochs, log,
                                      ablation=not args.no_ablation, magellan=not args.no_magellan)
            records += extra
            for method, report in reports.items():
                by_method.setdefault(method, []).append(report)
            for method, report in reports.items():
                m = report.overall
                print(f"  seed {seed} {method}: hit_at_1={m.hit_at_1} hit_at_10={m.hit_at_10} mrr={m.mrr} f1={m.f1:.4f}",
                      flush=True)
            print(f"  seed {seed} done, load {os.getloadavg()[0]:.1f}", flush=True)
            # the seeds so far, so that a long run that stops keeps what it measured
            write_results(args.out, records + [r for method, reports in by_method.items()
                                               for r in summarise(name, method, reports, echo=False)])
        for method, reports in by_method.items():
            records += summarise(name, method, reports)
        fits = (x for x in records if (x["dataset"], x["method"], x["metric"]) == (name, "mualign", "fit_seconds"))
        for r in fits:  # splink's fit_seconds record has no beyond-GNN figure
            print(f"dataset={name} mualign fit_seconds={r['value']} beyond_gnn={r['fit_seconds_beyond_gnn']} "
                  f"load_average={r['load_average_1min']} seed={r['seed']}")
        write_results(args.out, records)
    print(f"\nwrote {len(records)} records to bench/results/{args.out}.json")


if __name__ == "__main__":
    main()
