"""Every loader against malformed input: the hand-made corpus plus many hypothesis-generated files.

    python bench/malformed_inputs.py                      # full corpus, 1000 generated inputs per loader
    python bench/malformed_inputs.py --examples 1000 --loaders native dbp15k

The inputs are those of the test suite (``tests/support/broken_inputs.py``), in larger numbers: the
corpus applies every hand-made mutation (truncation, wrong delimiter, binary garbage, latin-1
and UTF-16, a 50 MB line, duplicate lines, unknown ids, missing columns, empty, deleted...) to
every file of every loader, where the tests take a rotating subset and 3 MB lines; then
hypothesis generates ``--examples`` edited inputs per loader (seeded, so a run is repeatable).
Model checkpoints get byte-level damage, foreign files and data they do not fit.

An input counts as a *clear error* when the loader raises the project's error type and every
problem names a file of the input and, where it gives a line, a line that exists; as *loaded*
when the damage left a valid input (a BOM and CRLF, a truncated optional file...); anything
else is a *crash* (a loader bug), printed with its traceback. Target: crashes 0 everywhere.

Prints one line per loader:
    loader=native malformed inputs tried: 450, clear errors: 420, loaded: 30, crashes: 0 (corpus 150, generated 300) ...
and writes bench/results/malformed_inputs.json.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

from _common import record, write_results

from tests.support.broken_inputs import (CHECKPOINT_MUTATIONS, DIRECTORY, HUGE_LINE_BYTES, LOADERS, Outcome,
                                 apply_checkpoint_edit, attempt, build_case, build_fuzzed, checkpoint_edit_strategy,
                                 corpus, edits_strategy, train_tiny_checkpoint)

CHECKPOINT = "checkpoint"


class Tally:
    """Outcome counts of one loader, with the first few crashes kept for printing."""

    def __init__(self) -> None:
        self.counts: collections.Counter = collections.Counter()
        self.crashes: list[str] = []
        self.slowest = 0.0

    def add(self, label: str, run) -> None:
        start = time.perf_counter()
        outcome = run()
        self.slowest = max(self.slowest, time.perf_counter() - start)
        self.counts[outcome.kind] += 1
        if outcome.kind == "crash" and len(self.crashes) < 5:
            self.crashes.append(f"{label}: {outcome.detail}")


def run_corpus(name: str, tally: Tally, work: Path, huge_line_bytes: int) -> int:
    cases = corpus(loaders=(name,))
    for case in cases:
        root = build_case(case, work / "case", huge_line_bytes=huge_line_bytes)
        tally.add(case.id, lambda: attempt(LOADERS[name].load, root))
    shutil.rmtree(work / "case", ignore_errors=True)
    return len(cases)


def run_generated(name: str, tally: Tally, work: Path, examples: int, seed: int) -> int:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    loader = LOADERS[name]
    calls = 0

    @hypothesis_seed(seed)
    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(edits_strategy(loader))
    def one(edits):
        nonlocal calls
        calls += 1
        root = build_fuzzed(loader, edits, work / "fuzz")
        tally.add(f"{name} generated {edits!r}"[:400], lambda: attempt(loader.load, root))

    one()
    shutil.rmtree(work / "fuzz", ignore_errors=True)
    return calls


def run_checkpoints(tally: Tally, work: Path, examples: int, seed: int) -> tuple[int, int]:
    """Corpus and generated damage for checkpoints, plus checkpoints for data they do not fit."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    from core.project.checkpoint import load_scorer, read_checkpoint
    from core.formats.native import load_project
    from tests.conftest import RIGHT_ENTITIES, RIGHT_TRIPLES, SCHEMA, write_tiny_project

    project, checkpoint = train_tiny_checkpoint(work / "model" / "tiny")
    data = checkpoint.read_bytes()
    original = read_checkpoint(checkpoint)[0].version
    dataset = load_project(project)
    folder = work / "damaged"

    def try_bytes(content) -> object:
        shutil.rmtree(folder, ignore_errors=True)
        path = folder / checkpoint.name
        folder.mkdir(parents=True)
        if content is DIRECTORY:
            path.mkdir()
        elif content is not None:
            path.write_bytes(content)
        outcome = attempt(lambda _: load_scorer(path, dataset), folder)
        if outcome.kind == "ok" and read_checkpoint(path)[0].version != original:
            return Outcome("crash", "a damaged checkpoint loaded with other metadata or weights")
        return outcome  # loaded: the damage hit bytes torch never reads (the version check proves it)

    n_corpus = 0
    for mutation, edit in CHECKPOINT_MUTATIONS.items():
        tally.add(f"checkpoint:{mutation}", lambda: try_bytes(edit(data, checkpoint.name)))
        n_corpus += 1
    schema = (SCHEMA.rstrip().removesuffix("}")
              + ',\n  "attributes": [{"name": "year", "left": "year", "right": "year"}]\n}\n')
    other_data = {
        "other-schema": {"schema.json": SCHEMA.replace('"name": "directed"', '"name": "directing"')},
        "attribute-kind-changed": {"schema.json": schema,
                                   "right/entities.tsv": RIGHT_ENTITIES.replace("year:number", "year:text")},
        "extra-relation": {"right/triples.tsv": RIGHT_TRIPLES + "q10\tmarried_to\tq11\n"},
    }
    for label, files in other_data.items():
        other = write_tiny_project(work / label, **files)
        tally.add(f"checkpoint:{label}",
                  lambda: attempt(lambda _: load_scorer(checkpoint, load_project(other)), checkpoint.parent))
        n_corpus += 1

    calls = 0

    @hypothesis_seed(seed)
    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(checkpoint_edit_strategy())
    def one(edit):
        nonlocal calls
        calls += 1
        tally.add(f"checkpoint generated {edit!r}"[:400], lambda: try_bytes(apply_checkpoint_edit(data, edit)))

    one()
    return n_corpus, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loaders", nargs="*", default=[*LOADERS, CHECKPOINT], choices=[*LOADERS, CHECKPOINT])
    parser.add_argument("--examples", type=int, default=1000, help="generated inputs per loader (default 1000)")
    parser.add_argument("--checkpoint-examples", type=int, default=200,
                        help="generated damaged checkpoints (default 200; each loads a model)")
    parser.add_argument("--huge-line-mb", type=float, default=HUGE_LINE_BYTES / 1e6,
                        help="size of the corpus' huge line (default 50 MB)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    # torch warns about the plain-pickle case before refusing it; the refusal is what is counted
    warnings.filterwarnings("ignore", message="Detected pickle protocol")

    records, total_crashes = [], 0
    with tempfile.TemporaryDirectory(prefix="mualign-malformed-") as tmp:
        work = Path(tmp)
        for name in args.loaders:
            tally = Tally()
            start = time.perf_counter()
            if name == CHECKPOINT:
                n_corpus, n_generated = run_checkpoints(tally, work, args.checkpoint_examples, args.seed)
            else:
                n_corpus = run_corpus(name, tally, work, int(args.huge_line_mb * 1e6))
                n_generated = run_generated(name, tally, work, args.examples, args.seed)
            seconds = time.perf_counter() - start
            tried = sum(tally.counts.values())
            clear, loaded, crashes = tally.counts["clear"], tally.counts["ok"], tally.counts["crash"]
            total_crashes += crashes
            print(f"loader={name} malformed inputs tried: {tried}, clear errors: {clear}, loaded: {loaded}, "
                  f"crashes: {crashes} (corpus {n_corpus}, generated {n_generated}) seed={args.seed} "
                  f"seconds={seconds:.1f} slowest_input_s={tally.slowest:.2f}", flush=True)
            for crash in tally.crashes:
                print(f"  CRASH {crash}", flush=True)
            method = "corpus+hypothesis"
            records += [
                record(name, method, "inputs_tried", tried, "inputs", args.seed, corpus=n_corpus, generated=n_generated),
                record(name, method, "clear_errors", clear, "inputs", args.seed),
                record(name, method, "loaded", loaded, "inputs", args.seed),
                record(name, method, "crashes", crashes, "inputs", args.seed),
                record(name, method, "seconds", round(seconds, 2), "s", args.seed),
                record(name, method, "slowest_input_seconds", round(tally.slowest, 3), "s", args.seed,
                       huge_line_mb=args.huge_line_mb),
            ]
    path = write_results("malformed_inputs", records)
    print(f"wrote {len(records)} records to {path}")
    if total_crashes:
        sys.exit(1)


if __name__ == "__main__":
    main()
