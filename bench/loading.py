"""Speed and memory of the importers on the shared datasets (core.formats.tables, core.formats.dbp15k).

    python bench/loading.py                  # dblp_acm, itunes_amazon, dbp15k_fr_en; 3 loads each
    python bench/loading.py --repeats 5 --datasets dbp15k_fr_en

Each dataset loads in a fresh child process, so its peak RSS is its own: the interpreter and the
imports (numpy, pandas) plus the load. ``baseline_rss_mb`` is the child's RSS after the imports
and before the first load, so ``peak - baseline`` is roughly what loading costs. The clock runs
only around the loader call, which reads, validates and builds both graphs and the links.
Target (issue brief): loading both DBP15K sides takes a few seconds at most.

Prints one line per dataset:
    dataset=dbp15k_fr_en method=load seconds=0.85 ± 0.02 (min 0.83, n=3) peak_rss_mb=260 baseline_rss_mb=120
and writes bench/results/loading.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from _common import REPO, load_benchmark, peak_rss_mb, record, write_results

DATASETS = ("dblp_acm", "itunes_amazon", "dbp15k_fr_en")


def run_one(dataset: str, repeats: int) -> dict:
    """Load ``repeats`` times in this process; the parent reads the JSON this prints."""
    import core.formats.dbp15k  # noqa: F401  imported before the clock starts
    import core.formats.tables  # noqa: F401

    baseline = peak_rss_mb()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        loaded = load_benchmark(dataset)
        seconds.append(time.perf_counter() - start)
    return {"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "baseline_rss_mb": baseline,
            "left_entities": loaded.left.n_entities, "right_entities": loaded.right.n_entities,
            "left_triples": loaded.left.n_triples, "right_triples": loaded.right.n_triples,
            "links": len(loaded.links)}


def measure(dataset: str, repeats: int) -> dict:
    child = subprocess.run([sys.executable, __file__, "--one", dataset, "--repeats", str(repeats)],
                           capture_output=True, text=True, cwd=REPO)
    if child.returncode != 0:
        raise RuntimeError(f"loading {dataset} failed:\n{child.stderr}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--repeats", type=int, default=3, help="loads per dataset (default 3)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child mode: load one dataset, print JSON
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.repeats)))
        return
    records = []
    for dataset in args.datasets:
        out = measure(dataset, args.repeats)
        times = out["seconds"]
        mean, std = statistics.fmean(times), (statistics.stdev(times) if len(times) > 1 else 0.0)
        print(f"dataset={dataset} method=load seconds={mean:.2f} ± {std:.2f} (min {min(times):.2f}, n={len(times)}) "
              f"peak_rss_mb={out['peak_rss_mb']:.0f} baseline_rss_mb={out['baseline_rss_mb']:.0f} "
              f"entities={out['left_entities']}/{out['right_entities']} "
              f"triples={out['left_triples']}/{out['right_triples']} links={out['links']}")
        records += [
            record(dataset, "load", "seconds_mean", round(mean, 4), "s"),
            record(dataset, "load", "seconds_std", round(std, 4), "s"),
            record(dataset, "load", "seconds_min", round(min(times), 4), "s"),
            record(dataset, "load", "peak_rss_mb", round(out["peak_rss_mb"], 1), "MB"),
            record(dataset, "load", "baseline_rss_mb", round(out["baseline_rss_mb"], 1), "MB"),
            record(dataset, "load", "entities_left", out["left_entities"], "entities"),
            record(dataset, "load", "entities_right", out["right_entities"], "entities"),
            record(dataset, "load", "triples_left", out["left_triples"], "triples"),
            record(dataset, "load", "triples_right", out["right_triples"], "triples"),
            record(dataset, "load", "links", out["links"], "links"),
        ]
    path = write_results("loading", records)
    print(f"wrote {len(records)} records to {path}")


if __name__ == "__main__":
    main()
