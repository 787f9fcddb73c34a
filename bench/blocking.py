"""Blocking quality and speed: pair completeness, reduction ratio, candidates per entity, wall time.

    python bench/blocking.py                 # the three shared datasets and the 100K generated pair
    python bench/blocking.py --skip-large    # without the 100K pair

Targets (issue 3): pair completeness >= 0.99 on dblp_acm and >= 0.95 on dbp15k_fr_en with <= 50
candidates per left entity; the 100K-entities-per-side generated pair blocks in <= 60 s.
"""

from __future__ import annotations

import argparse
import time

from _common import load_benchmark, peak_rss_mb, record, write_results

from core.blocking.name_blocking import BlockingConfig, block
from core.blocking.report_text import format_blocking_report

RUNS = [
    # (dataset, loader options, blocking config)
    ("dblp_acm", {}, BlockingConfig(top_k=20)),
    ("dblp_acm", {}, BlockingConfig(top_k=50)),
    ("dblp_acm", {}, BlockingConfig(top_k=20, keys=(("paper", "year"),))),
    ("itunes_amazon", {}, BlockingConfig(top_k=20)),
    ("itunes_amazon", {}, BlockingConfig(top_k=50)),
    ("dbp15k_fr_en", {}, BlockingConfig(top_k=20)),
    ("dbp15k_fr_en", {}, BlockingConfig(top_k=50)),
    ("dbp15k_fr_en", {"names": "translated"}, BlockingConfig(top_k=50)),
]


def describe(config: BlockingConfig, options: dict) -> str:
    keys = ",".join(f"{t}={a}" for t, a in config.keys)
    extra = ",".join(f"{k}={v}" for k, v in options.items())
    return f"tfidf-char{config.ngram_range[0]}{config.ngram_range[1]}-top{config.top_k}" + \
        (f"+key[{keys}]" if keys else "") + (f"+{extra}" if extra else "")


def measure(name: str, dataset, config: BlockingConfig, options: dict) -> list[dict]:
    start = time.perf_counter()
    _, report = block(dataset, config)
    seconds = time.perf_counter() - start
    method = describe(config, options)
    print(f"\n## dataset={name} method={method}")
    print(format_blocking_report(report))
    records = []
    for s in report.per_type:
        line = (f"dataset={name} method={method} type={s.type} pair_completeness="
                f"{'-' if s.pair_completeness is None else f'{s.pair_completeness:.4f}'} "
                f"reduction_ratio={s.reduction_ratio:.5f} candidates_per_left={s.candidates_per_left:.2f} "
                f"max_per_left={s.max_candidates_per_left} seconds={s.seconds:.2f}")
        print(line)
        if s.pair_completeness is not None:
            records.append(record(name, method, f"pair_completeness[{s.type}]", round(s.pair_completeness, 5), "ratio"))
        records += [record(name, method, f"reduction_ratio[{s.type}]", round(s.reduction_ratio, 6), "ratio"),
                    record(name, method, f"candidates_per_left[{s.type}]", round(s.candidates_per_left, 3), "pairs"),
                    record(name, method, f"max_candidates_per_left[{s.type}]", s.max_candidates_per_left, "pairs")]
    print(f"dataset={name} method={method} seconds={seconds:.2f} peak_rss_mb={peak_rss_mb():.0f}")
    records.append(record(name, method, "blocking_seconds", round(seconds, 3), "s"))
    if report.pair_completeness is not None:
        records.append(record(name, method, "pair_completeness[all]", round(report.pair_completeness, 5), "ratio"))
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-large", action="store_true", help="skip the 100K-per-side generated pair")
    parser.add_argument("--large-films", type=int, default=0,
                        help="films in the generated pair (default: sized to ~100K entities per side)")
    args = parser.parse_args()
    records, cache = [], {}
    for name, options, config in RUNS:
        key = (name, tuple(sorted(options.items())))
        if key not in cache:
            start = time.perf_counter()
            cache[key] = load_benchmark(name, **options)
            print(f"loaded {name} {options} in {time.perf_counter() - start:.1f}s")
        records += measure(name, cache[key], config, options)
    if not args.skip_large:
        from core.demo.movies import generate_movie_pair

        films = args.large_films or films_for_entities(100_000)
        start = time.perf_counter()
        dataset = generate_movie_pair(n_films=films, seed=0).dataset
        print(f"\ngenerated movie pair: films={films} left={dataset.left.n_entities:,} "
              f"right={dataset.right.n_entities:,} entities in {time.perf_counter() - start:.1f}s")
        name = f"generated_movies_{dataset.left.n_entities // 1000}k"
        records += measure(name, dataset, BlockingConfig(top_k=20), {})
    path = write_results("blocking", records)
    print(f"\nwrote {len(records)} records to {path}")


def films_for_entities(target: int) -> int:
    """How many films give about ``target`` entities per side (measured on a small pair)."""
    from core.demo.movies import generate_movie_pair

    probe = generate_movie_pair(n_films=2000, seed=0).dataset
    return max(100, int(2000 * target / probe.left.n_entities))


if __name__ == "__main__":
    main()
