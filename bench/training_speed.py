"""Training throughput: positive pairs per second, against the neighbour cap and the number of layers.

    python bench/training_speed.py                          # default model + the cap and layer sweeps, PNG
    python bench/training_speed.py --sweep none --device cuda  # the default model on a GPU
    python bench/training_speed.py --sweep none --device cuda --batch-sizes 32 256 2048   # larger batches
    python bench/training_speed.py --quality --batch-sizes 32 128 256   # does quality hold? (DBLP-ACM)

The paper trained on its Movie pair at about 270-670 positive pairs/s on one V100 (80-200 s per
epoch of 53,405 positives as the cap went from 2 to 10). Here: the demo movie pair (~100K entities
per side by default), the paper's model (2 layers, hidden 100, cap 10, 10 + 10 negatives per
positive, batch 32, Adam 0.003), the project's default training loop (``core.training.loop.train``:
deterministic kernels, labelled negatives) for ``--steps`` batches per setting. The time is the
training steps alone (sampling, forward, backward, optimiser); validation is not counted, as in
the paper's per-epoch figures.

Prints one line per setting and writes bench/results/training_speed.json; with the sweeps, also
bench/results/training_speed.png (pairs/s against cap and against layers, like the paper's Fig. 8).
Target (issue 7): >= 300 positive pairs/s on a 2-core CPU for the default model; issue 18:
>= 10,000 on one H100/H200 (batch sizes above 32 scale the learning rate, ``--lr-scaling``, sqrt
by default as ``mualign train`` does).

``--quality``: the same batch sizes trained on DBLP-ACM (public, DeepMatcher splits) for
``--epochs`` epochs each (no early stopping), scored by the harness on TEST: F1 and PRAUC against
the CPU seconds and positive pairs/s they took, so a larger batch shows what it costs in quality.
Writes bench/results/training_batch_quality.json.
"""

from __future__ import annotations

import argparse
import os
import time

# as `mualign train` runs (cli/main.py): torch's waiting threads sleep instead of spinning; read
# when torch loads its OpenMP runtime, so set before the import
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
from _common import RESULTS, peak_rss_mb, record, write_results

from core.demo.movies import generate_movie_pair
from core.model.setup import build_setup
from core.model.cg_mualign import ModelConfig
from core.training.loop import TrainConfig, train

ENTITIES_PER_FILM = 11.5


def measure(dataset, *, cap: int, layers: int, hidden: int, steps: int, device: str, seed: int,
            batch_size: int = 32, lr_scaling: str = "sqrt", step_threads: int | None = None) -> tuple[float, int]:
    """Positive pairs/s over ``steps`` training batches (one epoch cut short), and parameters.

    ``step_threads`` None: the steps' torch threads are ``mualign train``'s choice (one for small
    batches, see ``core.training.loop.step_thread_count``); ``--threads`` sets them, as in the CLI."""
    model_config = ModelConfig(n_layers=layers, hidden=hidden, neighbour_cap=cap)
    setup = build_setup(dataset, model_config)
    config = TrainConfig(epochs=1, max_steps_per_epoch=steps, seed=seed, device=device, batch_size=batch_size,
                         lr_scaling=lr_scaling, step_threads=step_threads)
    result = train(setup, model_config, config)
    stats = result.history[0]
    return stats.positives_per_second, sum(p.numel() for p in result.model.parameters())


def draw(points: dict[str, list[tuple[int, float]]], path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, (key, label) in zip(axes, (("cap", "neighbour cap (2 layers)"), ("layers", "layers (cap 10)"))):
        xs, ys = zip(*points[key])
        ax.plot(xs, ys, marker="o")
        ax.set_xlabel(label)
        ax.set_ylabel("positive pairs / s")
        ax.set_xticks(xs)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    fig.suptitle("CG-MuAlign training throughput, demo movies, 2-core CPU")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def quality(args) -> None:
    """DBLP-ACM TEST F1/PRAUC after ``args.epochs`` epochs at each batch size, with their cost."""
    from _common import load_benchmark

    from core.blocking.name_blocking import BlockingConfig, block
    from core.data.links import Split
    from core.evaluation.harness import evaluate

    dataset = load_benchmark("dblp_acm")
    candidates, _ = block(dataset, BlockingConfig(top_k=20))
    model_config = ModelConfig(hidden=args.hidden)
    setup = build_setup(dataset, model_config)
    records = []
    print(f"DBLP-ACM, {args.epochs} epochs per batch size, lr 0.003 x (batch/32)^{{1/2 if sqrt}} ({args.lr_scaling}); "
          f"device {args.device}; {torch.get_num_threads()} threads; load average {os.getloadavg()[0]:.2f}", flush=True)
    for batch in args.batch_sizes:
        for seed in args.seeds:
            config = TrainConfig(epochs=args.epochs, patience=args.epochs, batch_size=batch, lr_scaling=args.lr_scaling,
                                 seed=seed, device=args.device, step_threads=args.threads)
            cpu, wall = time.process_time(), time.perf_counter()
            result = train(setup, model_config, config, candidates=candidates)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            report = evaluate(dataset, candidates, result.scorer, split=Split.TEST)
            rate = sum(h.positives_per_second * h.seconds for h in result.history) / sum(h.seconds for h in result.history)
            m = report.overall
            print(f"batch={batch} lr={config.step_learning_rate:.4f} seed={seed} f1={m.f1:.4f} pr_auc={m.pr_auc:.4f} "
                  f"best_epoch={result.best_epoch} train_cpu_s={cpu:.1f} train_wall_s={wall:.1f} "
                  f"pairs_per_s={rate:,.0f} load={os.getloadavg()[0]:.2f}", flush=True)
            method = f"cg-mualign batch={batch} lr_scaling={args.lr_scaling} epochs={args.epochs}"
            extra = {"device": args.device, "learning_rate": round(config.step_learning_rate, 6),
                     "load_average_1min": round(os.getloadavg()[0], 2)}
            records += [record("dblp_acm", method, "f1", round(m.f1, 5), "ratio", seed, split="test", **extra),
                        record("dblp_acm", method, "pr_auc", round(m.pr_auc, 5), "ratio", seed, split="test", **extra),
                        record("dblp_acm", method, "train_cpu_seconds", round(cpu, 2), "s", seed, **extra),
                        record("dblp_acm", method, "train_wall_seconds", round(wall, 2), "s", seed, **extra),
                        record("dblp_acm", method, "positive_pairs_per_s", round(rate, 1), "1/s", seed, **extra),
                        record("dblp_acm", method, "best_epoch", result.best_epoch, "count", seed, **extra)]
    write_results(args.results if args.results != "training_speed" else "training_batch_quality", records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entities", type=int, default=100_000, help="entities per side (demo movies)")
    parser.add_argument("--steps", type=int, default=150, help="training batches per setting")
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--sweep", choices=("all", "none"), default="all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-sizes", type=int, nargs="*", default=[32],
                        help="positive pairs per step for the default model (default: 32, the paper's)")
    parser.add_argument("--lr-scaling", choices=["none", "sqrt", "linear"], default="sqrt")
    parser.add_argument("--quality", action="store_true", help="DBLP-ACM quality at each batch size (see above)")
    parser.add_argument("--epochs", type=int, default=3, help="--quality: epochs per batch size")
    parser.add_argument("--seeds", type=int, nargs="*", default=[0], help="--quality: training seeds")
    parser.add_argument("--results", default="training_speed")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quality:
        quality(args)
        return

    pair = generate_movie_pair(max(1, round(args.entities / ENTITIES_PER_FILM)), seed=args.seed)
    dataset = pair.dataset
    name = f"demo_movies_{dataset.left.n_entities}"
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"cpu x{torch.get_num_threads()}"
    print(f"data: {dataset.left.n_entities:,} + {dataset.right.n_entities:,} entities, {len(dataset.links):,} links; "
          f"device {device_name}; load average {os.getloadavg()[0]:.2f}", flush=True)
    settings = [("default", 10, 2)]
    if args.sweep == "all":
        settings += [("cap", cap, 2) for cap in (2, 4, 6, 8, 10)] + [("layers", 10, n) for n in (1, 2, 3, 4)]
    records, points, measured = [], {"cap": [], "layers": []}, {}
    for kind, cap, layers in settings:
        if (cap, layers) not in measured:
            start = time.perf_counter()
            measured[(cap, layers)] = measure(dataset, cap=cap, layers=layers, hidden=args.hidden, steps=args.steps,
                                              device=args.device, seed=args.seed, step_threads=args.threads)
            wall = time.perf_counter() - start
            rate, params = measured[(cap, layers)]
            print(f"cap={cap} layers={layers} hidden={args.hidden} pairs_per_s={rate:,.0f} params={params:,} "
                  f"wall_s={wall:.1f} load={os.getloadavg()[0]:.2f}", flush=True)
            records.append(record(name, f"cg-mualign cap={cap} layers={layers} hidden={args.hidden}",
                                  "positive_pairs_per_s", round(rate, 1), "1/s", args.seed, device=device_name,
                                  load_average_1min=round(os.getloadavg()[0], 2)))
        if kind in points:
            points[kind].append((cap if kind == "cap" else layers, measured[(cap, layers)][0]))
    for batch in (b for b in args.batch_sizes if b != 32):
        start = time.perf_counter()
        big, _ = measure(dataset, cap=10, layers=2, hidden=args.hidden, steps=max(1, args.steps * 32 // batch),
                         device=args.device, seed=args.seed, batch_size=batch, lr_scaling=args.lr_scaling,
                         step_threads=args.threads)
        print(f"cap=10 layers=2 hidden={args.hidden} batch={batch} pairs_per_s={big:,.0f} "
              f"wall_s={time.perf_counter() - start:.1f} load={os.getloadavg()[0]:.2f}", flush=True)
        records.append(record(name, f"cg-mualign cap=10 layers=2 hidden={args.hidden} batch={batch}",
                              "positive_pairs_per_s", round(big, 1), "1/s", args.seed, device=device_name,
                              lr_scaling=args.lr_scaling, load_average_1min=round(os.getloadavg()[0], 2)))
    rate = measured[(10, 2)][0]
    print(f"default model: {rate:,.0f} positive pairs/s on {device_name} (target >= 300 on 2 CPU cores; "
          f"paper: ~270-670 on one V100); peak RSS {peak_rss_mb():.0f} MB")
    records.append(record(name, "host", "load_average_1min", round(os.getloadavg()[0], 2), "load", None))
    write_results(args.results, records)
    if args.sweep == "all":
        path = RESULTS / f"{args.results}.png"
        draw(points, path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
