"""Speed and memory of the demo-data generator (core.demo.movies, core.demo.music).

    python bench/generate.py                          # 1K, 10K, 100K entities per side, both pairs
    python bench/generate.py --entities 1350000 --results generate_large   # ~2.7M nodes in all
    python bench/generate.py --write                  # also time save_project to a temp directory

Each (pair, size) runs in a fresh child process, so its peak RSS is its own (imports included).
Sizes are given in entities per side; the number of films/songs is derived from a small probe
(about 11.5 entities per film and 1.6 per song). Target (issue brief): about 100,000 entities per
side in under ~20 s; ~2.7M nodes feasible (minutes, a few GB).

Prints one line per run:
    dataset=demo_movies entities_per_side=103415 seconds=0.63 peak_rss_mb=412
and writes bench/results/generate.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, peak_rss_mb, record, write_results

GENERATORS = {"demo_movies": ("core.demo.movies", "generate_movie_pair"),
              "demo_music": ("core.demo.music", "generate_music_pair")}
PROBE_SIZE = 2000


def _generator(dataset: str):
    module, function = GENERATORS[dataset]
    return getattr(__import__(module, fromlist=[function]), function)


def entities_per_unit(dataset: str, seed: int) -> float:
    """Entities per side per film (or song), measured on a probe of ``PROBE_SIZE`` units."""
    pair = _generator(dataset)(PROBE_SIZE, seed=seed)
    return (pair.dataset.left.n_entities + pair.dataset.right.n_entities) / 2 / PROBE_SIZE


def run_one(dataset: str, units: int, seed: int, write: bool) -> dict:
    """Generate once in this process; the parent reads the JSON this prints."""
    generate = _generator(dataset)  # imported before the clock starts
    start = time.perf_counter()
    pair = generate(units, seed=seed)
    seconds = time.perf_counter() - start
    out = {"units": units, "seconds": seconds,
           "left": pair.dataset.left.n_entities, "right": pair.dataset.right.n_entities,
           "left_triples": pair.dataset.left.n_triples, "right_triples": pair.dataset.right.n_triples,
           "links": len(pair.dataset.links)}
    if write:
        from core.formats.native import save_project

        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            save_project(pair.dataset, Path(tmp) / dataset)
            out["write_seconds"] = time.perf_counter() - start
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def measure(dataset: str, units: int, seed: int, write: bool) -> dict:
    child = subprocess.run([sys.executable, __file__, "--one", dataset, str(units), "--seed", str(seed)]
                           + (["--write"] if write else []),
                           capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(child.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entities", type=int, nargs="*", default=[1_000, 10_000, 100_000],
                        help="target entities per side (default: 1000 10000 100000)")
    parser.add_argument("--datasets", nargs="*", default=list(GENERATORS), choices=list(GENERATORS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true", help="also time save_project")
    parser.add_argument("--results", default="generate", help="results file name under bench/results/")
    parser.add_argument("--one", nargs=2, metavar=("DATASET", "UNITS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]), args.seed, args.write)))
        return

    records = []
    for dataset in args.datasets:
        per_unit = entities_per_unit(dataset, args.seed)
        for target in args.entities:
            units = max(20, round(target / per_unit))
            r = measure(dataset, units, args.seed, args.write)
            per_side = round((r["left"] + r["right"]) / 2)
            method = f"{GENERATORS[dataset][1]}({units})"
            line = (f"dataset={dataset} entities_per_side={per_side} seconds={r['seconds']:.2f} "
                    f"peak_rss_mb={r['peak_rss_mb']:.0f} units={units} left={r['left']} right={r['right']} "
                    f"triples_per_side={round((r['left_triples'] + r['right_triples']) / 2)} links={r['links']}")
            if "write_seconds" in r:
                line += f" write_seconds={r['write_seconds']:.2f}"
            print(line, flush=True)
            records += [record(dataset, method, "seconds", round(r["seconds"], 3), "s", args.seed),
                        record(dataset, method, "peak_rss_mb", round(r["peak_rss_mb"], 1), "MB", args.seed),
                        record(dataset, method, "entities_per_side", per_side, "entities", args.seed),
                        record(dataset, method, "links", r["links"], "pairs", args.seed)]
            if "write_seconds" in r:
                records.append(record(dataset, method, "write_seconds", round(r["write_seconds"], 3), "s", args.seed))
    path = write_results(args.results, records)
    print(f"wrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
