"""The ``mualign`` command line: import, block, evaluate, train, score, explain, demo.

Every command reads and writes a project directory (see ``core/formats/native.py``), so the
steps can be run one at a time, inspected, and repeated. Bad input exits with status 2 and the
list of problems as ``path:line: problem`` on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from cli.labels_cmd import add_labels_parser
from core.formats.errors import DataError
from core.model.cg_mualign import VARIANTS

EXIT_BAD_INPUT = 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.threads:
        use_threads(args.threads)
    try:
        return args.run(args) or 0
    except DataError as exc:
        print(f"mualign {args.command}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (ValueError, KeyError, FileNotFoundError) as exc:
        print(f"mualign {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def use_threads(n: int) -> None:
    """Cap torch's CPU threads (training, scoring, and the app it serves).

    torch takes every core by default; on a machine whose cores are busy with other work its
    threads spin waiting for each other, and training can run several times slower than on one
    thread. The variable reaches the app's server process too.
    """
    import os

    import torch

    os.environ["OMP_NUM_THREADS"] = str(n)
    torch.set_num_threads(n)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mualign", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="CPU threads for torch (default: all cores; 1 is faster on a busy machine)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("import", help="convert and validate a dataset into a project directory",
                       description="Read a dataset (native project, DBP15K id files, or DeepMatcher tables), "
                                   "validate it, and write it as a mualign project directory.")
    p.add_argument("format", choices=["native", "dbp15k", "tables"], help="input format")
    p.add_argument("source", type=Path, help="directory holding the input files")
    p.add_argument("--project", type=Path, required=True, help="project directory to write")
    p.add_argument("--mapping", help="tables only: preset name (dblp_acm, itunes_amazon) or a mapping JSON file")
    p.add_argument("--dedup", action="store_true",
                   help="tables only: drop pairs whose left or right id was already seen in the split "
                        "(the CG-MuAlign reference loader's rule)")
    p.add_argument("--names", choices=["uri", "translated"], default="uri",
                   help="dbp15k only: left names from URIs or from the English translations")
    p.add_argument("--split", choices=["jape", "random"], default="jape",
                   help="dbp15k only: JAPE's 30%% seed / 70%% test layout, or a seeded random 30/70 split")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=cmd_import)

    p = sub.add_parser("block", help="generate candidate pairs per aligned type",
                       description="Keep each left entity's top-k right entities of the same aligned type by "
                                   "name similarity (char n-gram TF-IDF), optionally requiring exact keys to agree.")
    p.add_argument("--project", type=Path, required=True)
    p.add_argument("--top-k", type=int, default=20, help="candidates kept per left entity (default 20)")
    p.add_argument("--key", action="append", default=[], metavar="TYPE=ATTRIBUTE",
                   help="exact key for a type, e.g. film=year (repeatable); missing values never block")
    p.add_argument("--ngram", type=int, nargs=2, default=(3, 3), metavar=("MIN", "MAX"))
    p.add_argument("--exact-limit", type=float, default=1e10, metavar="PAIRS",
                   help="a type with more left x right pairs than this is blocked by sorted neighbourhood "
                        "(n log n) instead of the exact TF-IDF product (default 1e10)")
    p.add_argument("--window", type=int, default=10,
                   help="sorted-neighbourhood names taken either side of each left name, per sort key (default 10)")
    p.set_defaults(run=cmd_block)

    p = sub.add_parser("evaluate", help="score the candidates with a method and print the metrics",
                       description="PRAUC, F1 (threshold from the validation split), Recall at precision 0.95, "
                                   "Hit@1 and MRR, per aligned type and overall.")
    p.add_argument("--project", type=Path, required=True)
    p.add_argument("--method", choices=["name-tfidf", "name-logreg", "model"], default="name-tfidf",
                   help="a name baseline, or 'model' for the project's active CG-MuAlign model")
    p.add_argument("--split", choices=["test", "valid"], default="test")
    p.add_argument("--kg-protocol", action="store_true",
                   help="also rank each true match among all right entities of its type (Hits@1/10, MRR)")
    p.set_defaults(run=cmd_evaluate)

    p = sub.add_parser("train", help="train CG-MuAlign on the project's TRAIN links",
                       description="Train a model (or an ablation) with the margin loss; keep the weights with the "
                                   "best validation PRAUC; store it as a new model version and make it active.")
    p.add_argument("--project", type=Path, required=True)
    p.add_argument("--variant", choices=VARIANTS, default="cg-mualign", help="the full model or an ablation")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.003)
    p.add_argument("--negatives", type=int, default=10, help="negatives per side per positive (default 10)")
    p.add_argument("--hard-negatives", type=float, default=0.0, help="share of negatives drawn from blocked candidates")
    p.add_argument("--margin", type=float, default=1.0)
    p.add_argument("--bce-weight", type=float, default=0.0,
                   help="weight of the optional BCE head on h_i * h_i' (default 0: margin loss only)")
    p.add_argument("--hidden", type=int, default=100)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--cap", type=int, default=10, help="neighbours sampled per node (default 10)")
    p.add_argument("--patience", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("score", help="score every candidate pair with the active model",
                       description="Score all blocked candidates in batches; write scores.tsv with distance, "
                                   "calibrated probability and rank per left entity; print the top-k per left entity.")
    p.add_argument("--project", type=Path, required=True)
    p.add_argument("--model", type=Path, help="checkpoint file (default: the project's active model)")
    p.add_argument("--top-k", type=int, default=1, help="pairs per left entity to print (default 1)")
    p.add_argument("--limit", type=int, default=20, help="left entities to print (default 20)")
    p.set_defaults(run=cmd_score)

    p = sub.add_parser("explain", help="print the attention evidence behind one pair's score",
                       description="For LEFT_ID and RIGHT_ID: each side's sampled neighbours with cross-graph "
                                   "attention alpha, self-attention beta, combined weight w and closest counterpart.")
    p.add_argument("left_id")
    p.add_argument("right_id")
    p.add_argument("--project", type=Path, required=True)
    p.add_argument("--model", type=Path, help="checkpoint file (default: the project's active model)")
    p.set_defaults(run=cmd_explain)

    p = sub.add_parser("demo", help="build the demo projects and model (if absent), then open the review app",
                       description="Generate the bundled demo KG pairs (movies, music) with planted hard cases, "
                                   "block them, evaluate the name-only baselines, train CG-MuAlign and score every "
                                   "candidate; then serve the review app on 127.0.0.1. Projects already built are "
                                   "reused.")
    p.add_argument("--dir", type=Path, default=Path("mualign-demo"), help="where to write the demo projects")
    p.add_argument("--scale", type=int, default=300, help="films / songs per side (default 300)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=8, help="training epochs for the demo model (default 8)")
    p.add_argument("--rebuild", action="store_true", help="regenerate the demo even if it is already built")
    p.add_argument("--no-serve", action="store_true", help="build only; do not start the app")
    _serve_options(p)
    p.set_defaults(run=cmd_demo)

    p = sub.add_parser("review", help="open the review app on a project",
                       description="Serve the Streamlit review app (headless, on 127.0.0.1) for a project directory.")
    p.add_argument("--project", type=Path, required=True)
    _serve_options(p)
    p.set_defaults(run=cmd_review)
    add_labels_parser(sub)
    return parser


def _serve_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--address", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; the app has no login of its "
                        "own, so serve a team through an authenticating reverse proxy, see the README)")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--db", help="SQLAlchemy URL of the label store (default: DIR/labels.sqlite)")


# ---------------------------------------------------------------------------------- commands ---
def cmd_import(args) -> int:
    from core.formats.native import load_project, save_project

    start = time.perf_counter()
    if args.format == "native":
        dataset = load_project(args.source)
    elif args.format == "dbp15k":
        from core.formats.dbp15k import load_dbp15k

        dataset = load_dbp15k(args.source, names=args.names, split=args.split, seed=args.seed)
    else:
        from core.formats.tables import load_tables

        if not args.mapping:
            raise ValueError("tables need --mapping: a preset (dblp_acm, itunes_amazon) or a mapping JSON file")
        dataset = load_tables(args.source, args.mapping, dedup="cg_mualign" if args.dedup else None)
    save_project(dataset, args.project)
    print(f"imported {args.source} -> {args.project} in {time.perf_counter() - start:.1f}s")
    print(json.dumps(dataset.summary(), indent=2, default=str))
    return 0


def _blocked_project(project: Path, dataset=None):
    """(dataset, candidates) of a project that has been blocked; a clear error if it has not."""
    from core.formats.native import CANDIDATES_FILE, load_candidates, load_project

    dataset = dataset or load_project(project)
    if not (project / CANDIDATES_FILE).exists():
        raise FileNotFoundError(f"{project / CANDIDATES_FILE} not found: run `mualign block --project {project}` first")
    return dataset, load_candidates(dataset, project)


def _blocking_config(args):
    from core.blocking.name_blocking import BlockingConfig

    keys = []
    for item in args.key:
        type_name, sep, attribute = item.partition("=")
        if not sep or not type_name or not attribute:
            raise ValueError(f"--key expects TYPE=ATTRIBUTE, got {item!r}")
        keys.append((type_name, attribute))
    return BlockingConfig(top_k=args.top_k, ngram_range=tuple(args.ngram), keys=tuple(keys),
                          exact_pairs_limit=int(args.exact_limit), window=args.window)


def cmd_block(args) -> int:
    from core.blocking.name_blocking import block
    from core.formats.native import load_project, save_candidates
    from core.blocking.report_text import format_blocking_report

    dataset = load_project(args.project)
    unknown = [t for t, _ in _blocking_config(args).keys if t not in dataset.schema.type_names]
    if unknown:
        raise ValueError(f"--key names unknown aligned type(s) {unknown}; known: {list(dataset.schema.type_names)}")
    candidates, report = block(dataset, _blocking_config(args))
    path = save_candidates(dataset, candidates, args.project)
    print(format_blocking_report(report))
    print(f"wrote {len(candidates):,} candidate pairs to {path}")
    return 0


def cmd_evaluate(args) -> int:
    from core.evaluation.harness import format_report
    from core.data.links import Split
    from core.project.lifecycle import make_scorer

    dataset, candidates = _blocked_project(args.project)
    from core.evaluation.harness import evaluate

    if args.method == "model":
        from core.project.checkpoint import load_scorer
        from core.project.model_versions import active_model_path

        scorer, _ = load_scorer(active_model_path(args.project), dataset)
    else:
        scorer = make_scorer(args.method, dataset, candidates)
    report = evaluate(dataset, candidates, scorer, split=Split(args.split), kg_protocol=args.kg_protocol)
    print(format_report(report))
    return 0


def cmd_demo(args) -> int:
    from core.project.model_versions import active_version

    projects = {name: args.dir / name for name in ("movies", "music")}
    built = all(active_version(p) and (p / "scores.tsv").exists() for p in projects.values())
    if built and not args.rebuild:
        print(f"demo projects in {args.dir} are built (models {', '.join(active_version(p) for p in projects.values())}); "
              "--rebuild makes them anew")
    else:
        _build_demo(args)
    if args.no_serve:
        return 0
    return serve(projects["movies"], port=args.port, db=args.db, address=args.address)


def _build_demo(args) -> None:
    from core.demo.writing import write_demo
    from core.evaluation.harness import format_report
    from core.project.lifecycle import run_baselines, run_model, score_candidates
    from core.blocking.report_text import format_blocking_report
    from core.training.loop import TrainConfig

    start = time.perf_counter()
    projects = write_demo(args.dir, scale=args.scale, seed=args.seed)
    print(f"demo data written to {args.dir} ({time.perf_counter() - start:.1f}s)")
    for name, path in projects.items():
        result = run_baselines(path)
        print(f"\n=== {name}: {path}")
        print(format_blocking_report(result.blocking))
        for report in result.reports:
            print()
            print(format_report(report))
        print(f"\ntraining CG-MuAlign on {name} ({args.epochs} epochs at most)...")
        trained = run_model(path, result.dataset, result.candidates, TrainConfig(epochs=args.epochs, seed=args.seed),
                            on_epoch=_print_epoch)
        print(f"model {trained.version} saved as {trained.checkpoint} (best epoch {trained.best_epoch})\n")
        print(format_report(trained.report))
        _, scores = score_candidates(path, result.dataset, result.candidates, trained.scorer, trained.version)
        print(f"scored every candidate pair: {scores}")


def cmd_review(args) -> int:
    if not args.project.is_dir():
        raise FileNotFoundError(f"no project directory {args.project}: make one with `mualign import` or `mualign demo`")
    return serve(args.project, port=args.port, db=args.db, address=args.address)


def serve(project: Path, *, port: int = 8501, db: str | None = None, address: str = "127.0.0.1") -> int:
    """Run the Streamlit app on ``address`` (headless) until interrupted; returns its exit status."""
    import subprocess

    app = Path(__file__).resolve().parents[1] / "app.py"
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.address", address,
               "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
               "--", "--project", str(project.resolve())] + (["--db", db] if db else [])
    print(f"review app: http://{address}:{port}/  (project {project}; Ctrl+C stops it)", flush=True)
    try:
        return subprocess.call(command, cwd=app.parent)
    except KeyboardInterrupt:
        return 0


def _print_epoch(stats) -> None:
    valid = "-" if stats.valid_pr_auc is None else f"{stats.valid_pr_auc:.4f}"
    print(f"  epoch {stats.epoch:>3}  loss {stats.loss:.4f}  valid PRAUC {valid}  "
          f"{stats.positives_per_second:.0f} pos/s{'  *best' if stats.is_best else ''}", flush=True)


def cmd_train(args) -> int:
    from core.evaluation.harness import format_report
    from core.model.cg_mualign import ModelConfig
    from core.project.lifecycle import run_model
    from core.training.loop import TrainConfig

    dataset, candidates = _blocked_project(args.project)
    model_config = ModelConfig.variant(args.variant, hidden=args.hidden, n_layers=args.layers, neighbour_cap=args.cap)
    train_config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                               negatives_per_side=args.negatives, hard_negative_share=args.hard_negatives,
                               margin=args.margin, bce_weight=args.bce_weight, patience=args.patience,
                               seed=args.seed, device=args.device)
    progress = _progress_bar()
    trained = run_model(args.project, dataset, candidates, train_config, model_config=model_config,
                        on_step=progress, on_epoch=_print_epoch, name=args.variant)
    print(f"model {trained.version} saved as {trained.checkpoint} and made active (best epoch {trained.best_epoch}, "
          f"{trained.seconds:.0f}s)")
    print(format_report(trained.report))
    return 0


def _progress_bar():
    """A tqdm bar per epoch showing the running loss (stderr, so stdout stays parseable)."""
    from tqdm import tqdm

    state = {"bar": None}

    def on_step(step) -> None:
        if step.step == 1:
            state["bar"] = tqdm(total=step.steps, desc=f"epoch {step.epoch}", leave=False, file=sys.stderr)
        state["bar"].update(1)
        state["bar"].set_postfix(loss=f"{step.loss:.4f}")
        if step.step == step.steps:
            state["bar"].close()

    return on_step


def _project_scorer(args):
    from core.project.checkpoint import load_scorer
    from core.project.model_versions import active_model_path
    from core.formats.native import load_project

    dataset = load_project(args.project)
    path = args.model or active_model_path(args.project)
    scorer, info = load_scorer(path, dataset)
    return dataset, scorer, info


def cmd_score(args) -> int:
    from core.project.lifecycle import score_candidates

    dataset, scorer, info = _project_scorer(args)
    _, candidates = _blocked_project(args.project, dataset)
    start = time.perf_counter()
    frame, path = score_candidates(args.project, dataset, candidates, scorer, info.version)
    seconds = time.perf_counter() - start
    print(f"scored {len(frame):,} candidate pairs with model {info.version} in {seconds:.1f}s "
          f"({len(frame) / max(seconds, 1e-9):,.0f} pairs/s); wrote {path}")
    top = frame[frame["rank"] <= args.top_k]
    print(top.head(args.limit * args.top_k).to_string(index=False))
    return 0


def cmd_explain(args) -> int:
    from core.explanations.attention import explain_pair, format_explanation

    dataset, scorer, info = _project_scorer(args)
    (left,), (right,) = dataset.left.indices_of([args.left_id]), dataset.right.indices_of([args.right_id])
    if left < 0 or right < 0:
        missing = [i for i, v in ((args.left_id, left), (args.right_id, right)) if v < 0]
        raise KeyError(f"unknown entity id(s) {missing} (left ids are from left/entities.tsv, right from right/)")
    print(format_explanation(explain_pair(scorer, int(left), int(right), model_version=info.version)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
