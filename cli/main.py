"""The ``mualign`` command line: import, block, evaluate, train, score, explain, demo.

Every command reads and writes a project directory (see ``core/formats/native.py``), so the
steps can be run one at a time, inspected, and repeated. Bad input exits with status 2 and the
list of problems as ``path:line: problem`` on stderr.
"""

from __future__ import annotations

import argparse
import errno
import json
import math
import os
import sys
import time
from pathlib import Path

from cli.labels_cmd import add_labels_parser
from cli.server import allowed_host_argument, user_header_argument
from core.formats.errors import DataError
from core.model.config import VARIANTS  # torch-free: mualign --help and the label commands never load torch

EXIT_BAD_INPUT = 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader closed the pipe (e.g. `| head`)


def main(argv: list[str] | None = None) -> int:
    """Run one command; bad input (data, options, files) exits 2 with a message, never a traceback.

    Errors that are the user's to fix arrive as DataError (files, by ``path:line``), ValueError
    (an option or a setting that does not hold), FileNotFoundError (a step not run yet) or another
    OSError (a path that cannot be read or written). Anything else is a bug and keeps its
    traceback. ``MUALIGN_TRACEBACK=1`` shows the traceback of the expected errors too.
    """
    # torch's OpenMP threads spin while they wait for work by default; on a machine whose cores
    # are busy that spinning took 4x the CPU time of the work itself (DBLP-ACM training under
    # load 8: 45 CPU-s an epoch spinning, 11 passive; bench/peer_splink.py). Sleep instead.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse's own errors (exit 2) and --help (exit 0)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_BAD_INPUT)
    try:
        if args.threads:
            use_threads(args.threads)
        return args.run(args) or 0
    except BrokenPipeError:
        # the reader left early (``mualign import ... --json | head``): not an error of the
        # user's input. Say nothing, point stdout at /dev/null so the interpreter's final flush
        # does not fail again, and exit as a process killed by SIGPIPE reports (128 + 13).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except DataError as exc:
        _debug_traceback()
        print(f"mualign {args.command}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (ValueError, FileNotFoundError) as exc:
        _debug_traceback()
        print(f"mualign {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:
        _debug_traceback()
        print(f"mualign {args.command}: error: {describe_os_error(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except MemoryError as exc:
        # host memory: on a pair of a million entities the matcher holds every candidate's features
        # at once (train), as blocking holds its sources' pairs; say so, and what shrinks the work
        _debug_traceback()
        detail = str(exc) or "no detail"
        print(f"mualign {args.command}: error: not enough memory on this machine ({detail}). The work grows with "
              "the number of candidate pairs: `mualign block` with a smaller --top-k or --structure-top-k "
              "makes fewer, or run on a machine with more memory (`--engine ray` spreads blocking and scoring).",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    except RuntimeError as exc:
        # a GPU that fails mid-run (out of memory, a launch failure) is the device's, not a bug:
        # core.model.device.DeviceError says so and how to choose another. Looked up, not
        # imported: importing it loads torch.
        device = sys.modules.get("core.model.device")
        if device is None or not isinstance(exc, device.DeviceError):
            raise
        _debug_traceback()
        print(f"mualign {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _debug_traceback() -> None:
    if os.environ.get("MUALIGN_TRACEBACK") == "1":
        import traceback

        traceback.print_exc()


def describe_os_error(exc: OSError) -> str:
    """``path: reason`` for a file-system error (no space, read-only, not a directory, ...)."""
    where = f"{exc.filename}: " if exc.filename else ""
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENAMETOOLONG:
        reason += " (a file or directory name is longer than the file system allows)"
    return f"{where}{reason}"


def use_threads(n: int) -> None:
    """Cap torch's CPU threads (training, scoring, and the app it serves).

    torch takes every core by default; on a machine whose cores are busy with other work its
    threads spin waiting for each other, and training can run several times slower than on one
    thread. The variable reaches the app's server process too.
    """
    import torch

    os.environ["OMP_NUM_THREADS"] = str(n)
    torch.set_num_threads(n)


# ------------------------------------------------------------------------- option types ---
def _int_at_least(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    return _int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    """An argparse type: an integer >= 0."""
    return _int_at_least(text, 0)


def pair_count(text: str) -> int:
    """An argparse type: a finite count of pairs >= 0, written as an integer or like 1e10."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of pairs such as 1e10, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return int(value)


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 1 to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 1 to 65535, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mualign", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=positive_int, default=None, metavar="N",
                        help="CPU threads for torch (default: all cores, except that training steps of "
                             "small batches use one, which is faster; 1 is faster on a busy machine)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("import", help="convert and validate a dataset into a project directory",
                       description="Read a dataset (native project, DBP15K id files, or DeepMatcher tables), "
                                   "validate it, and write it as a mualign project directory.")
    p.add_argument("format", choices=["native", "dbp15k", "tables"], help="input format")
    p.add_argument("source", type=Path, help="directory holding the input files")
    p.add_argument("--project", type=Path, help="project directory to write")
    p.add_argument("--mapping", help="tables only: preset name (dblp_acm, itunes_amazon) or a mapping JSON file")
    p.add_argument("--dedup", action="store_true",
                   help="tables only: drop pairs whose left or right id was already seen in the split "
                        "(the CG-MuAlign reference loader's rule)")
    p.add_argument("--names", choices=["uri", "translated"], default="uri",
                   help="dbp15k only: left names from URIs or from the English translations")
    p.add_argument("--split", choices=["jape", "random"], default="jape",
                   help="dbp15k only: JAPE's 30%% seed / 70%% test layout, or a seeded random 30/70 split")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--write-mapping", type=Path, metavar="FILE",
                   help="tables only: write a template mapping JSON for SOURCE's columns to FILE and stop "
                        "(edit it, then import with --mapping FILE)")
    p.add_argument("--json", action="store_true", help="print the imported data's summary as JSON")
    p.set_defaults(run=cmd_import)

    p = sub.add_parser("block", help="generate candidate pairs per aligned type",
                       description="Keep each left entity's top-k right entities of the same aligned type by "
                                   "name similarity (char n-gram TF-IDF), optionally requiring exact keys to agree.")
    p.add_argument("--project", type=Path, required=True)
    p.add_argument("--top-k", type=positive_int, default=20, help="candidates kept per left entity (default 20)")
    p.add_argument("--key", action="append", default=[], metavar="TYPE=ATTRIBUTE",
                   help="exact key for a type, e.g. film=year (repeatable); missing values never block")
    p.add_argument("--ngram", type=int, nargs=2, default=(3, 3), metavar=("MIN", "MAX"))
    p.add_argument("--exact-limit", type=pair_count, default=10_000_000_000, metavar="PAIRS",
                   help="a type with more left x right pairs than this is blocked by sorted neighbourhood "
                        "(n log n) instead of the exact TF-IDF product (default 1e10)")
    p.add_argument("--window", type=int, default=10,
                   help="sorted-neighbourhood names taken either side of each left name, per sort key (default 10)")
    p.add_argument("--structure-top-k", type=int, default=10, metavar="K", help="also keep each left entity's top K right entities by structural similarity when the project has TRAIN links (label propagation from them; anchor profiles for graphs too large for it): names need not share a character; 0: names only (default 10)")
    p.add_argument("--embedding-top-k", type=non_negative_int, default=0, metavar="K",
                   help="also keep each left entity's top K right entities by the active model's per-entity "
                        "embeddings (needs a trained model; block again after `mualign train`, then "
                        "`mualign score`); 0: none (default)")
    _engine_options(p)
    p.set_defaults(run=cmd_block)

    p = sub.add_parser("evaluate", help="score the candidates with a method and print the metrics",
                       description="PRAUC, F1 (threshold from the validation split), Recall at precision 0.95, "
                                   "Hit@1 and MRR, per aligned type and overall.")
    p.add_argument("--project", type=Path, required=True)
    p.add_argument("--method", choices=["mualign", "model", "name-tfidf", "name-logreg"], default=None,
                   help="mualign (default once a model is trained): the matcher over the active model's "
                        "distances, the project's default score; model: the active CG-MuAlign model's "
                        "distance alone; or a name baseline (the default before any training, and with "
                        "--kg-protocol)")
    p.add_argument("--split", choices=["test", "valid"], default="test")
    p.add_argument("--kg-protocol", action="store_true",
                   help="also rank each true match among all right entities of its type (Hits@1/10, MRR)")
    p.set_defaults(run=cmd_evaluate)

    p = sub.add_parser("train", help="train CG-MuAlign on the project's TRAIN links",
                       description="Train a model (or an ablation) with the margin loss; keep the weights with the "
                                   "best validation PRAUC; store it as a new model version and make it active.")
    p.add_argument("--project", type=Path, required=True)
    p.add_argument("--variant", choices=VARIANTS, default="cg-mualign", metavar="VARIANT",
                   help="the full model or an ablation: %(choices)s (default %(default)s)")
    p.add_argument("--epochs", type=int, default=20, help="epochs at most (default 20; see --patience)")
    p.add_argument("--batch-size", type=int, default=32,
                   help="positive pairs per step (default 32, the paper's; larger batches keep a GPU busy)")
    p.add_argument("--lr", type=float, default=0.003, help="Adam's learning rate for a batch of 32 (default 0.003)")
    p.add_argument("--lr-scaling", choices=["none", "sqrt", "linear"], default="sqrt",
                   help="scale --lr by (batch size / 32) to the power 1/2 or 1 for other batch sizes "
                        "(default sqrt; no change at batch 32)")
    p.add_argument("--negatives", type=int, default=10, help="negatives per side per positive (default 10)")
    p.add_argument("--hard-negatives", type=float, default=0.0, help="share of negatives drawn from blocked candidates")
    p.add_argument("--margin", type=float, default=1.0)
    p.add_argument("--bce-weight", type=float, default=0.0,
                   help="weight of the optional BCE head on h_i * h_i' (default 0: margin loss only)")
    p.add_argument("--hidden", type=int, default=100)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--cap", type=int, default=10, help="neighbours sampled per node (default 10)")
    p.add_argument("--patience", type=int, default=2,
                   help="stop after this many epochs without a validation PRAUC gain of at least "
                        "--min-improvement; the best epoch's weights are kept (default 2)")
    p.add_argument("--min-improvement", type=float, default=0.002,
                   help="a smaller validation PRAUC gain counts as none (default 0.002; 0: any gain counts)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default: cuda when available)")
    p.add_argument("--no-score", action="store_true",
                   help="do not write the score table of the new version (by default train scores every "
                        "candidate with it, reusing the distances the matcher was fitted on, so `mualign score` "
                        "has nothing left to do)")
    _engine_options(p)
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("score", help="score every candidate pair with the active model",
                       description="Score all blocked candidates in batches; write scores.tsv with distance, "
                                   "calibrated probability and rank per left entity; print the top-k per left entity.")
    p.add_argument("--project", type=Path, required=True)
    p.add_argument("--model", type=Path, help="checkpoint file (default: the project's active model)")
    p.add_argument("--top-k", type=positive_int, default=1, help="pairs per left entity to print (default 1)")
    p.add_argument("--limit", type=positive_int, default=20, help="left entities to print (default 20)")
    p.add_argument("--force", action="store_true",
                   help="score again even when the version's stored table already covers these candidates")
    _engine_options(p)
    p.set_defaults(run=cmd_score)

    p = sub.add_parser("explain", help="print why a pair is decided as it is, and the attention evidence",
                       description="For LEFT_ID and RIGHT_ID: the matcher's match log-odds as a waterfall of "
                                   "per-group contributions (baseline, name, each attribute, structure, gnn; they "
                                   "add up to the log-odds, then the probability), then each side's sampled "
                                   "neighbours with cross-graph attention alpha, self-attention beta, combined "
                                   "weight w and closest counterpart.")
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

    p = sub.add_parser("export", help="write the decided links (links) or the project as a DGL graph pair (dgl)",
                       description="--format links: the pairs the active version decides are matches (the "
                                   "matcher's threshold, then its 1-to-1 step where a type is one-to-one; a "
                                   "version without a matcher: calibrated probability >= 0.5) as a TSV "
                                   "left_id, right_id, type, probability. --format dgl: both graphs as DGL "
                                   "heterographs (typed nodes, (head type, relation, tail type) edges) with the "
                                   "alignment (links, splits, candidates) as tensors, written with "
                                   "dgl.save_graphs, plus the node ids and names; for training your own DGL "
                                   "models on the aligned pair (see core/project/dgl_export.py).")
    p.add_argument("--project", type=Path, required=True)
    p.add_argument("--format", choices=["dgl", "links"], default="dgl")
    p.add_argument("--out", type=Path, required=True,
                   help="dgl: folder to write (created if absent); links: the TSV file to write")
    p.set_defaults(run=cmd_export)
    add_labels_parser(sub)
    return parser


def _engine_options(p: argparse.ArgumentParser) -> None:
    """--engine/--address/--workers of the batch stages (block, score, train)."""
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local: this process (default); ray: Ray tasks/actors/workers, same results "
                        "(see the README 'Running on a cluster')")
    p.add_argument("--address", default=None, metavar="ADDR",
                   help="ray only: the cluster's head (host:port, as printed by `ray start --head`); "
                        "default: a local Ray on 127.0.0.1 for this command")
    p.add_argument("--workers", type=positive_int, default=2, metavar="N",
                   help="ray only: blocking shards / scoring actors / training workers in parallel (default 2)")


def _engine_session(args):
    """A context yielding None for --engine local, or a connected Ray's RayEngine for --engine ray.

    Ray is imported only on the second path. --threads, when given, is each Ray worker's torch
    thread count too (by default the workers take this process's).
    """
    import contextlib

    if args.engine == "local":
        if args.address:
            raise ValueError("--address is the Ray cluster to use: give it with --engine ray")
        return contextlib.nullcontext()
    from core.distributed.cluster import RayEngine, ray_session

    return ray_session(RayEngine(address=args.address, workers=args.workers, threads_per_worker=args.threads))


def _serve_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--address", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; the app has no login of its "
                        "own, so serve a team through an authenticating reverse proxy, see the README)")
    p.add_argument("--port", type=port_number, default=8501)
    p.add_argument("--db", help="SQLAlchemy URL of the label store (default: DIR/labels.sqlite)")
    p.add_argument("--allowed-host", action="append", default=[], type=allowed_host_argument, metavar="HOST",
                   help="a host name the app may be reached under besides 127.0.0.1, localhost and --address "
                        "(a reverse proxy's public name); requests naming any other host get 403 (DNS rebinding)")
    p.add_argument("--user-header", type=user_header_argument, metavar="NAME",
                   help="take the analyst's name from this request header, set by a trusted authenticating "
                        "proxy (e.g. X-Forwarded-User); the Analyst box then only shows it")


# ---------------------------------------------------------------------------------- commands ---
def cmd_import(args) -> int:
    if args.write_mapping is not None:
        return _write_mapping(args)
    if args.project is None:
        raise ValueError("import needs --project DIR: the project directory to write")
    check_output_directory(args.project)
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
            raise ValueError("tables need --mapping: a preset (dblp_acm, itunes_amazon) or a mapping JSON file "
                             "(`mualign import tables SOURCE --write-mapping FILE` writes a template)")
        dataset = load_tables(args.source, args.mapping, dedup="cg_mualign" if args.dedup else None)
    save_project(dataset, args.project)
    done = f"imported {args.source} -> {args.project} in {time.perf_counter() - start:.1f}s"
    summary = dataset.summary()
    if args.json:
        print(done, file=sys.stderr)
        print(json.dumps(summary, indent=2, ensure_ascii=False, default=str))
    else:
        print(done)
        print(format_summary(summary))
    return 0


def _write_mapping(args) -> int:
    from core.formats.mapping_template import write_mapping_template

    if args.format != "tables":
        raise ValueError("--write-mapping is for `mualign import tables`: other formats need no mapping")
    path = write_mapping_template(args.source, args.write_mapping)
    print(f"wrote a template mapping for the tables in {args.source} to {path}; edit it (each key's "
          f'"_comment" says what it means), then run `mualign import tables {args.source} --mapping {path} '
          "--project DIR`")
    return 0


def check_output_directory(path: Path) -> None:
    """Refuse, before any work, a project path that can never become a directory.

    An existing file, a path under a file, or a name longer than the file system allows would
    otherwise fail only after the input was read and checked (minutes for a large data set).
    """
    limit = 255
    for parent in path.absolute().parents:  # the nearest existing ancestor
        if _exists(parent):
            if not parent.is_dir():
                raise ValueError(f"--project {path}: {parent} is a file, so no directory can be made under it")
            try:
                limit = os.pathconf(parent, "PC_NAME_MAX")
            except (OSError, ValueError):
                pass
            break
    for part in path.parts:
        size = len(os.fsencode(part))
        if size > limit:
            raise ValueError(f"--project: the name {part[:40]!r}... is {size} bytes long; the file system "
                             f"allows {limit} bytes per name")
    if path.exists() and not path.is_dir():
        raise ValueError(f"--project {path} exists and is not a directory")


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name too long, a loop of links: it cannot be a usable ancestor
        return False


def format_summary(summary: dict) -> str:
    """A few lines on what was imported (``--json`` prints the whole summary instead)."""
    lines = [f"data set {summary.get('name')!r}"]
    for side in ("left", "right"):
        kg = summary[side]
        types, relations = kg["entities_per_type"], kg["triples_per_relation"]
        top = sorted(relations.items(), key=lambda item: -item[1])[:3]
        shown = ", ".join(f"{_short(name)} {count:,}" for name, count in top)
        more = f", {len(relations) - 3:,} more" if len(relations) > 3 else ""
        lines.append(f"{side:<6} {kg['entities']:>10,} entities in {len(types)} type(s), {kg['triples']:>10,} triples "
                     f"in {len(relations):,} relation(s) ({shown}{more}), {len(kg['attributes'])} attribute(s)")
    lines.append(f"aligned types: {', '.join(summary['aligned_types'])}")
    for split, per_type in summary["positive_links"].items():
        parts = ", ".join(f"{t} {n:,}" for t, n in per_type.items())
        lines.append(f"{split:<6} matches: {sum(per_type.values()):,} ({parts})")
    lines.append(f"labelled non-matches: {summary['labelled_negatives']:,}")
    lines.append("(--json prints every count)")
    return "\n".join(lines)


def _short(name: str, limit: int = 32) -> str:
    """A relation name short enough for one line: a URI's last part, clipped to ``limit``."""
    name = str(name)
    if "://" in name:
        name = name.rstrip("/#").replace("#", "/").rsplit("/", 1)[-1]
    return name if len(name) <= limit else name[:limit - 1] + "…"


def _blocking_config(args):
    from core.blocking.config import BlockingConfig

    keys = []
    for item in args.key:
        type_name, sep, attribute = item.partition("=")
        if not sep or not type_name or not attribute:
            raise ValueError(f"--key expects TYPE=ATTRIBUTE, got {item!r}")
        keys.append((type_name, attribute))
    return BlockingConfig(top_k=args.top_k, ngram_range=tuple(args.ngram), keys=tuple(keys),
                          exact_pairs_limit=args.exact_limit, window=args.window,
                          structure_top_k=getattr(args, "structure_top_k", 10),
                          embedding_top_k=getattr(args, "embedding_top_k", 0))


def cmd_block(args) -> int:
    from core.blocking.report_text import format_blocking_report
    from core.formats.native import CANDIDATES_FILE
    from core.project.lifecycle import BLOCKING_REPORT_FILE, block_project

    config = _blocking_config(args)
    embeddings = dataset = None
    if config.embedding_top_k:
        from core.project.lifecycle import load_dataset, model_embeddings

        dataset = load_dataset(args.project)
        embeddings = model_embeddings(args.project, dataset)
    with _engine_session(args) as engine:
        blocker = None
        if engine is not None:
            from core.distributed.blocking import block_on_ray

            def blocker(dataset, config, embeddings=None):
                return block_on_ray(dataset, config, engine, embeddings=embeddings)
        blocked = block_project(args.project, config, blocker=blocker, dataset=dataset, embeddings=embeddings)
    print(format_blocking_report(blocked.report))
    print(f"wrote {len(blocked.candidates):,} candidate pairs to {args.project / CANDIDATES_FILE} "
          f"and their report to {args.project / BLOCKING_REPORT_FILE}")
    return 0


def cmd_evaluate(args) -> int:
    from core.data.links import Split
    from core.evaluation.harness import format_report
    from core.project.lifecycle import evaluate_with_decisions, format_decisions
    from core.project.model_versions import active_version

    method = args.method
    if method is None:  # the default score once a model is trained; name similarity before
        method = "name-tfidf" if args.kg_protocol or active_version(args.project) is None else "mualign"
        if method == "name-tfidf" and not args.kg_protocol:
            print("mualign evaluate: no model trained yet, so the name-only baseline (name-tfidf) is "
                  f"evaluated; `mualign train --project {args.project}` fits the default scorer", file=sys.stderr)
    progress = scoring_progress("scoring pairs") if method in ("model", "mualign") else None
    result = evaluate_with_decisions(args.project, method, split=Split(args.split), kg_protocol=args.kg_protocol,
                                     on_progress=progress)
    if result.note:
        print(f"mualign evaluate: {result.note}", file=sys.stderr)
    print(format_report(result.report))
    if line := format_decisions(result):
        print(line)
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
    return serve(projects["movies"], port=args.port, db=args.db, address=args.address,
                 allowed_hosts=args.allowed_host, user_header=args.user_header)


def _build_demo(args) -> None:
    from core.blocking.report_text import format_blocking_report
    from core.demo.writing import write_demo
    from core.evaluation.harness import format_report
    from core.project.lifecycle import run_baselines, run_model, score_candidates
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
        trained = run_model(path, result.dataset, result.candidates,
                            TrainConfig(epochs=args.epochs, seed=args.seed, step_threads=args.threads),
                            on_epoch=_print_epoch)
        print(f"model {trained.version} saved as {trained.checkpoint} (best epoch {trained.best_epoch})\n")
        print(format_report(trained.report))
        print_matcher(trained)
        _, scores = score_candidates(path, result.dataset, result.candidates, trained.default_scorer,
                                     trained.version, on_progress=scoring_progress("scoring candidates"))
        print(f"scored every candidate pair: {scores}")


def cmd_review(args) -> int:
    from cli.labels_cmd import check_label_store

    if not args.project.is_dir():
        raise FileNotFoundError(f"no project directory {args.project}: make one with `mualign import` or `mualign demo`")
    check_label_store(args.project, args.db)  # a bad --db is refused here, not in the browser
    return serve(args.project, port=args.port, db=args.db, address=args.address,
                 allowed_hosts=args.allowed_host, user_header=args.user_header)


def serve(project: Path, *, port: int = 8501, db: str | None = None, address: str = "127.0.0.1",
          allowed_hosts: list[str] = (), user_header: str | None = None) -> int:
    """Serve the app until interrupted (its settings and Host allowlist: ``cli/server.py``); the exit status."""
    import subprocess

    from cli.server import allowed_hosts as hosts, streamlit_command

    command = streamlit_command(project, port=port, db=db, address=address, allowed=allowed_hosts,
                                user_header=user_header)
    print(f"review app: http://{address}:{port}/  (project {project}; Ctrl+C stops it)\n"
          f"answers requests addressed to {', '.join(hosts(address, allowed_hosts))} (--allowed-host adds names)"
          + (f"; analyst names from the {user_header} header" if user_header else ""), flush=True)
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return 0


def _print_epoch(stats) -> None:
    valid = "-" if stats.valid_pr_auc is None else f"{stats.valid_pr_auc:.4f}"
    print(f"  epoch {stats.epoch:>3}  loss {stats.loss:.4f}  valid PRAUC {valid}  "
          f"{stats.positives_per_second:.0f} pos/s{'  *best' if stats.is_best else ''}", flush=True)


def check_device(name: str) -> None:
    """Refuse, before any data is loaded, a ``--device`` this machine cannot train on.

    The rule is core.model.device's (names, a probe computation on a GPU); its DeviceError becomes
    a ValueError here, so ``mualign`` exits 2 with the message (which names the device and says
    to use ``--device cpu``).
    """
    from core.model.device import DeviceError, resolve_device

    try:
        resolve_device(name)
    except DeviceError as exc:
        raise ValueError(f"--device {name}: {exc}") from None


def cmd_train(args) -> int:
    check_device(args.device)
    from core.evaluation.harness import format_report
    from core.model.config import ModelConfig
    from core.project.lifecycle import load_blocked, run_model
    from core.training.loop import TrainConfig

    model_config = ModelConfig.variant(args.variant, hidden=args.hidden, n_layers=args.layers, neighbour_cap=args.cap)
    train_config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                               negatives_per_side=args.negatives, hard_negative_share=args.hard_negatives,
                               margin=args.margin, bce_weight=args.bce_weight, patience=args.patience,
                               seed=args.seed, device=args.device, lr_scaling=args.lr_scaling,
                               min_improvement=args.min_improvement, step_threads=args.threads)
    dataset, candidates = load_blocked(args.project)
    progress = _progress_bar()
    with _engine_session(args) as engine:
        trainer = None
        if engine is not None:
            from functools import partial

            from core.distributed.training import train_on_ray

            trainer = partial(train_on_ray, engine=engine)
        trained = run_model(args.project, dataset, candidates, train_config, model_config=model_config,
                            on_step=progress, on_epoch=_print_epoch, name=args.variant, trainer=trainer)
    print(f"model {trained.version} saved as {trained.checkpoint} and made active (best epoch {trained.best_epoch}, "
          f"{trained.seconds:.0f}s)")
    print(format_report(trained.report))
    print_matcher(trained)
    if not args.no_score:
        _write_train_scores(args.project, dataset, candidates, trained)
    return 0


def _write_train_scores(project: Path, dataset, candidates, trained) -> None:
    """The new version's score table, written now: the matcher holds every candidate's distance already.

    Scoring later (``mualign score``) would run the GNN over every candidate again; here only the
    matcher's features are computed, and ``mualign score`` then finds the table current.
    """
    from core.project.lifecycle import score_candidates

    start = time.perf_counter()
    _, path = score_candidates(project, dataset, candidates, trained.default_scorer, trained.version)
    print(f"scored the {len(candidates):,} candidate pairs with version {trained.version} in "
          f"{time.perf_counter() - start:.1f}s; wrote {path}")


def print_matcher(trained) -> None:
    """The matcher fitted with a new version: where it is, its fit time and its TEST figures."""
    from core.evaluation.harness import format_report
    from core.project.lifecycle import format_decisions
    from core.project.model_versions import matcher_dir

    fitted = trained.matcher
    if fitted is None:
        return
    if fitted.scorer is None:
        print(f"\n{fitted.note}")
        return
    print(f"\nmatcher fitted over the model's distances in {fitted.seconds:.1f}s, stored in "
          f"{matcher_dir(trained.checkpoint.parent.parent, trained.version)}; it is the version's default score "
          f"(threshold {fitted.scorer.threshold:.3f} on the probability, chosen on VALID)")
    print(format_report(trained.matcher_report.report))
    print(format_decisions(trained.matcher_report))


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


def scoring_progress(label: str):
    """``on_progress(done, total)`` drawing a tqdm bar on stderr per scoring call.

    Evaluation scores twice (the VALID pairs for the threshold, then the reported split), so a
    call that starts again from the beginning gets a bar of its own.
    """
    from tqdm import tqdm

    state = {"bar": None, "done": 0}

    def on_progress(done: int, total: int) -> None:
        if state["bar"] is None or done < state["done"]:
            if state["bar"] is not None:
                state["bar"].close()
            state["bar"] = tqdm(total=total, desc=label, unit="pair", unit_scale=True, leave=False, file=sys.stderr)
            state["done"] = 0
        state["bar"].update(done - state["done"])
        state["done"] = done
        if done >= total:
            state["bar"].close()
            state["bar"], state["done"] = None, 0

    return on_progress


def cmd_score(args) -> int:
    from core.project.lifecycle import active_scorer, evaluation_scorer, load_blocked, score_candidates

    dataset, candidates = load_blocked(args.project)
    if not (args.force or args.model) and (current := _current_table(args.project, dataset, candidates)) is not None:
        frame, version, path = current
        print(f"the score table of version {version} already covers these {len(frame):,} candidate pairs "
              f"(written when it was trained); kept as {path} (--force scores again)")
        _print_top(frame, args)
        return 0
    scorer, info = active_scorer(args.project, dataset, model_path=args.model)
    version = info.version if args.model else _active(args.project)
    start = time.perf_counter()
    with _engine_session(args) as engine:
        progress = scoring_progress("scoring candidates")
        if engine is not None:
            from core.distributed.scoring import RayScorer

            scorer, progress = RayScorer(scorer, engine, on_progress=progress), None
        scorer, note = evaluation_scorer(args.project, version, dataset, candidates, scorer)
        if note:
            print(f"mualign score: {note}", file=sys.stderr)
        frame, path = score_candidates(args.project, dataset, candidates, scorer, version, on_progress=progress)
    seconds = time.perf_counter() - start
    print(f"scored {len(frame):,} candidate pairs with model {version} in {seconds:.1f}s "
          f"({len(frame) / max(seconds, 1e-9):,.0f} pairs/s); wrote {path}")
    _print_top(frame, args)
    return 0


def _current_table(project: Path, dataset, candidates):
    """(table, version, path) when the active version's stored table covers ``candidates``, else None."""
    import shutil

    from core.project.model_versions import active_version, has_matcher
    from core.project.score_table import current_scores, scores_path

    version = active_version(project)
    if version is None:
        return None
    frame = current_scores(project, version, dataset, candidates, matcher=has_matcher(project, version))
    if frame is None:
        return None
    path = project / "scores.tsv"
    shutil.copyfile(scores_path(project, version), path)  # scores.tsv always shows the active version
    return frame, version, path


def _print_top(frame, args) -> None:
    top = frame[frame["rank"] <= args.top_k]
    shown = [c for c in frame.columns if not c.startswith("contribution:") and c != "baseline"]
    print(top[shown].head(args.limit * args.top_k).to_string(index=False))


def _active(project: Path) -> str:
    from core.project.model_versions import active_model_path, active_version

    active_model_path(project)  # no version: says which command trains one
    return active_version(project)


def cmd_export(args) -> int:
    if args.format == "links":
        return _export_links(args)
    from core.formats.native import CANDIDATES_FILE
    from core.project.dgl_export import export_dgl
    from core.project.lifecycle import load_blocked, load_dataset

    start = time.perf_counter()
    blocked = (args.project / CANDIDATES_FILE).exists()
    dataset, candidates = load_blocked(args.project) if blocked else (load_dataset(args.project), None)
    out = export_dgl(dataset, args.out, candidates)
    print(f"wrote the DGL export of {args.project} to {out} in {time.perf_counter() - start:.1f}s "
          f"({'with' if blocked else 'without'} candidates); load it with "
          "dgl.load_graphs(str(out / 'graphs.bin')) or core.project.dgl_export.load_dgl_export")
    return 0


def _export_links(args) -> int:
    from core.formats.textio import atomic_write_text
    from core.project.lifecycle import decided_links

    if args.out.is_dir():
        raise ValueError(f"--out {args.out} is a directory; --format links writes one TSV file (e.g. {args.out}/links.tsv)")
    own = {(args.project / name).resolve() for name in ("links.tsv", "schema.json", "candidates.tsv", "scores.tsv",
                                                        "blocking_report.json")}
    if args.out.resolve() in own:
        raise ValueError(f"--out {args.out} is one of the project's own files; write the links elsewhere "
                         "(e.g. decided-links.tsv)")
    links, version, note = decided_links(args.project)
    if note:
        print(f"mualign export: {note}", file=sys.stderr)
    atomic_write_text(args.out, links.to_csv(sep="\t", index=False, lineterminator="\n"))
    print(f"wrote {len(links):,} decided links of model version {version} to {args.out}")
    return 0


def cmd_explain(args) -> int:
    from core.explanations.attention import explain_pair, format_explanation
    from core.explanations.waterfall import format_waterfall
    from core.formats.native import aligned_types_of_entities
    from core.project.lifecycle import active_scorer, load_dataset, pair_waterfall

    dataset = load_dataset(args.project)
    (left,), (right,) = dataset.left.indices_of([args.left_id]), dataset.right.indices_of([args.right_id])
    if left < 0 or right < 0:
        missing = [i for i, v in ((args.left_id, left), (args.right_id, right)) if v < 0]
        raise ValueError(f"unknown entity id(s) {missing} (left ids are from left/entities.tsv, right from right/)")
    left_type = aligned_types_of_entities(dataset.left, dataset.schema, "left")[left]
    right_type = aligned_types_of_entities(dataset.right, dataset.schema, "right")[right]
    if left_type < 0 or left_type != right_type:
        own = [kg.type_names[kg.entity_types[i]] for kg, i in ((dataset.left, left), (dataset.right, right))]
        raise ValueError(f"{args.left_id!r} is a left {own[0]!r} and {args.right_id!r} a right {own[1]!r}, which "
                         "schema.json does not align: only a pair of one aligned type has a score to explain")
    scorer, info = active_scorer(args.project, dataset, model_path=args.model)
    version = info.version if args.model else _active(args.project)
    waterfall, note = pair_waterfall(args.project, version, dataset, scorer, int(left), int(right))
    print(f"model version {version}: pair {args.left_id} <-> {args.right_id}")
    print(format_waterfall(waterfall) if waterfall is not None else f"({note})")
    print()
    print(format_explanation(explain_pair(scorer, int(left), int(right), model_version=info.version)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
