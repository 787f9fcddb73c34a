"""Pair completeness of name vs structure vs union candidates on DBP15K FR-EN (three name settings).

    python bench/structural_candidates.py                       # structure top-k 10 and 50
    python bench/structural_candidates.py --structure-top-k 10  # one setting

For each name setting of :func:`core.formats.dbp15k.load_dbp15k` (``uri``: the URIs' local
names; ``translated``: ZeroEA's English names for KG1; ``ids``: every name replaced by its id,
structure only), block with the project's default blocking (name top-20 + structure top-k over
the TRAIN links) and print, per source, the pairs proposed and the pair completeness on all
15,000 links and on the held-out ones (the 10,950 VALID + TEST links: the TRAIN links are the
anchors, which the structure source finds trivially). Time with the 1-minute load average.
Records go to ``bench/results/structural_candidates.json``.

The table :data:`DBP15K_DATASETS` names the three settings as bench/quality_matcher.py's dataset
rows need them (a loader and a blocking config), so that script can import them.
"""

from __future__ import annotations

import argparse
import os
import time

from _common import load_benchmark, record, write_results

from core.blocking.name_blocking import BlockingConfig, block

#: name of the dataset row -> load_dbp15k's ``names`` option
NAME_SETTINGS = {"dbp15k_fr_en": "uri", "dbp15k_fr_en_translated": "translated", "dbp15k_fr_en_structure": "ids"}
#: the default blocking: names top 20, structure top 10
DEFAULT_BLOCKING = BlockingConfig(top_k=20, structure_top_k=10)


def dbp15k_loader(names: str):
    """A no-argument loader of DBP15K FR-EN with that name setting (JAPE split)."""
    return lambda: load_benchmark("dbp15k_fr_en", names=names)


#: dataset name -> (loader, blocking config): rows for bench/quality_matcher.py's table
DBP15K_DATASETS = {name: (dbp15k_loader(names), DEFAULT_BLOCKING) for name, names in NAME_SETTINGS.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--structure-top-k", type=int, nargs="*", default=[10, 50])
    parser.add_argument("--datasets", nargs="*", default=list(NAME_SETTINGS), choices=list(NAME_SETTINGS))
    args = parser.parse_args()
    records = []
    for name in args.datasets:
        dataset = load_benchmark("dbp15k_fr_en", names=NAME_SETTINGS[name])
        for top_k in args.structure_top_k:
            config = BlockingConfig(top_k=DEFAULT_BLOCKING.top_k, structure_top_k=top_k)
            load_before = os.getloadavg()[0]
            start = time.perf_counter()
            candidates, report = block(dataset, config)
            seconds = time.perf_counter() - start
            load = round((load_before + os.getloadavg()[0]) / 2, 2)
            method = f"name-top{config.top_k}+structure-top{top_k}"
            print(f"dataset={name} name_top_k={config.top_k} structure_top_k={top_k} seconds={seconds:.1f} "
                  f"load_average_1min={load}", flush=True)
            for source in (*report.source_names, "union"):
                if source == "union":
                    pairs, pc, held = report.n_candidates, report.pair_completeness, report.held_out_completeness
                else:
                    pairs = report.source_candidates(source)
                    pc = report.source_completeness(source)
                    held = report.source_completeness(source, held_out=True)
                print(f"  source={source:<10} pairs={pairs:>9,} pair_completeness={pc:.4f} "
                      f"held_out_completeness={held:.4f}", flush=True)
                common = dict(source=source, name_top_k=config.top_k, structure_top_k=top_k)
                records += [record(name, method, "pairs", pairs, "pairs", None, **common),
                            record(name, method, "pair_completeness", round(pc, 5), "ratio", None, **common),
                            record(name, method, "held_out_pair_completeness", round(held, 5), "ratio", None,
                                   **common)]
            records.append(record(name, method, "blocking_seconds", round(seconds, 2), "s", None,
                                  load_average_1min=load, structure_top_k=top_k))
    path = write_results("structural_candidates", records)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
