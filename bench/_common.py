"""Shared by the bench scripts: where the data is, peak memory, timing a child process, and writing result records."""

from __future__ import annotations

import json
import os
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "bench" / "results"

if str(REPO) not in sys.path:  # bench scripts run as plain files: make core importable
    sys.path.insert(0, str(REPO))


def command_line() -> str:
    """The command that produced a figure, as typed from the repository root."""
    script = Path(sys.argv[0]).resolve()
    shown = script.relative_to(REPO) if script.is_relative_to(REPO) else script
    return "python " + " ".join(shlex.quote(str(a)) for a in [shown, *sys.argv[1:]])


def run_child(argv: list[str], log: Path, *, cwd: Path | None = None, env: dict | None = None) -> dict:
    """Wall, CPU, user and system seconds, peak RSS (MB), minor page faults and exit code of one child
    process (its own, from ``os.wait4``), with the load average around it; its output goes to
    ``log`` with the suffixes ``.out`` and ``.err``."""
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    with open(log.with_suffix(".out"), "w") as out, open(log.with_suffix(".err"), "w") as err:
        child = subprocess.Popen(argv, stdout=out, stderr=err, cwd=cwd, env=env)
        _, status, usage = os.wait4(child.pid, 0)
    return {"wall_s": time.perf_counter() - start, "cpu_s": usage.ru_utime + usage.ru_stime,
            "user_s": usage.ru_utime, "system_s": usage.ru_stime, "minor_faults": usage.ru_minflt,
            "peak_rss_mb": usage.ru_maxrss / 1024, "exit_code": os.waitstatus_to_exitcode(status),
            "load_before": load_before, "load_after": os.getloadavg()[0]}


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def record(dataset: str, method: str, metric: str, value: float, unit: str, seed: int | None = None, **extra) -> dict:
    return {"dataset": dataset, "method": method, "metric": metric, "value": value, "unit": unit,
            "seed": seed, "command": command_line(), **extra}


def write_results(name: str, records: list[dict]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(records, indent=1, default=float) + "\n", encoding="utf-8")
    return path


def load_benchmark(name: str, **options):
    """Load one of the shared datasets with mualign's own loaders (read in place, never copied)."""
    if name == "dblp_acm":
        from core.formats.tables import load_tables

        return load_tables(SHARED_DATA / "dblp_acm", "dblp_acm", **options)
    if name == "itunes_amazon":
        from core.formats.tables import load_tables

        return load_tables(SHARED_DATA / "itunes_amazon", "itunes_amazon", **options)
    if name == "dbp15k_fr_en":
        from core.formats.dbp15k import load_dbp15k

        return load_dbp15k(SHARED_DATA / "dbp15k_fr_en", **options)
    raise ValueError(f"unknown benchmark {name!r}")
