"""The matcher at scale: ``mualign`` commands on a big project, each timed with its own peak memory.

Why: the matcher fits on TRAIN/VALID rows and the other candidates of their entities, and scores
every candidate; on a 300K-entity side (8.9M candidates) its 80 float64 columns alone are 5.3
GiB, and before the fit sampled and the pair products were chunked, ``mualign train`` died
there with MemoryError. This runs the commands a user types, as child processes, and records
per command its wall and CPU seconds and its own peak RSS (``os.wait4``), the load average, and
what the version says about the fit (the sample it took, VALID and TEST figures).

    python bench/scale.py --entities 300000 --stages load     # the project, once (/tmp/mualign-scale)
    mualign block --project /tmp/mualign-scale/movies-300000  # once
    python bench/scale_matcher.py --project /tmp/mualign-scale/movies-300000 --commands train score evaluate

Writes bench/results/scale_matcher.json (``--results NAME`` to change).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from _common import record, run_child, write_results

COMMANDS = {
    "train": lambda mualign, project, epochs: [mualign, "train", "--project", project, "--epochs", str(epochs)],
    "score": lambda mualign, project, epochs: [mualign, "score", "--project", project, "--force"],
    "evaluate": lambda mualign, project, epochs: [mualign, "evaluate", "--project", project],
}


def version_summary(project: Path) -> dict:
    """The active version's matcher figures: its fit sample, VALID F1 and the TEST figures train stored."""
    from core.project.model_versions import active_version, version_info

    version = active_version(project)
    info = version_info(project, version) if version else {}
    describe = info.get("describe", {})
    return {"version": version, "fit_sample": describe.get("fit_sample"), "valid_f1": describe.get("valid_f1"),
            "test_f1": info.get("test_f1"), "test_decided_f1": info.get("test_decided_f1"),
            "test_pr_auc": info.get("test_pr_auc"), "fit_seconds": info.get("fit_seconds")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--commands", nargs="+", default=["train", "score", "evaluate"], choices=list(COMMANDS))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--results", default="scale_matcher")
    args = parser.parse_args()
    mualign = str(Path(sys.executable).with_name("mualign"))
    name = args.project.name
    candidates = sum(1 for _ in open(args.project / "candidates.tsv")) - 1
    print(f"{name}: {candidates:,} candidates; load average {os.getloadavg()[0]:.2f}", flush=True)
    records = [record(name, "project", "candidates", candidates, "pairs")]
    logs = Path("/tmp") / f"scale_matcher-{name}"
    logs.mkdir(exist_ok=True)
    for command in args.commands:
        out = run_child(COMMANDS[command](mualign, str(args.project), args.epochs), logs / command)
        print(f"  {command}: wall {out['wall_s']:.1f} s, CPU {out['cpu_s']:.1f} s, peak RSS "
              f"{out['peak_rss_mb']:.0f} MB, exit {out['exit_code']}, load {out['load_before']:.2f} -> "
              f"{out['load_after']:.2f}", flush=True)
        for metric, unit in (("wall_s", "s"), ("cpu_s", "s"), ("peak_rss_mb", "MB"), ("exit_code", "code")):
            records.append(record(name, f"mualign {command}", metric, round(out[metric], 2), unit, 0,
                                  load_before=round(out["load_before"], 2), load_after=round(out["load_after"], 2)))
        if out["exit_code"]:
            print((logs / command).with_suffix(".err").read_text()[-3000:], flush=True)
            break
        tail = [line for line in (logs / command).with_suffix(".out").read_text().splitlines() if line.strip()][-12:]
        print("    " + "\n    ".join(tail), flush=True)
    summary = version_summary(args.project)
    print(f"  version: {summary}", flush=True)
    for key in ("valid_f1", "test_f1", "test_decided_f1", "test_pr_auc"):
        if summary.get(key) is not None:
            records.append(record(name, "mualign matcher", key, round(float(summary[key]), 4), "ratio", 0))
    if summary.get("fit_sample"):
        records.append(record(name, "mualign matcher", "fit_sample_fraction", summary["fit_sample"]["fraction"],
                              "ratio", 0, fit_sample=summary["fit_sample"]))
    print(f"wrote {write_results(args.results, records)}")


if __name__ == "__main__":
    main()
