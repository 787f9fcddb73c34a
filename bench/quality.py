"""Alignment quality: CG-MuAlign, its ablations and the name-only baselines, over several seeds.

    python bench/quality.py                                   # every dataset, every variant, 3 seeds
    python bench/quality.py --datasets demo_music --variants cg-mualign --seeds 0 --epochs 5

Prints, per dataset and method, mean +- std over seeds of PRAUC, F1 (threshold from VALID),
Rec@P95, Hit@1 and MRR on TEST (overall and per type), the KG protocol for DBP15K, training time
and parameter count; writes every figure to bench/results/quality.json.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import load_benchmark, peak_rss_mb, record, write_results

from core.blocking.name_blocking import BlockingConfig, block
from core.model.setup import build_setup
from core.evaluation.harness import evaluate, format_report
from core.data.links import Split
from core.model.cg_mualign import VARIANTS, ModelConfig
from core.project.lifecycle import METHODS, make_scorer
from core.training.loop import TrainConfig, train

DATASETS = {
    # name: (loader name, loader options, blocking config)
    "dblp_acm": ("dblp_acm", {}, BlockingConfig(top_k=20)),
    "itunes_amazon": ("itunes_amazon", {}, BlockingConfig(top_k=20)),
    "itunes_amazon_dedup": ("itunes_amazon", {"dedup": "cg_mualign"}, BlockingConfig(top_k=20)),
    "dbp15k_fr_en": ("dbp15k_fr_en", {}, BlockingConfig(top_k=50)),
    "demo_movies": ("demo_movies", {}, BlockingConfig(top_k=20)),
    "demo_music": ("demo_music", {}, BlockingConfig(top_k=20)),
}


def load(name: str):
    loader, options, _ = DATASETS[name]
    if loader == "demo_movies":
        from core.demo.movies import generate_movie_pair

        return generate_movie_pair(300, seed=0).dataset
    if loader == "demo_music":
        from core.demo.music import generate_music_pair

        return generate_music_pair(300, seed=0).dataset
    return load_benchmark(loader, **options)


METRICS = ("pr_auc", "f1", "recall_at_p95", "hit_at_1", "hit_at_10", "mrr")


def summarise(name: str, method: str, reports: list, seconds: list[float], params: int | None) -> list[dict]:
    records = []
    scopes = [("all", [r.overall for r in reports])] + [
        (t, [dict(r.per_type)[t] for r in reports]) for t, _ in reports[0].per_type]
    for scope, sets in scopes:
        parts = []
        for metric in METRICS:
            values = [getattr(m, metric) for m in sets]
            if any(v is None for v in values):
                continue
            mean, std = float(np.mean(values)), float(np.std(values))
            parts.append(f"{metric}={mean:.4f}±{std:.4f}")
            for seed, value in enumerate(values):
                records.append(record(name, method, f"{metric}[{scope}]", round(float(value), 5), "ratio", seed))
        print(f"dataset={name} method={method} type={scope} seeds={len(sets)} " + " ".join(parts))
    for k in range(len(reports[0].kg_ranking)):
        for metric in ("hits_at_1", "hits_at_10", "mrr"):
            values = [getattr(r.kg_ranking[k], metric) for r in reports]
            print(f"dataset={name} method={method} kg_protocol type={reports[0].kg_ranking[k].type} "
                  f"{metric}={np.mean(values):.4f}±{np.std(values):.4f}")
            records += [record(name, method, f"kg_{metric}", round(float(v), 5), "ratio", s) for s, v in enumerate(values)]
    if seconds:
        print(f"dataset={name} method={method} train_seconds={np.mean(seconds):.1f}±{np.std(seconds):.1f}"
              + (f" parameters={params:,}" if params else ""))
        records += [record(name, method, "train_seconds", round(s, 2), "s", seed) for seed, s in enumerate(seconds)]
        if params:
            records.append(record(name, method, "parameters", params, "count"))
    return records


def print_epoch(stats) -> None:
    valid = "-" if stats.valid_pr_auc is None else f"{stats.valid_pr_auc:.4f}"
    print(f"    epoch {stats.epoch} loss={stats.loss:.4f} valid_pr_auc={valid} "
          f"{stats.positives_per_second:.0f} pos/s{' *' if stats.is_best else ''}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS))
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
    parser.add_argument("--baselines", nargs="*", default=list(METHODS))
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--hard-negatives", type=float, default=0.0)
    parser.add_argument("--results", default="quality")
    parser.add_argument("--with-names", action="store_true",
                        help="also report each model combined with name similarities (core/scoring/stacking.py)")
    args = parser.parse_args()
    records = []
    for name in args.datasets:
        dataset = load(name)
        config = DATASETS[name][2]
        candidates, blocking = block(dataset, config)
        print(f"\n## dataset={name} candidates={len(candidates):,} pair_completeness={blocking.pair_completeness}")
        kg = name.startswith("dbp15k")
        for method in args.baselines:
            scorer = make_scorer(method, dataset, candidates, config=config)
            report = evaluate(dataset, candidates, scorer, split=Split.TEST, kg_protocol=kg and hasattr(scorer, "score_matrix"))
            records += summarise(name, method, [report], [], None)
        for variant in args.variants:
            reports, stacked_reports, seconds, params = [], [], [], None
            for seed in args.seeds:
                model_config = ModelConfig.variant(variant)
                setup = build_setup(dataset, model_config)
                start = time.perf_counter()
                result = train(setup, model_config, TrainConfig(epochs=args.epochs, patience=args.patience, seed=seed,
                                                                hard_negative_share=args.hard_negatives),
                               candidates=candidates, on_epoch=print_epoch)
                seconds.append(time.perf_counter() - start)
                params = sum(p.numel() for p in result.model.parameters())
                result.scorer.name = variant
                report = evaluate(dataset, candidates, result.scorer, split=Split.TEST)
                print(format_report(report))
                print(f"  seed={seed} best_epoch={result.best_epoch} seconds={seconds[-1]:.1f} "
                      f"peak_rss_mb={peak_rss_mb():.0f}", flush=True)
                reports.append(report)
                if args.with_names:
                    from core.scoring.stacking import NameAwareScorer

                    stacked = NameAwareScorer(result.scorer, candidates, name=f"{variant}+names", seed=seed)
                    stacked_reports.append(evaluate(dataset, candidates, stacked, split=Split.TEST))
                    print(format_report(stacked_reports[-1]), flush=True)
            records += summarise(name, variant, reports, seconds, params)
            if stacked_reports:
                records += summarise(name, f"{variant}+names", stacked_reports, [], None)
        write_results(args.results, records)
    print(f"\nwrote {len(records)} records to bench/results/{args.results}.json")


if __name__ == "__main__":
    main()
