"""Name-only baselines on the test splits: the floor the GNN must beat.

    python bench/baseline.py

For each dataset: block (top-k name candidates), then score with ``name-tfidf`` (TF-IDF cosine,
no training) and ``name-logreg`` (logistic regression on name similarities, trained on TRAIN),
threshold chosen on VALID, metrics on TEST; for DBP15K also the KG protocol (Hits@1/10, MRR over
all right entities). Deterministic (no random state besides the seeded split of the demo data).
"""

from __future__ import annotations

import argparse
import time

from _common import load_benchmark, peak_rss_mb, record, write_results

from core.blocking.name_blocking import BlockingConfig, block
from core.evaluation.harness import evaluate, format_report
from core.data.links import Split
from core.project.lifecycle import METHODS, make_scorer

RUNS = [
    ("dblp_acm", {}, BlockingConfig(top_k=20)),
    ("itunes_amazon", {}, BlockingConfig(top_k=20)),
    ("itunes_amazon_dedup", {"dedup": "cg_mualign"}, BlockingConfig(top_k=20)),
    ("dbp15k_fr_en", {}, BlockingConfig(top_k=50)),
    ("dbp15k_fr_en_translated", {"names": "translated"}, BlockingConfig(top_k=50)),
]


def run(name: str, dataset, config: BlockingConfig, *, kg_protocol: bool) -> list[dict]:
    candidates, blocking = block(dataset, config)
    records = []
    for method in METHODS:
        start = time.perf_counter()
        scorer = make_scorer(method, dataset, candidates, config=config)
        report = evaluate(dataset, candidates, scorer, split=Split.TEST,
                          kg_protocol=kg_protocol and hasattr(scorer, "score_matrix"))
        seconds = time.perf_counter() - start
        print(f"\n## dataset={name} method={method} seconds={seconds:.1f} peak_rss_mb={peak_rss_mb():.0f}")
        print(format_report(report))
        m = report.overall
        print(f"dataset={name} method={method} split=test PRAUC={m.pr_auc:.4f} F1={m.f1 if m.f1 is None else round(m.f1, 4)} "
              f"Rec@P95={m.recall_at_p95:.4f} Hit@1={m.hit_at_1:.4f} MRR={m.mrr:.4f}")
        for r in report.to_records(dataset=name, seed=None, command=""):
            records.append(record(r["dataset"], r["method"], r["metric"], r["value"], r["unit"], split=r["split"]))
        records.append(record(name, method, "fit_and_score_seconds", round(seconds, 2), "s"))
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="dataset names to run (default: all)")
    args = parser.parse_args()
    records = []
    for name, options, config in RUNS:
        if args.only and name not in args.only:
            continue
        dataset = load_benchmark(name.replace("_dedup", "").replace("_translated", ""), **options)
        records += run(name, dataset, config, kg_protocol=name.startswith("dbp15k"))
    if not args.only or "demo" in args.only:
        from core.demo.movies import generate_movie_pair
        from core.demo.music import generate_music_pair

        for name, pair in (("demo_movies", generate_movie_pair(seed=0)), ("demo_music", generate_music_pair(seed=0))):
            records += run(name, pair.dataset, BlockingConfig(top_k=20), kg_protocol=False)
    print(f"\nwrote {len(records)} records to {write_results('baseline', records)}")


if __name__ == "__main__":
    main()
