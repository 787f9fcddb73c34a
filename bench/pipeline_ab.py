"""Two checkouts' DBLP-ACM pipelines, run alternately: did a change cut CPU time?

    git worktree add /tmp/base <commit>                      # the code to compare against
    .venv/bin/python bench/pipeline_ab.py --base /tmp/base --runs 4

Each run is the five commands a user types (``mualign import tables``, ``block``, ``train``,
``score``, ``evaluate``) on a fresh project directory, each a child process; CPU seconds are the
children's user + system time (``RUSAGE_CHILDREN``). ``base`` runs the other checkout's code
(``PYTHONPATH`` put ahead of this venv's editable install), ``new`` this one, alternately, so a
slow spell of the machine falls on both. On this shared 2-core machine one run's CPU seconds
vary by 10-15%, which is why a single ``peer_splink.py`` run cannot show a 10% gain.

Prints one line per run and the means; writes ``bench/results/NAME.json`` (methods ``base`` and
``new``, metric ``cpu_seconds[<command>]`` and ``cpu_seconds``, one record per run, ``seed`` the
run index) and the F1 that ``mualign evaluate`` printed.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, record, write_results  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DATA = SHARED_DATA / "dblp_acm"
CODE = "import sys; from cli.main import main; sys.argv = ['mualign'] + sys.argv[1:]; sys.exit(main())"


def run_command(root: Path, args: list[str]) -> tuple[float, str]:
    """(CPU seconds, stdout) of one ``mualign`` command run from checkout ``root``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, "-c", CODE, *args], cwd=root, capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(root)))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise RuntimeError(f"mualign {args[0]} from {root} failed:\n{out.stderr[-2000:]}")
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, out.stdout


def pipeline(root: Path, project: Path, seed: int) -> tuple[dict[str, float], float]:
    """CPU seconds per command and the matcher's TEST F1 of one whole pipeline."""
    steps: dict[str, float] = {}
    out = ""
    for step, args in (("import", ["import", "tables", str(DATA), "--project", str(project), "--mapping", "dblp_acm"]),
                       ("block", ["block", "--project", str(project)]),
                       ("train", ["train", "--project", str(project), "--seed", str(seed)]),
                       ("score", ["score", "--project", str(project)]),
                       ("evaluate", ["evaluate", "--project", str(project)])):
        steps[step], out = run_command(root, args)
    header = next(line for line in out.splitlines() if line.startswith("type"))
    overall = [line for line in out.splitlines() if line.startswith("ALL")][-1]
    f1 = float(overall.split()[header.split().index("F1")])
    return steps, f1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, required=True, help="the other checkout (a git worktree)")
    parser.add_argument("--runs", type=int, default=4, help="pairs of runs (default 4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", default="pipeline_ab")
    args = parser.parse_args()
    records, totals = [], {"base": [], "new": []}
    with tempfile.TemporaryDirectory(prefix="pipeline_ab-") as work:
        for run in range(args.runs):
            for name, root in (("base", args.base.resolve()), ("new", REPO)):
                project = Path(work) / name
                shutil.rmtree(project, ignore_errors=True)
                steps, f1 = pipeline(root, project, args.seed)
                total = sum(steps.values())
                totals[name].append(total)
                load = round(os.getloadavg()[0], 2)
                print(f"run={run} code={name} cpu_s={total:.1f} " + " ".join(f"{k}={v:.1f}" for k, v in steps.items())
                      + f" f1={f1:.4f} load={load}", flush=True)
                records.append(record("dblp_acm", name, "cpu_seconds", round(total, 2), "s", run,
                                      load_average_1min=load))
                records.append(record("dblp_acm", name, "f1", round(f1, 4), "ratio", run))
                records.extend(record("dblp_acm", name, f"cpu_seconds[{k}]", round(v, 2), "s", run)
                               for k, v in steps.items())
    for name, values in totals.items():
        print(f"{name}: mean {sum(values) / len(values):.1f} CPU-s over {len(values)} runs")
    write_results(args.results, records)


if __name__ == "__main__":
    main()
