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

``--rounds N`` also runs the structure-only alignment with iterated anchors
(:func:`core.blocking.anchor_rounds.iterate_anchors`) and prints, per round, TEST Hits@1 of each
left entity's best structural candidate, and after a one-to-one decision (greedy mutual best,
core.matching.assignment); a TEST match outside the top-k counts as a miss. Records go to
``bench/results/quality_matcher_dbp15k.json`` (method ``structure-rounds``).

``--matcher`` fits the end-to-end matcher (core.matching.matcher, default MatchingConfig without
the GNN: no CG-MuAlign training here) on the default union candidates, seed(s) ``--seeds``, and
records TEST Hits@1/Hits@10/MRR with and without the one-to-one step (method ``mualign-no-gnn``
and ``mualign-no-gnn-no-1to1``) in the same results file. Records of other methods in that
file are kept.

The table :data:`DBP15K_DATASETS` names the three settings as bench/quality_matcher.py's dataset
rows need them (a loader and a blocking config), so that script can import them.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from _common import RESULTS, load_benchmark, record, write_results

import numpy as np

from core.blocking.anchor_rounds import iterate_anchors
from core.blocking.name_blocking import BlockingConfig, block
from core.data.candidates import pair_keys
from core.data.links import Split
from core.matching.assignment import greedy_mutual_best

#: name of the dataset row -> load_dbp15k's ``names`` option
NAME_SETTINGS = {"dbp15k_fr_en": "uri", "dbp15k_fr_en_translated": "translated", "dbp15k_fr_en_structure": "ids"}
#: the default blocking: names top 20, structure top 10
DEFAULT_BLOCKING = BlockingConfig(top_k=20, structure_top_k=10)


def dbp15k_loader(names: str):
    """A no-argument loader of DBP15K FR-EN with that name setting (JAPE split)."""
    return lambda: load_benchmark("dbp15k_fr_en", names=names)


#: dataset name -> (loader, blocking config): rows for bench/quality_matcher.py's table
DBP15K_DATASETS = {name: (dbp15k_loader(names), DEFAULT_BLOCKING) for name, names in NAME_SETTINGS.items()}


def test_hits_at_1(dataset, left: np.ndarray, right: np.ndarray) -> float:
    """Share of TEST links whose left entity's chosen right entity (pairs given) is its match."""
    test = dataset.links.positives().in_split(Split.TEST)
    n_right = dataset.right.n_entities
    return float(np.isin(pair_keys(test.left, test.right, n_right), pair_keys(left, right, n_right)).mean())


def structure_rounds(name: str, rounds: int, top_k: int, use_csls: bool, min_similarity: float) -> list[dict]:
    """Per round of iterated anchors: TEST Hits@1 of the top structural candidate, and after 1-to-1."""
    dataset = load_benchmark("dbp15k_fr_en", names=NAME_SETTINGS[name])
    method = f"structure-rounds{'-csls' if use_csls else ''}"
    records = []

    def measure(state_round, state) -> None:
        c = state.candidates
        first = np.r_[True, c.left[1:] != c.left[:-1]] if len(c) else np.zeros(0, dtype=bool)
        top1 = test_hits_at_1(dataset, c.left[first], c.right[first])
        kept = greedy_mutual_best(c.left, c.right, c.similarity)
        one = test_hits_at_1(dataset, c.left[kept], c.right[kept])
        load = round(os.getloadavg()[0], 2)
        print(f"dataset={name} method={method} round={state_round.round} anchors={state_round.n_anchors} "
              f"pseudo_anchors_next={state_round.n_mutual} hit_at_1={top1:.4f} hit_at_1_one_to_one={one:.4f} "
              f"seconds={state_round.seconds:.1f} load_average_1min={load}", flush=True)
        common = dict(round=state_round.round, anchors=state_round.n_anchors, top_k=top_k,
                      min_similarity=min_similarity)
        records.extend([record(name, method, "hit_at_1", round(top1, 5), "ratio", None, one_to_one=False, **common),
                        record(name, method, "hit_at_1", round(one, 5), "ratio", None, one_to_one=True, **common),
                        record(name, method, "round_seconds", round(state_round.seconds, 2), "s", None,
                               load_average_1min=load, **common)])
    iterate_anchors(dataset, rounds=rounds, top_k=top_k, use_csls=use_csls, min_similarity=min_similarity,
                    on_round=measure)
    return records


def merge_results(name: str, records: list[dict]) -> Path:
    """Write ``records`` into bench/results/NAME.json, keeping the file's records of other (dataset, method)."""
    path = RESULTS / f"{name}.json"
    new = {(r["dataset"], r["method"]) for r in records}
    old = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
    return write_results(name, [r for r in old if (r["dataset"], r["method"]) not in new] + records)


def matcher_quality(name: str, seed: int) -> list[dict]:
    """The end-to-end matcher (no GNN) on the default union candidates: TEST ranking metrics."""
    from quality_matcher import LookupScorer, one_to_one_scores, scoring_universe

    from core.evaluation.harness import evaluate
    from core.matching.matcher import MatchingConfig, fit_matcher

    dataset = load_benchmark("dbp15k_fr_en", names=NAME_SETTINGS[name])
    candidates, _ = block(dataset, DEFAULT_BLOCKING)
    load_before = os.getloadavg()[0]
    matcher = fit_matcher(dataset, candidates, config=MatchingConfig(use_gnn=False), seed=seed)
    load = round((load_before + os.getloadavg()[0]) / 2, 2)
    universe = scoring_universe(dataset, candidates)
    scores = matcher.score(dataset, universe)
    keys = universe.pair_keys(dataset.right.n_entities)
    records = [record(name, "mualign-no-gnn", "fit_seconds", round(matcher.fit_seconds, 2), "s", seed,
                      load_average_1min=load, rounds=[r.get("new_anchors") for r in matcher.rounds_report])]
    for method, values in (("mualign-no-gnn-no-1to1", scores.probability),
                           ("mualign-no-gnn", one_to_one_scores(universe, scores))):
        report = evaluate(dataset, candidates, LookupScorer(method, keys, values, dataset.right.n_entities),
                          split=Split.TEST)
        m = report.overall
        print(f"dataset={name} method={method} seed={seed} candidates={len(candidates):,} hit_at_1={m.hit_at_1:.4f} "
              f"hit_at_10={m.hit_at_10:.4f} mrr={m.mrr:.4f} f1={m.f1:.4f} fit_seconds={matcher.fit_seconds:.1f} "
              f"load_average_1min={load}", flush=True)
        records += [record(name, method, metric, round(float(getattr(m, metric)), 5), "ratio", seed)
                    for metric in ("hit_at_1", "hit_at_10", "mrr", "f1", "pr_auc") if getattr(m, metric) is not None]
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--structure-top-k", type=int, nargs="*", default=[10, 50])
    parser.add_argument("--datasets", nargs="*", default=list(NAME_SETTINGS), choices=list(NAME_SETTINGS))
    parser.add_argument("--rounds", type=int, default=None, help="run the iterated-anchor alignment this many rounds")
    parser.add_argument("--csls", action="store_true", help="rounds: rank by CSLS rather than cosine")
    parser.add_argument("--min-similarity", type=float, default=0.0, help="rounds: floor for a pseudo-anchor")
    parser.add_argument("--rounds-top-k", type=int, default=10)
    parser.add_argument("--matcher", action="store_true", help="fit and evaluate the end-to-end matcher (no GNN)")
    parser.add_argument("--seeds", type=int, nargs="*", default=[0])
    args = parser.parse_args()
    if args.rounds is not None or args.matcher:
        records = []
        for name in args.datasets:
            if args.rounds is not None:
                records += structure_rounds(name, args.rounds, args.rounds_top_k, args.csls, args.min_similarity)
            if args.matcher:
                for seed in args.seeds:
                    records += matcher_quality(name, seed)
        path = merge_results("quality_matcher_dbp15k", records)
        print(f"wrote {path}")
        return
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
