"""Scale: a KG pair the size of the paper's Movie set, from files to a trained model and a drawn pair.

    python bench/scale.py                                  # ~2.7M nodes in all, every stage
    python bench/scale.py --entities 100000 --stages load block   # a smaller pair, some stages
    python bench/scale.py --growth                         # cost growth: epoch time vs pairs, vs graph size

The paper's Movie pair: about 2.7M nodes, 6.9M edges, 4 entity types, 8 relations, 53,405 training
positives. Here the demo movie generator (4 types: film, person, genre, character) at about 1.35M
entities per side is written as a mualign project directory (TSV files), then each stage runs in a
fresh child process, so its peak RSS is its own and includes loading the project:

- ``load``  : ``load_project`` from the TSV files (target <= 60 s);
- ``open``  : the project opened the way the CLI and the app open it (``core.project.cache``):
  three fresh processes, so the first builds the binary cache (or finds it stale) and the next
  two read it; each reports its wall time from interpreter start (a CLI command's start-up:
  imports and the project; target <= 5 s), CPU seconds and how the cache was used. ``features``
  adds the model's encoded input features (the second process of a pair reads them from the
  cache);
- ``dgl``   : the same graphs written as DGL heterographs (``mualign export --format dgl``) and
  read back with ``dgl.load_graphs``, against reading them from the project cache;
- ``block`` : load + blocking per aligned type (top-k TF-IDF), candidates saved;
- ``train`` : load + one epoch over 50,000 positive pairs of the default model (target peak RSS
  <= 8 GiB);
- ``cut``   : a sibling project with the same graphs and model but each left entity's
  ``--app-top-k`` best candidates only (a smaller score table for the app stage);
- ``score`` : load + every candidate scored by the trained model, the app's score table written
  (a batch job, as ``mualign score``);
- ``app``   : the review app itself (Streamlit's AppTest, in one process): the time to open the
  project on the review page, then the time from pressing Accept to the next pair drawn
  (target <= 2 s per pair once the project is open).

``--growth`` measures what an epoch costs (training steps only) against the number of training
pairs (10K-100K, on the large pair) and against graph size at a fixed 10,000 pairs (from 10K to
1.35M entities per side): the first should be linear, the second flat (the cap bounds the work per
pair). Writes bench/results/scale.json (and scale_growth.json with --growth).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _common import REPO, peak_rss_mb, record, write_results

ENTITIES_PER_FILM = 11.5


def _process_start() -> float:
    """This process's start (epoch seconds), from /proc: stage times then include interpreter start-up."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return time.time()


_PROCESS_START = _process_start()
DEFAULT_DIR = Path(os.environ.get("MUALIGN_SCALE_DIR", "/tmp/mualign-scale"))


def project_dir(entities: int) -> Path:
    return DEFAULT_DIR / f"movies-{entities}"


# ------------------------------------------------------------------------------ child stages ---
def stage_generate(directory: Path, entities: int) -> dict:
    from core.demo.movies import generate_movie_pair
    from core.formats.native import save_project

    start = time.perf_counter()
    dataset = generate_movie_pair(max(1, round(entities / ENTITIES_PER_FILM)), seed=0).dataset
    save_project(dataset, directory)
    return {"seconds": time.perf_counter() - start}


def _load(directory: Path):
    from core.project.cache import load_project_cached as load_project

    start = time.perf_counter()
    dataset = load_project(directory)
    return dataset, time.perf_counter() - start


def stage_open(directory: Path, with_features: int = 0) -> dict:
    """Open the project as a CLI command does; the time runs from interpreter start."""
    import resource

    from core.project.cache import open_project

    start = time.perf_counter()
    dataset, outcome = open_project(directory)
    out = {"open_seconds": time.perf_counter() - start, "cache_used": int(outcome.used),
           "cache_written": int(outcome.written), "reason": outcome.reason}
    if with_features:
        from core.features.entity_features import encode_entities, fit_feature_spec

        start = time.perf_counter()
        spec = fit_feature_spec(dataset)
        for side in ("left", "right"):
            encode_entities(getattr(dataset, side), spec, side)
        out["features_seconds"] = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out["process_wall_seconds"] = time.time() - _PROCESS_START
    out["process_cpu_seconds"] = usage.ru_utime + usage.ru_stime
    return out


def stage_dgl(directory: Path) -> dict:
    """Write the DGL export, then time ``dgl.load_graphs`` against the project cache's graphs."""
    import shutil
    import tempfile

    dataset, load_seconds = _load(directory)
    from core.model._dgl import dgl  # imported before timing: both readers below then pay no import
    from core.project.dgl_export import GRAPHS_FILE, export_dgl

    out_dir = Path(tempfile.mkdtemp(prefix="scale-dgl-", dir=directory.parent))
    try:
        start = time.perf_counter()
        export_dgl(dataset, out_dir)
        export_seconds = time.perf_counter() - start
        start = time.perf_counter()
        dgl.load_graphs(str(out_dir / GRAPHS_FILE))
        dgl_load_seconds = time.perf_counter() - start
        size_mb = (out_dir / GRAPHS_FILE).stat().st_size / 2**20
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    from core.project.cache import open_project

    start = time.perf_counter()
    open_project(directory)
    return {"export_seconds": export_seconds, "dgl_load_graphs_seconds": dgl_load_seconds,
            "dgl_file_mb": size_mb, "cache_open_seconds": time.perf_counter() - start}


def stage_load(directory: Path) -> dict:
    from core.formats.native import load_project

    start = time.perf_counter()
    dataset = load_project(directory)
    seconds = time.perf_counter() - start
    left, right = dataset.left, dataset.right
    return {"seconds": seconds, "nodes": left.n_entities + right.n_entities,
            "edges": left.n_triples + right.n_triples, "types": len(left.type_names),
            "relations": len(left.relation_names), "links": len(dataset.links)}


def stage_block(directory: Path, top_k: int) -> dict:
    from core.blocking.name_blocking import BlockingConfig, block
    from core.formats.native import save_candidates

    dataset, load_seconds = _load(directory)
    start = time.perf_counter()
    candidates, report = block(dataset, BlockingConfig(top_k=top_k))
    seconds = time.perf_counter() - start
    save_candidates(dataset, candidates, directory)
    return {"seconds": seconds, "load_seconds": load_seconds, "candidates": len(candidates),
            "pair_completeness": report.pair_completeness}


def _train(dataset, positives: int, *, seed: int = 0, validate: bool = True):
    import numpy as np

    from core.model.setup import build_setup
    from core.data.links import Split
    from core.model.cg_mualign import ModelConfig
    from core.training.loop import TrainConfig, train

    model_config = ModelConfig()
    if not validate:  # growth runs time the steps alone: keep no VALID pairs to score after the epoch
        from dataclasses import replace

        links = dataset.links
        dataset = replace(dataset, links=links.select(links.split != Split.VALID.code))
    setup = build_setup(dataset, model_config)
    steps = int(np.ceil(positives / 32))
    result = train(setup, model_config, TrainConfig(epochs=1, max_steps_per_epoch=steps, seed=seed))
    return result


def stage_train(directory: Path, positives: int) -> dict:
    from core.project.model_versions import store_version

    dataset, load_seconds = _load(directory)
    start = time.perf_counter()
    result = _train(dataset, positives)
    wall = time.perf_counter() - start
    stats = result.history[0]
    store_version(directory, result.scorer, train_config={"bench": "scale"}, metrics={})
    return {"epoch_seconds": stats.seconds, "pairs_per_s": stats.positives_per_second, "wall_seconds": wall,
            "load_seconds": load_seconds, "positives": round(stats.positives_per_second * stats.seconds)}


def stage_score(directory: Path) -> dict:
    """Score every blocked candidate with the active model and write the app's score table."""
    from core.project.checkpoint import load_scorer
    from core.project.model_versions import active_model_path
    from core.formats.native import load_candidates
    from core.project.lifecycle import score_candidates

    dataset, _ = _load(directory)
    candidates = load_candidates(dataset, directory)
    scorer, info = load_scorer(active_model_path(directory), dataset)
    start = time.perf_counter()
    score_candidates(directory, dataset, candidates, scorer, info.version)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "candidates": len(candidates), "pairs_per_s": len(candidates) / seconds}


def stage_cut(directory: Path, top_k: int) -> dict:
    """A sibling project sharing the graphs and models (links) with only each left entity's ``top_k``
    best candidates: the app stage on it reads a score table of a tenth of the size (26.4M candidates
    take 4.4 min to score, and their table is a 2.3 GB TSV), while the graphs it loads
    and draws are the same."""
    import pandas as pd

    cut = cut_dir(directory, top_k)
    cut.mkdir(parents=True, exist_ok=True)
    for name in ("left", "right", "links.tsv", "schema.json", "models"):
        if not (cut / name).exists():
            (cut / name).symlink_to((directory / name).resolve())
    frame = pd.read_csv(directory / "candidates.tsv", sep="\t", dtype=str, keep_default_na=False, quoting=3)
    frame = frame[frame.groupby("left_id", sort=False).cumcount() < top_k]  # the file is sorted best first
    frame.to_csv(cut / "candidates.tsv", sep="\t", index=False, lineterminator="\n")
    return {"candidates": len(frame)}


def cut_dir(directory: Path, top_k: int) -> Path:
    return directory.parent / f"{directory.name}-top{top_k}"


def stage_app(directory: Path, pairs: int) -> dict:
    """The review app on this project, run by Streamlit's AppTest in this process.

    ``open_seconds`` is the first run of the review page (graphs, candidates, model and score table
    read into the server's cache, first pair drawn); each ``draw`` is one Accept press: the decision
    stored, the next pair's explanation computed and its pyvis page built.
    """
    import tempfile

    import numpy as np
    from streamlit.testing.v1 import AppTest

    os.environ["MUALIGN_PROJECT"] = str(directory)
    os.environ["MUALIGN_DB"] = f"sqlite:///{tempfile.mkdtemp()}/labels.sqlite"  # the project keeps no bench labels
    os.chdir(REPO)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=3600)
    at.session_state["analyst"] = "bench"
    start = time.perf_counter()
    at.run()
    at.switch_page("pages/review.py").run()
    open_seconds = time.perf_counter() - start
    if at.exception or not at.get("iframe"):
        raise RuntimeError(f"the review page did not draw a pair: {at.exception}")
    times = []
    for _ in range(pairs):
        accept = next(b for b in at.button if b.label.startswith("Accept"))
        start = time.perf_counter()
        accept.click().run()
        times.append(time.perf_counter() - start)
        if at.exception or not at.get("iframe"):
            raise RuntimeError(f"the review page did not draw the next pair: {at.exception}")
    return {"open_seconds": open_seconds, "draw_median_seconds": float(np.median(times)),
            "draw_max_seconds": float(np.max(times))}


def stage_epoch(directory: Path, positives: int) -> dict:
    dataset, _ = _load(directory)
    result = _train(dataset, positives, validate=False)
    stats = result.history[0]
    return {"epoch_seconds": stats.seconds, "pairs_per_s": stats.positives_per_second,
            "nodes": dataset.left.n_entities + dataset.right.n_entities}


STAGES = {"generate": stage_generate, "load": stage_load, "open": stage_open, "dgl": stage_dgl, "block": stage_block, "train": stage_train,
          "score": stage_score, "app": stage_app, "epoch": stage_epoch, "cut": stage_cut}


def run_stage(stage: str, directory: Path, *args) -> dict:
    """One stage in a fresh interpreter; its last stdout line is the JSON result."""
    child = subprocess.run([sys.executable, __file__, "--child", stage, str(directory), *map(str, args)],
                           capture_output=True, text=True, cwd=REPO)
    if child.returncode != 0:
        raise RuntimeError(f"stage {stage} failed:\n{child.stderr[-3000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------- main ----
def ensure_project(entities: int, records: list, name: str) -> Path:
    directory = project_dir(entities)
    if not (directory / "links.tsv").exists():
        out = run_stage("generate", directory, entities)
        print(f"generated and wrote {directory} in {out['seconds']:.1f} s (peak RSS {out['peak_rss_mb']:.0f} MB)",
              flush=True)
        records.append(record(name, "generate+save_project", "seconds", round(out["seconds"], 2), "s", 0))
    return directory


def _report(stage: str, out: dict, records: list, name: str, suffix: str = "") -> None:
    def shown(key, value):
        return f"{key}={value:,.3f}" if isinstance(value, float) else f"{key}={value:,}" if isinstance(value, int) \
            else f"{key}={value}"

    print(f"stage={stage}{suffix} " + " ".join(shown(k, v) for k, v in out.items()) + f" load={os.getloadavg()[0]:.2f}",
          flush=True)
    for key, value in out.items():
        unit = "s" if "seconds" in key else "MB" if key.endswith("_mb") else "1/s" if key.endswith("_per_s") else \
            "count" if isinstance(value, (int, float)) else "text"
        records.append(record(name, f"stage {stage}{suffix}", key,
                              round(value, 4) if isinstance(value, float) else value, unit, 0,
                              load_average_1min=round(os.getloadavg()[0], 2)))


def main_stages(args) -> None:
    records: list[dict] = []
    name = f"demo_movies_scale_{args.entities}"
    directory = ensure_project(args.entities, records, name)
    print(f"project {directory}; load average {os.getloadavg()[0]:.2f}", flush=True)
    for stage in args.stages:
        extra = {"block": [args.top_k], "train": [args.positives], "app": [args.pairs], "cut": [args.app_top_k],
                 "open": [int(args.features)]}
        runs = 3 if stage == "open" else 1  # the first open may build the cache; the next ones read it
        for run in range(runs):
            out = run_stage(stage, directory, *extra.get(stage, []))
            if run < runs - 1:
                _report(stage, out, records, name, suffix=f"#{run + 1}")
        if runs > 1:
            stage = f"{stage}#{runs}"
        if stage == "cut":  # the later stages (score, app) read the cut project
            directory = cut_dir(directory, args.app_top_k)
        _report(stage, out, records, name)
    records.append(record(name, "host", "load_average_1min", round(os.getloadavg()[0], 2), "load", None))
    write_results(args.results, records)


def main_growth(args) -> None:
    records: list[dict] = []
    large = ensure_project(args.entities, records, f"demo_movies_scale_{args.entities}")
    print(f"epoch time against training pairs ({large.name}); load average {os.getloadavg()[0]:.2f}", flush=True)
    for positives in args.growth_pairs:
        out = run_stage("epoch", large, positives)
        print(f"pairs={positives:,} epoch_seconds={out['epoch_seconds']:.1f} pairs_per_s={out['pairs_per_s']:,.0f} "
              f"load={os.getloadavg()[0]:.2f}", flush=True)
        records.append(record(large.name, f"epoch pairs={positives}", "epoch_seconds", round(out["epoch_seconds"], 2), "s", 0))
    print(f"epoch time against graph size at {args.growth_fixed:,} pairs", flush=True)
    for entities in args.growth_sizes:
        directory = ensure_project(entities, records, f"demo_movies_scale_{entities}")
        out = run_stage("epoch", directory, args.growth_fixed)
        print(f"entities_per_side={entities:,} nodes={out['nodes']:,} epoch_seconds={out['epoch_seconds']:.1f} "
              f"pairs_per_s={out['pairs_per_s']:,.0f} load={os.getloadavg()[0]:.2f}", flush=True)
        records.append(record(directory.name, f"epoch pairs={args.growth_fixed}", "epoch_seconds",
                              round(out["epoch_seconds"], 2), "s", 0, nodes=out["nodes"]))
    write_results(f"{args.results}_growth", records)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        stage, directory, *rest = sys.argv[2:]
        out = STAGES[stage](Path(directory), *map(int, rest))
        out["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(out))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entities", type=int, default=1_350_000, help="entities per side (demo movies)")
    parser.add_argument("--stages", nargs="*", default=["load", "open", "block", "train", "cut", "score", "app"],
                        choices=["load", "open", "dgl", "block", "train", "cut", "score", "app"])
    parser.add_argument("--features", action="store_true", help="the open stage also encodes the model's features")
    parser.add_argument("--app-top-k", type=int, default=2,
                        help="the cut stage keeps this many candidates per left entity for score and app")
    parser.add_argument("--top-k", type=int, default=10, help="candidates per left entity")
    parser.add_argument("--positives", type=int, default=50_000, help="positive pairs in the training epoch")
    parser.add_argument("--pairs", type=int, default=10, help="pairs accepted (next pair drawn) in the app stage")
    parser.add_argument("--growth", action="store_true", help="measure cost growth instead of the stages")
    parser.add_argument("--growth-pairs", type=int, nargs="*", default=[10_000, 25_000, 50_000, 100_000])
    parser.add_argument("--growth-sizes", type=int, nargs="*", default=[10_000, 100_000, 1_350_000])
    parser.add_argument("--growth-fixed", type=int, default=10_000)
    parser.add_argument("--results", default="scale")
    args = parser.parse_args()
    (main_growth if args.growth else main_stages)(args)


if __name__ == "__main__":
    main()
