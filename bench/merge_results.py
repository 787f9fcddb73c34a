"""Merge the result files of several runs into one, later files replacing earlier records.

    python bench/merge_results.py --out quality_matcher quality_matcher_final quality_matcher_final_seeds12 ...

A figure is often measured in pieces (seed 0 with the ablation, seeds 1 and 2 without it, one
(dataset, seed) again after a fix). This writes the records the final table is made of into one
file: a record of a later file replaces an earlier record with the same dataset, method, metric
and seed, and each record keeps the command that measured it and names its source file.
"""

from __future__ import annotations

import argparse
import json

from _common import RESULTS, write_results


def merge(files: list[str]) -> list[dict]:
    """Records of ``files`` (names in bench/results, without .json), later ones replacing earlier."""
    merged: dict[tuple, dict] = {}
    for name in files:
        for record in json.loads((RESULTS / f"{name}.json").read_text()):
            key = (record.get("dataset"), record.get("method"), record.get("metric"), record.get("seed"))
            merged.pop(key, None)  # the later measurement, in its own run's order
            merged[key] = {**record, "source": f"{name}.json"}
    return list(merged.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="result names in bench/results (no .json), oldest first")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    records = merge(args.files)
    print(f"wrote {len(records)} records from {len(args.files)} files to {write_results(args.out, records)}")


if __name__ == "__main__":
    main()
