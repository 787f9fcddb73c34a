"""One ``mualign`` command from two checkouts, run alternately on the same project: did a change cut its time?

    git worktree add /tmp/base <commit>
    python bench/scale.py --entities 100000 --stages load          # a project (/tmp/mualign-scale/movies-100000)
    mualign block --project /tmp/mualign-scale/movies-100000       # once, so the project has its caches
    python bench/command_ab.py --base /tmp/base --project /tmp/mualign-scale/movies-100000 \\
        --command block --clear-cache alignment --runs 2

Each run is a child process (``PYTHONPATH`` puts the checkout's code ahead of this venv's editable
install, as ``bench/pipeline_ab.py`` does); its wall seconds, CPU seconds (user and system apart),
peak RSS and minor page faults come from ``os.wait4`` (``_common.run_child``). ``--clear-cache NAME`` deletes the project's
``.cache/NAME.*`` entries before every run, so a cached result (the label propagation's
``alignment``) is computed each time. The two checkouts alternate, so a slow spell of the machine
falls on both. Prints one line per run and the means; writes ``bench/results/NAME.json``
(methods ``base`` and ``new``, ``seed`` the run index).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import record, run_child, write_results  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CODE = "import sys; from cli.main import main; sys.argv = ['mualign'] + sys.argv[1:]; sys.exit(main())"


def run_once(root: Path, args: list[str], logs: Path) -> dict:
    """:func:`run_child` of one command run from checkout ``root``; a failure raises with its stderr."""
    out = run_child([sys.executable, "-c", CODE, *args], logs / args[0], cwd=root,
                    env=dict(os.environ, PYTHONPATH=str(root)))
    if out["exit_code"] != 0:
        raise RuntimeError(f"mualign {args[0]} from {root} failed:\n"
                           f"{(logs / args[0]).with_suffix('.err').read_text()[-2000:]}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, required=True, help="the other checkout (a git worktree)")
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--command", required=True, help="the mualign command, e.g. block or 'train --epochs 1'")
    parser.add_argument("--clear-cache", nargs="*", default=[], help="project cache entries to delete before each run")
    parser.add_argument("--runs", type=int, default=2, help="pairs of runs (default 2)")
    parser.add_argument("--results", default="command_ab")
    args = parser.parse_args()
    command = args.command.split()
    argv = [command[0], "--project", str(args.project.resolve()), *command[1:]]
    records, totals = [], {"base": [], "new": []}
    logs = Path(tempfile.mkdtemp(prefix="command_ab-"))
    for run in range(args.runs):
        for name, root in (("base", args.base.resolve()), ("new", REPO)):
            for entry in args.clear_cache:
                for path in (args.project / ".cache").glob(f"{entry}.*"):
                    path.unlink()
            figures = run_once(root, argv, logs)
            load, cpu = round(figures["load_before"], 2), figures["cpu_s"]
            totals[name].append(figures["wall_s"])
            print(f"run={run} code={name} wall_s={figures['wall_s']:.1f} cpu_s={cpu:.1f} user_s={figures['user_s']:.1f} "
                  f"system_s={figures['system_s']:.1f} minor_faults={figures['minor_faults']} "
                  f"peak_rss_mb={figures['peak_rss_mb']:.0f} load={load}", flush=True)
            dataset = args.project.name
            for metric, value, unit in (("wall_seconds", figures["wall_s"], "s"), ("cpu_seconds", cpu, "s"),
                                        ("system_seconds", figures["system_s"], "s"),
                                        ("minor_faults", figures["minor_faults"], "count"),
                                        ("peak_rss_mb", figures["peak_rss_mb"], "MB")):
                records.append(record(dataset, name, f"{metric}[{args.command}]", round(value, 2), unit, run,
                                      load_average_1min=load))
    for name, values in totals.items():
        print(f"{name}: mean {sum(values) / len(values):.1f} s wall over {len(values)} runs")
    write_results(args.results, records)


if __name__ == "__main__":
    main()
