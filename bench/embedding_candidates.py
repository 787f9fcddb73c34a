"""Candidates from the trained model's embeddings (issue 15 item 3): pair completeness per source.

    python bench/embedding_candidates.py                                  # dblp_acm itunes_amazon demo_movies
    python bench/embedding_candidates.py --datasets dbp15k_fr_en --epochs 3 --embedding-top-k 10 50

Per dataset: block with the project's default blocking (names top 20, structure top 10 over the
TRAIN links), train CG-MuAlign (the default TrainConfig, ``--epochs`` at most, early stopping on
VALID) on those candidates, take every aligned entity's vector with no counterpart
(:func:`core.scoring.model_scorer.aligned_embeddings`, cross-graph attention uniform) and block
again with the embedding source (``embedding_top_k`` each of ``--embedding-top-k``). Printed and
recorded per source (name, structure, embedding, union): pairs proposed, and pair completeness on
all known matches and on the *held-out* ones (matches that are not TRAIN anchors; the model was
trained on the TRAIN links, so those are the ones that say whether embeddings find new matches).
Times with the 1-minute load average. Records: ``bench/results/embedding_candidates.json``.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace

from _common import load_benchmark, record, write_results

from core.blocking.name_blocking import BlockingConfig, block

DATASETS = {
    "dblp_acm": lambda: load_benchmark("dblp_acm"),
    "itunes_amazon": lambda: load_benchmark("itunes_amazon"),
    "dbp15k_fr_en": lambda: load_benchmark("dbp15k_fr_en", names="uri"),
    "dbp15k_fr_en_structure": lambda: load_benchmark("dbp15k_fr_en", names="ids"),
}


def _demo_movies():
    from core.demo.movies import generate_movie_pair

    return generate_movie_pair(300, seed=0).dataset


DATASETS["demo_movies"] = _demo_movies


def completeness(report) -> dict[str, tuple[int, int, int, int, int]]:
    """source -> (pairs, gold kept, gold, held-out kept, held-out) summed over the types."""
    out: dict[str, list[int]] = {}
    for stats in report.per_type:
        gold, held_out = stats.n_gold, stats.n_held_out
        rows = [(s.source, s.n_candidates, s.gold_kept, s.held_out_kept) for s in (stats.sources or ())]
        rows.append(("union", stats.n_candidates, stats.gold_kept, stats.held_out_kept))
        for source, pairs, kept, held_kept in rows:
            acc = out.setdefault(source, [0, 0, 0, 0, 0])
            for i, v in enumerate((pairs, kept, gold, held_kept, held_out)):
                acc[i] += int(v or 0)
    return {k: tuple(v) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", default=["dblp_acm", "itunes_amazon", "demo_movies"],
                        choices=list(DATASETS))
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--embedding-top-k", type=int, nargs="*", default=[10])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="embedding_candidates")
    args = parser.parse_args()
    from core.model.cg_mualign import ModelConfig
    from core.model.setup import build_setup
    from core.scoring.model_scorer import aligned_embeddings
    from core.training.loop import TrainConfig, train

    records = []
    for name in args.datasets:
        dataset = DATASETS[name]()
        config = BlockingConfig(top_k=20)
        candidates, report = block(dataset, config)
        start, load = time.perf_counter(), os.getloadavg()[0]
        model_config = ModelConfig.variant("cg-mualign")
        trained = train(build_setup(dataset, model_config), model_config,
                        TrainConfig(epochs=args.epochs, seed=args.seed), candidates=candidates)
        train_seconds = time.perf_counter() - start
        start = time.perf_counter()
        embeddings = aligned_embeddings(trained.scorer, dataset)
        embed_seconds = time.perf_counter() - start
        print(f"\n## {name}: trained {train_seconds:.0f} s ({args.epochs} epochs at most), embeddings of "
              f"{len(embeddings[0]) + len(embeddings[1]):,} entities in {embed_seconds:.1f} s "
              f"(load {load:.1f} -> {os.getloadavg()[0]:.1f})", flush=True)
        records.append(record(name, "embedding", "embedding_seconds", round(embed_seconds, 2), "s", args.seed,
                              load_average_1min=round(os.getloadavg()[0], 2), epochs=args.epochs))
        settings = [(0, report)]
        for k in args.embedding_top_k:
            start = time.perf_counter()
            _, with_embeddings = block(dataset, replace(config, embedding_top_k=k), embeddings=embeddings)
            settings.append((k, with_embeddings))
            records.append(record(name, "blocking", "blocking_seconds", round(time.perf_counter() - start, 2), "s",
                                  args.seed, embedding_top_k=k, load_average_1min=round(os.getloadavg()[0], 2)))
        for k, rep in settings:
            for source, (pairs, kept, gold, held_kept, held_out) in completeness(rep).items():
                if k and source in ("name", "structure"):
                    continue  # the same as without embeddings
                label = f"{source}" if source != "union" else f"union (embedding top-{k})" if k else "union (names + structure)"
                pc = kept / gold if gold else float("nan")
                held = held_kept / held_out if held_out else float("nan")
                print(f"  {label:32s} pairs {pairs:>10,}  completeness {pc:.4f}  held-out {held:.4f} ({held_kept}/{held_out})")
                for metric, value in (("pair_completeness", pc), ("held_out_completeness", held)):
                    records.append(record(name, source, metric, round(value, 5), "ratio", args.seed, embedding_top_k=k,
                                          pairs=pairs, epochs=args.epochs))
    print(f"wrote {write_results(args.out, records)}")


if __name__ == "__main__":
    main()
