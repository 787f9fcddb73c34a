"""Few-shot across types (the paper's Fig. 6 / Table 7): train on type A plus 0%, 10% or 100% of
type B's training labels, report type B's F1 on TEST.

    python bench/fewshot.py                                  # demo movies (film -> person), DBLP-ACM (paper -> author)
    python bench/fewshot.py --datasets demo_movies --fractions 0 0.1 1 --seeds 0

For DBLP-ACM the author links are derived from the matched papers (core/data/derive_links.py); their
estimated precision is printed with the figures. VALID is restricted to the types that have
training labels, so with 0% of B's labels no B label is seen at all, not even for the threshold.
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import load_benchmark, record, write_results

from core.blocking.name_blocking import BlockingConfig, block
from core.data.dataset import AlignmentDataset
from core.data.derive_links import derive_neighbour_links, with_links
from core.model.setup import build_setup
from core.evaluation.harness import evaluate
from core.data.links import Links, Split
from core.model.cg_mualign import ModelConfig
from core.project.lifecycle import make_scorer
from core.training.loop import TrainConfig, train


def restrict(dataset: AlignmentDataset, type_a: int, type_b: int, fraction: float, seed: int) -> AlignmentDataset:
    """TRAIN: all of A, ``fraction`` of B, nothing else. VALID: A, and B only if fraction > 0."""
    links = dataset.links
    rng = np.random.default_rng(seed)
    is_train, is_valid = links.split == Split.TRAIN.code, links.split == Split.VALID.code
    keep = ~(is_train | is_valid)  # TEST and UNUSED stay
    keep |= (is_train | is_valid) & (links.type == type_a)
    b_train = np.flatnonzero(is_train & (links.type == type_b))
    keep[rng.choice(b_train, size=int(round(fraction * len(b_train))), replace=False)] = True
    if fraction > 0:
        keep |= is_valid & (links.type == type_b)
    return AlignmentDataset(dataset.left, dataset.right, dataset.schema, links.select(keep), dataset.name)


def load(name: str) -> tuple[AlignmentDataset, str, str, str]:
    if name == "demo_movies":
        from core.demo.movies import generate_movie_pair

        return generate_movie_pair(300, seed=0).dataset, "film", "person", ""
    dataset = load_benchmark("dblp_acm")
    authors, report = derive_neighbour_links(dataset, "paper", "author")
    note = (f"derived author links: {report.n_links} (identical names {report.identical_names}, compatible "
            f"{report.compatible_names}, other {report.other}; estimated precision {report.estimated_precision:.4f})")
    return with_links(dataset, authors), "paper", "author", note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", default=["demo_movies", "dblp_acm"])
    parser.add_argument("--fractions", nargs="*", type=float, default=[0.0, 0.1, 1.0])
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--results", default="fewshot")
    args = parser.parse_args()
    records = []
    for name in args.datasets:
        full, a, b, note = load(name)
        if note:
            print(f"dataset={name} {note}")
        candidates, _ = block(full, BlockingConfig(top_k=20))
        type_a, type_b = full.schema.type_index(a), full.schema.type_index(b)
        baseline = evaluate(full, candidates, make_scorer("name-tfidf", full, candidates), split=Split.TEST)
        m = dict(baseline.per_type)[b]
        print(f"dataset={name} type={b} method=name-tfidf F1={m.f1:.4f} PRAUC={m.pr_auc:.4f} Hit@1={m.hit_at_1:.4f}")
        for fraction in args.fractions:
            f1s, praucs, hits = [], [], []
            for seed in args.seeds:
                dataset = restrict(full, type_a, type_b, fraction, seed)
                config = ModelConfig()
                result = train(build_setup(dataset, config), config, TrainConfig(epochs=args.epochs, seed=seed),
                               candidates=candidates)
                report = evaluate(dataset, candidates, result.scorer, split=Split.TEST)
                m = dict(report.per_type)[b]
                f1s.append(m.f1), praucs.append(m.pr_auc), hits.append(m.hit_at_1)
                for metric, value in (("f1", m.f1), ("pr_auc", m.pr_auc), ("hit_at_1", m.hit_at_1)):
                    records.append(record(name, f"cg-mualign train={a}+{fraction:.0%} {b}", f"{metric}[{b}]",
                                          round(float(value), 5), "ratio", seed))
            print(f"dataset={name} train={a}+{fraction:.0%} of {b} labels type={b} seeds={len(args.seeds)} "
                  f"F1={np.mean(f1s):.4f}±{np.std(f1s):.4f} PRAUC={np.mean(praucs):.4f}±{np.std(praucs):.4f} "
                  f"Hit@1={np.mean(hits):.4f}±{np.std(hits):.4f}", flush=True)
        write_results(args.results, records)


if __name__ == "__main__":
    main()
