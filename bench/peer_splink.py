"""A peer side by side: Splink (DuckDB backend) and mualign's whole pipeline on DBLP-ACM, in one run.

    .venv/bin/pip install -e '.[bench]'      # once, from a fresh checkout: splink 5.0.0 (duckdb, pyarrow, sqlglot)
    .venv/bin/python bench/peer_splink.py    # Splink, then `mualign import, block, train, score, evaluate`
    .venv/bin/python bench/peer_splink.py --seed 1 --train-args "--epochs 3" --u-max-pairs 5e6

Splink is a bench-only dependency (the ``bench`` extra of pyproject.toml); nothing in core/, db/,
cli/ or pages/ imports it.

**The question: how long until a user sees matches?** Both sides run as a user runs them, each
step in a fresh process started from here, with default settings (all cores; the CLI's torch
threads, DuckDB's threads):

- ``mualign-pipeline``: the five CLI commands a user types, one after another, on a new project
  directory: ``mualign import tables <data> --mapping dblp_acm``, ``mualign block``, ``mualign
  train`` (defaults: early stopping on validation PRAUC), ``mualign score`` (every candidate,
  the score table; since ``train`` writes it, ``score`` finds it current) and ``mualign evaluate``
  (the project's default score: the matcher over the model's distances). Interpreter start-up and
  imports are counted, as they are for the user. The pipeline's F1 is its matcher's, on the
  project's own candidates (what ``mualign evaluate`` prints); the model alone is recorded too
  (method ``mualign-pipeline-model``).
- ``splink``: one child process that imports Splink, builds its input records from the CSVs,
  trains the model and predicts (the script a Splink user writes; see below), and writes the
  predictions. Reading them into the harness is not counted (it is for mualign: its ``evaluate``).

**CPU seconds** are the children's user + system time (``resource.getrusage(RUSAGE_CHILDREN)``
before and after, so every thread of every child counts: DuckDB's and torch's); ``wall_seconds``
the elapsed time. The machine's 2 cores are shared with other work, so CPU seconds are the
figure to compare (wall times only within one run); the 1-minute load average is recorded before
and after each method.

**The split.** Every method is judged by mualign's harness, ``core.evaluation.harness.evaluate``,
on exactly the same pairs: the 2,473 labelled TEST pairs (444 matches) of the DeepMatcher files,
with the threshold that maximises F1 on the labelled VALID pairs (never on TEST), and PRAUC as
average precision over the TEST pairs. Splink's output enters the harness as a
:class:`LookupScorer` returning its ``match_probability`` (a TEST pair Splink's blocking never
compared scores 0: a miss if it is a match); mualign's as the project's active model (the same
numbers ``mualign evaluate`` prints). ``hit_at_1_top20`` ranks each TEST match among mualign's
top-20 name candidates of its DBLP paper (the same candidates for every method).

**Splink model** (Fellegi-Sunter, ``link_only``, DBLP = tableA against ACM = tableB):

- Input records, made the same way for both tables from the DeepMatcher CSVs: ``title``
  (ASCII-folded, punctuation to spaces, whitespace collapsed), ``title_tokens`` (its distinct
  words), ``surnames`` (sorted distinct last words of the ``,``-separated authors, ASCII-folded;
  author order and middle initials differ between DBLP and ACM), ``venue`` and ``year``.
  ``venue`` goes through :data:`VENUES`, a hand-written 10-line map of the 5 + 5 venue strings
  to 5 codes (DBLP says ``vldb``, ACM ``very large data bases``): the one piece of hand-made
  knowledge, the kind of standardisation a Splink user does before linking. mualign gets no
  such map (its venue nodes are matched through training).
- Comparisons (levels from most to least alike; null where a value is missing):
  title: exact / Jaro-Winkler >= 0.95 / word Jaccard >= 0.7 / word Jaccard >= 0.4 / else;
  surnames: same set / at least half of the larger set shared / one shared / else;
  venue: exact / else; year: exact / within 1 / else. No term-frequency adjustments.
- Blocking for prediction (pairs joined by any rule): ``year AND venue``, ``title`` (exact
  normalised title).
- Training: the prior ``probability_two_random_records_match`` from the deterministic rule
  ``title AND year`` with an assumed recall of 0.9 (the prior shifts every match weight by one
  constant, so it cannot change the ranking; the threshold comes from VALID anyway); u by random
  sampling (``--u-max-pairs``, seeded); m by two EM sessions, blocked on ``title`` (trains
  surnames, venue, year) and on ``year AND venue`` (trains title, surnames). Unsupervised: no
  label is used to fit Splink, only to choose its threshold on VALID.

The name baselines (``name-tfidf``, ``name-logreg``) are also reported, run in this process on
the loaded data (their CPU seconds exclude start-up, so they are not comparable with the two
above).

Prints one ``dataset=dblp_acm method=... f1=... cpu_s=... wall_s=...`` line per method and writes
every figure to bench/results/peer_splink.json (methods ``mualign-pipeline`` and ``splink``,
metrics ``cpu_seconds``, ``wall_seconds``, ``f1``, ...; per mualign command
``step_cpu_seconds[<command>]``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import resource
import shlex
import subprocess
import sys
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from _common import REPO, SHARED_DATA, load_benchmark, peak_rss_mb, record, write_results

from core.blocking.name_blocking import BlockingConfig, block
from core.data.candidates import pair_keys
from core.data.links import Split
from core.evaluation.harness import EvalReport, evaluate, evaluation_pairs, format_report
from core.project.lifecycle import METHODS, make_scorer

DATASET = "dblp_acm"
DATA_DIR = SHARED_DATA / DATASET

#: Venue strings of both tables (SOURCE.md lists all ten) -> one code per venue.
VENUES = {
    "vldb": "vldb", "very large data bases": "vldb",
    "vldb j.": "vldbj", "the vldb journal -- the international journal on very large data bases": "vldbj",
    "sigmod conference": "sigmod", "international conference on management of data": "sigmod",
    "sigmod record": "sigmod-record", "acm sigmod record": "sigmod-record",
    "acm trans . database syst .": "tods", "acm transactions on database systems ( tods )": "tods",
}
LEFT_NAME, RIGHT_NAME = "dblp", "acm"  # Splink source_dataset names of tableA and tableB


# ------------------------------------------------------------------------------- measuring ----
@dataclass
class Span:
    """CPU seconds (this process, or its children with ``children=True``) and wall seconds of one
    method, with the 1-minute load average before and after."""

    children: bool = False
    wall_s: float = 0.0
    cpu_s: float = 0.0
    load_before: float = 0.0
    load_after: float = 0.0

    def _cpu(self) -> float:
        if not self.children:
            return time.process_time()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    def __enter__(self) -> "Span":
        self.load_before = os.getloadavg()[0]
        self._wall, self._cpu0 = time.perf_counter(), self._cpu()
        return self

    def __exit__(self, *exc) -> None:
        self.wall_s = time.perf_counter() - self._wall
        self.cpu_s = self._cpu() - self._cpu0
        self.load_after = os.getloadavg()[0]


def loadavg_text() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


# ------------------------------------------------------------------------------ Splink side ----
def _fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()


def splink_records(path) -> pd.DataFrame:
    """One DeepMatcher table as Splink input records (see the module docstring)."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    titles = [" ".join(re.sub(r"[^a-z0-9]+", " ", _fold(t)).split()) or None for t in table["title"]]
    surnames = []
    for authors in table["authors"]:
        names = (re.sub(r"[^a-z ]+", "", _fold(a)).split() for a in authors.split(","))
        surnames.append(sorted({n[-1] for n in names if n}) or None)
    unknown = sorted(set(table["venue"]) - set(VENUES))
    if unknown:
        raise ValueError(f"{path}: venues missing from VENUES: {unknown}")
    return pd.DataFrame({
        "unique_id": table["id"].astype(np.int64),
        "title": titles,
        "title_tokens": [sorted(set(t.split())) if t else None for t in titles],
        "surnames": surnames,
        "venue": [VENUES[v] for v in table["venue"]],
        "year": pd.to_numeric(table["year"], errors="coerce").astype("Int64"),
    })


def splink_settings():
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    def word_jaccard(threshold: float):
        return cll.CustomLevel(
            f"len(list_intersect(title_tokens_l, title_tokens_r)) >= "
            f"{threshold} * len(list_distinct(list_concat(title_tokens_l, title_tokens_r)))",
            label_for_charts=f"title word Jaccard >= {threshold}")

    title = cl.CustomComparison([
        cll.NullLevel("title"), cll.ExactMatchLevel("title"), cll.JaroWinklerLevel("title", 0.95),
        word_jaccard(0.7), word_jaccard(0.4), cll.ElseLevel()], output_column_name="title")
    surnames = cl.CustomComparison([
        cll.NullLevel("surnames"), cll.ExactMatchLevel("surnames"),
        cll.CustomLevel("2 * len(list_intersect(surnames_l, surnames_r)) >= greatest(len(surnames_l), len(surnames_r))",
                        label_for_charts="half the surnames shared"),
        cll.ArrayIntersectLevel("surnames", 1), cll.ElseLevel()], output_column_name="surnames")
    year = cl.CustomComparison([
        cll.NullLevel("year"), cll.ExactMatchLevel("year"), cll.AbsoluteDifferenceLevel("year", 1), cll.ElseLevel()],
        output_column_name="year")
    return SettingsCreator(
        link_type="link_only",
        comparisons=[title, surnames, cl.ExactMatch("venue"), year],
        blocking_rules_to_generate_predictions=[block_on("year", "venue"), block_on("title")],
        retain_matching_columns=False,
    )


@dataclass
class LookupScorer:
    """A :class:`core.evaluation.harness.PairScorer` over precomputed pair probabilities; absent pairs score 0."""

    name: str
    keys: np.ndarray  # sorted core.data.candidates.pair_keys of the scored pairs (dataset entity positions)
    values: np.ndarray
    n_right: int

    @classmethod
    def from_pairs(cls, name: str, left: np.ndarray, right: np.ndarray, values: np.ndarray, n_right: int):
        keys = pair_keys(left, right, n_right)
        order = np.argsort(keys, kind="stable")
        if len(keys) and (np.diff(keys[order]) == 0).any():
            raise ValueError(f"{name}: a pair was scored twice")
        return cls(name, keys[order], np.asarray(values, dtype=np.float64)[order], n_right)

    def contains(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        query = pair_keys(left, right, self.n_right)
        at = np.minimum(np.searchsorted(self.keys, query), max(len(self.keys) - 1, 0))
        return (self.keys[at] == query) if len(self.keys) else np.zeros(len(query), dtype=bool)

    def score_pairs(self, left: np.ndarray, right: np.ndarray, types: np.ndarray | None = None) -> np.ndarray:
        query = pair_keys(left, right, self.n_right)
        out = np.zeros(len(query), dtype=np.float64)
        if len(self.keys):
            at = np.minimum(np.searchsorted(self.keys, query), len(self.keys) - 1)
            hit = self.keys[at] == query
            out[hit] = self.values[at[hit]]
        return out


def _positions(graph, table_ids) -> np.ndarray:
    """Dataset entity positions of table rows (the loader names them ``paper:<id>``)."""
    pos = graph.indices_of([f"paper:{int(i)}" for i in table_ids])
    if (pos < 0).any():
        raise ValueError("a Splink record has no paper entity in the dataset")
    return pos.astype(np.int64)


def _predictions_to_scorer(name: str, frame: pd.DataFrame, dataset) -> LookupScorer:
    """Splink predictions (either side order) -> a scorer keyed by dataset positions."""
    left_is_l = (frame["source_dataset_l"] == LEFT_NAME).to_numpy()
    left_ids = np.where(left_is_l, frame["unique_id_l"], frame["unique_id_r"])
    right_ids = np.where(left_is_l, frame["unique_id_r"], frame["unique_id_l"])
    return LookupScorer.from_pairs(name, _positions(dataset.left, left_ids), _positions(dataset.right, right_ids),
                                   frame["match_probability"].to_numpy(), dataset.right.n_entities)


def _join_key(source: str, ids: np.ndarray) -> list[str]:
    # Splink's composite id for link jobs: "<source_dataset>-__-<unique_id>" (splink.internals.unique_id_concat).
    return [f"{source}-__-{int(i)}" for i in ids]


def run_splink(*, u_max_pairs: float, seed: int) -> tuple[pd.DataFrame, dict]:
    """Train Splink and predict with its blocking: (predictions, info). What the child process runs."""
    from splink import DuckDBAPI, Linker, block_on

    info: dict = {}
    left = splink_records(DATA_DIR / "tableA.csv")
    right = splink_records(DATA_DIR / "tableB.csv")
    import duckdb

    with duckdb.connect() as probe:  # a fresh in-memory connection has DuckDB's default thread count
        info["duckdb_threads"] = probe.sql("select current_setting('threads')").fetchall()[0][0]
    db_api = DuckDBAPI()
    inputs = [db_api.register(left, dataset_display_name=LEFT_NAME),
              db_api.register(right, dataset_display_name=RIGHT_NAME)]
    linker = Linker(inputs, splink_settings(), log_level=logging.WARNING)
    steps = {}

    def step(label, fn):
        start = time.perf_counter()
        out = fn()
        steps[label] = time.perf_counter() - start
        return out

    step("prior", lambda: linker.training.estimate_probability_two_random_records_match(
        [block_on("title", "year")], recall=0.9))
    step("u_random_sampling", lambda: linker.training.estimate_u_using_random_sampling(max_pairs=u_max_pairs, seed=seed))
    step("em_title", lambda: linker.training.estimate_parameters_using_expectation_maximisation(block_on("title")))
    step("em_year_venue", lambda: linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("year", "venue")))
    predictions = step("predict", lambda: linker.inference.predict().as_pandas_dataframe())
    info["steps"] = steps
    info["blocked_pairs"] = len(predictions)
    info["model"] = linker.misc.save_model_to_json()
    columns = ["source_dataset_l", "unique_id_l", "source_dataset_r", "unique_id_r", "match_probability"]
    return predictions[columns], info


def splink_child(out_dir: Path, u_max_pairs: float, seed: int) -> None:
    """The Splink side as a user's script: records, training, prediction; predictions written to ``out_dir``."""
    predictions, info = run_splink(u_max_pairs=u_max_pairs, seed=seed)
    predictions.to_csv(out_dir / "splink_predictions.csv", index=False)
    (out_dir / "splink_info.json").write_text(json.dumps(info, default=str))


def describe_model(model: dict) -> str:
    """Match weight log2(m/u) per comparison level of a trained Splink model."""
    rows = [f"  prior probability_two_random_records_match={model['probability_two_random_records_match']:.3g}"]
    for comparison in model["comparisons"]:
        parts = []
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            weight = "?" if not m or not u else f"{np.log2(m / u):+.2f}"
            parts.append(f"{level.get('label_for_charts', level['sql_condition'])}: {weight}")
        rows.append(f"  {comparison['output_column_name']}: " + "; ".join(parts))
    return "\n".join(rows)


# ------------------------------------------------------------------------------- reporting ----
def summary_line(method: str, report: EvalReport, span: Span, extra: str = "") -> str:
    m = report.overall
    return (f"dataset={DATASET} method={method} f1={m.f1:.4f} precision={m.precision:.4f} recall={m.recall:.4f} "
            f"pr_auc={m.pr_auc:.4f} hit_at_1_top20={m.hit_at_1:.4f} threshold_valid={report.threshold:.4g} "
            f"wall_s={span.wall_s:.1f} cpu_s={span.cpu_s:.1f} "
            f"load_1m_before={span.load_before:.2f} load_1m_after={span.load_after:.2f}" + (f" {extra}" if extra else ""))


def method_records(method: str, report: EvalReport, span: Span, seed: int | None, **extra) -> list[dict]:
    m = report.overall
    out = [record(DATASET, method, metric, round(float(getattr(m, metric)), 6), "ratio", seed, split="test", **extra)
           for metric in ("f1", "precision", "recall", "pr_auc", "hit_at_1")]
    out.append(record(DATASET, method, "threshold_from_valid", round(float(report.threshold), 6), "score", seed))
    out.append(record(DATASET, method, "wall_seconds", round(span.wall_s, 2), "s", seed))
    out.append(record(DATASET, method, "cpu_seconds", round(span.cpu_s, 2), "s", seed,
                      what="children's user+system CPU" if span.children else "this process's CPU", **extra))
    out.append(record(DATASET, method, "load_avg_1m_before", round(span.load_before, 2), "load", seed))
    out.append(record(DATASET, method, "load_avg_1m_after", round(span.load_after, 2), "load", seed))
    return out


# ------------------------------------------------------------------------------- the runs ----
def run_children(commands: list[tuple[str, list[str]]], log_dir: Path) -> dict[str, dict]:
    """Run each (name, argv) in turn; per name its children's CPU seconds, wall seconds and exit code."""
    steps = {}
    for name, argv in commands:
        with Span(children=True) as span:
            with open(log_dir / f"{name}.out", "w") as out, open(log_dir / f"{name}.err", "w") as err:
                code = subprocess.run(argv, stdout=out, stderr=err, cwd=REPO).returncode
        steps[name] = {"cpu_s": span.cpu_s, "wall_s": span.wall_s, "code": code}
        print(f"  {name}: cpu_s={span.cpu_s:.1f} wall_s={span.wall_s:.1f} load={loadavg_text()}"
              + (f"  FAILED (exit {code}): {(log_dir / f'{name}.err').read_text()[-2000:]}" if code else ""),
              flush=True)
        if code:
            raise RuntimeError(f"{shlex.join(argv)} failed with exit {code}")
    return steps


def mualign_commands(project: Path, seed: int, train_args: list[str]) -> list[tuple[str, list[str]]]:
    """The commands a user types, with the installed ``mualign`` entry point of this interpreter's venv."""
    mualign = str(Path(sys.executable).with_name("mualign"))
    return [
        ("import", [mualign, "import", "tables", str(DATA_DIR), "--project", str(project), "--mapping", DATASET]),
        ("block", [mualign, "block", "--project", str(project)]),
        ("train", [mualign, "train", "--project", str(project), "--seed", str(seed), *train_args]),
        ("score", [mualign, "score", "--project", str(project)]),
        ("evaluate", [mualign, "evaluate", "--project", str(project)]),
    ]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child-splink":
        splink_child(Path(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="mualign's training seed and Splink's u-sampling seed")
    parser.add_argument("--train-args", default="", help="extra options for `mualign train` (default: none)")
    parser.add_argument("--u-max-pairs", type=float, default=1e6,
                        help="pairs sampled to estimate Splink's u probabilities (default 1e6, Splink's default)")
    parser.add_argument("--skip-mualign", action="store_true", help="Splink and the name baselines only")
    parser.add_argument("--results", default="peer_splink")
    args = parser.parse_args()

    import duckdb
    import splink
    import torch

    print(f"load average at start (1/5/15 min): {loadavg_text()} on {os.cpu_count()} cores; "
          f"splink {splink.__version__}, duckdb {duckdb.__version__}, torch {torch.__version__}", flush=True)
    records = [record(DATASET, "environment", "load_avg_1m_at_start", round(os.getloadavg()[0], 2), "load"),
               record(DATASET, "environment", "cpu_count", os.cpu_count(), "count")]
    work = Path(tempfile.mkdtemp(prefix="peer_splink-"))
    dataset = load_benchmark(DATASET)
    # mualign's blocking, here once for the harness: its candidates give every method's Hit@1
    # (each ranks the true match among these top-20 name candidates); F1 / PRAUC are on the
    # labelled TEST pairs whatever the candidates. The pipeline blocks again, in its own process.
    candidates, blocking = block(dataset, BlockingConfig(top_k=20))
    test = evaluation_pairs(dataset, candidates, Split.TEST)
    print(f"TEST: {len(test.label)} labelled pairs, {int(test.label.sum())} matches (protocol: {test.protocol}); "
          f"threshold of every method chosen on the labelled VALID pairs; work dir {work}", flush=True)
    lines = []

    # ---- Splink, in a child process
    print("\n## splink (one child process: import, records, training, prediction)", flush=True)
    with Span(children=True) as span:
        run_children([("splink", [sys.executable, __file__, "--child-splink", str(work), str(args.u_max_pairs),
                                  str(args.seed)])], work)
    info = json.loads((work / "splink_info.json").read_text())
    predictions = pd.read_csv(work / "splink_predictions.csv")
    blocked = _predictions_to_scorer("splink", predictions, dataset)
    splink_report = evaluate(dataset, candidates, blocked, split=Split.TEST)
    unblocked_test = ~blocked.contains(test.left, test.right)
    lost = int((unblocked_test & (test.label == 1)).sum())
    gold = dataset.gold_pairs()
    completeness = float(blocked.contains(gold.left, gold.right).mean())
    print(f"splink (DuckDB, {info['duckdb_threads']} threads): {info['blocked_pairs']:,} blocked pairs, "
          f"pair completeness {completeness:.4f} on the {len(gold):,} gold matches; steps "
          + " ".join(f"{k}={v:.1f}s" for k, v in info["steps"].items()))
    print(describe_model(info["model"]))
    print(f"  every TEST pair is scored: {int(unblocked_test.sum())} of {len(test.label)} were never compared by "
          f"Splink's blocking and score 0; {lost} of them are matches (counted as misses)")
    print(format_report(splink_report))
    lines.append(summary_line("splink", splink_report, span,
                              f"test_pairs_unblocked={int(unblocked_test.sum())} test_matches_unblocked={lost}"))
    records += method_records("splink", splink_report, span, args.seed)
    records += [record(DATASET, "splink", "blocked_pairs", info["blocked_pairs"], "count", args.seed),
                record(DATASET, "splink", "pair_completeness_gold", round(completeness, 6), "ratio", args.seed),
                record(DATASET, "splink", "test_pairs_unblocked", int(unblocked_test.sum()), "count", args.seed),
                record(DATASET, "splink", "test_matches_unblocked", lost, "count", args.seed)]
    records += [record(DATASET, "splink", f"step_wall_seconds[{k}]", round(v, 2), "s", args.seed)
                for k, v in info["steps"].items()]
    print(lines[-1], flush=True)

    # ---- mualign's whole pipeline, as CLI commands
    if not args.skip_mualign:
        project = work / "dblp_acm_project"
        train_args = shlex.split(args.train_args)
        print(f"\n## mualign-pipeline: import, block, train, score, evaluate as CLI commands ({project})", flush=True)
        with Span(children=True) as span:
            steps = run_children(mualign_commands(project, args.seed, train_args), work)
        print((work / "train.out").read_text())
        print((work / "evaluate.out").read_text())
        from core.project.cache import load_project_cached
        from core.project.checkpoint import load_scorer
        from core.project.lifecycle import evaluate_with_decisions
        from core.project.model_versions import active_model_path

        model, checkpoint = load_scorer(active_model_path(project), load_project_cached(project))
        model.name = "mualign-pipeline-model"
        model_report = evaluate(dataset, candidates, model, split=Split.TEST)
        evaluation = evaluate_with_decisions(project, "mualign", split=Split.TEST)
        report = evaluation.report
        decided_f1 = evaluation.decisions.f1 if evaluation.decisions is not None else None
        best_epoch = checkpoint.metrics.get("best_epoch")
        epochs_run = len(re.findall(r"^\s*epoch\s+\d+", (work / "train.out").read_text(), flags=re.M))
        lines.append(summary_line("mualign-pipeline", report, span,
                                  " ".join(f"{k}_cpu_s={v['cpu_s']:.1f}" for k, v in steps.items())
                                  + f" epochs_run={epochs_run} best_epoch={best_epoch} decided_f1={decided_f1}"
                                  + f" model_alone_f1={model_report.overall.f1:.4f} train_args={args.train_args!r}"))
        records += method_records("mualign-pipeline", report, span, args.seed, train_args=args.train_args)
        records += [r for r in method_records("mualign-pipeline-model", model_report, span, args.seed)
                    if r["unit"] == "ratio"]  # its quality only: its time is the pipeline's
        if decided_f1 is not None:
            records.append(record(DATASET, "mualign-pipeline", "decided_f1", round(decided_f1, 6), "ratio", args.seed))
        records += [record(DATASET, "mualign-pipeline", f"step_cpu_seconds[{k}]", round(v["cpu_s"], 2), "s",
                           args.seed) for k, v in steps.items()]
        records += [record(DATASET, "mualign-pipeline", f"step_wall_seconds[{k}]", round(v["wall_s"], 2), "s",
                           args.seed) for k, v in steps.items()]
        records += [record(DATASET, "mualign-pipeline", "best_epoch", best_epoch, "count", args.seed),
                    record(DATASET, "mualign-pipeline", "epochs_run", epochs_run, "count", args.seed)]
        print(lines[-1], flush=True)

    # ---- the name baselines, in this process (start-up not counted)
    print("\n## name baselines (in this process, on the loaded data)", flush=True)
    for method in METHODS:
        with Span() as span:
            scorer = make_scorer(method, dataset, candidates, config=BlockingConfig(top_k=20))
            report = evaluate(dataset, candidates, scorer, split=Split.TEST)
        lines.append(summary_line(method, report, span, "note=in_process_startup_not_counted"))
        records += method_records(method, report, span, None)
        print(lines[-1], flush=True)

    print(f"\n## summary (TEST, {len(test.label)} labelled pairs; threshold from VALID; "
          f"load average now {loadavg_text()}; peak_rss_mb={peak_rss_mb():.0f})")
    for line in lines:
        print(line)
    records.append(record(DATASET, "environment", "load_avg_1m_at_end", round(os.getloadavg()[0], 2), "load"))
    print(f"\nwrote {len(records)} records to {write_results(args.results, records)}")


if __name__ == "__main__":
    main()
