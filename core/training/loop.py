"""Training CG-MuAlign: margin loss over mixed-type batches, early stopping on validation PRAUC.

Each step takes ``batch_size`` positive links of any aligned types (one model for all types, so
labels of one type help another) and, per positive (i, i'), ``negatives_per_side`` corrupted pairs
(i, j') and (j, i') with j, j' of the same type. The loss is the paper's margin ranking loss

    max(0, d(i, i') - d(neg) + margin)

averaged over the negatives. Where TRAIN holds labelled non-matches (DeepMatcher negatives, or
pairs an analyst rejected), each step also takes a share of them and asks every positive of the
step to be closer than each of them by the margin. An optional BCE head on the element-wise product of the two
embeddings is a second signal. After every epoch the validation pairs are scored; the weights
with the best validation PRAUC are kept (a copy, not the last epoch's), and training stops when it
has not improved for ``patience`` epochs.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from core.evaluation import metrics
from core.sampling.blocks import pair_batch
from core.data.candidates import CandidatePairs
from core.model.setup import EncoderSetup
from core.evaluation.harness import evaluation_pairs
from core.data.links import Split
from core.training.lazy_adam import LazyAdam
from core.model.cg_mualign import CGMuAlign, ModelConfig
from core.training.negatives import NegativeSampler
from core.scoring.model_scorer import ModelScorer


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation knobs; the defaults are the paper's where it gives them (batch 32, Adam 0.003, 10+10)."""

    epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 0.003
    negatives_per_side: int = 10
    margin: float = 1.0
    hard_negative_share: float = 0.0
    bce_weight: float = 0.0
    patience: int = 5
    seed: int = 0
    device: str = "auto"
    max_steps_per_epoch: int | None = None
    deterministic: bool = True  # bit-identical runs under a seed (parallel float sums otherwise vary)
    labelled_negatives: bool = True  # use labelled non-matches of TRAIN (and rejected pairs) as negatives

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.epochs < 1 or self.negatives_per_side < 1:
            raise ValueError("batch_size, epochs and negatives_per_side must all be >= 1")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")

    def resolved_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class EpochStats:
    epoch: int
    loss: float
    valid_pr_auc: float | None
    seconds: float
    positives_per_second: float
    is_best: bool


@dataclass(frozen=True)
class StepStats:
    epoch: int
    step: int
    steps: int
    loss: float


@dataclass(eq=False)
class TrainResult:
    model: CGMuAlign
    scorer: ModelScorer
    history: list[EpochStats] = field(default_factory=list)
    best_epoch: int = 0
    best_valid_pr_auc: float | None = None
    seconds: float = 0.0


class Optimiser:
    """Adam for the dense parameters, lazy (row-wise) Adam for the name-embedding table (sparse gradients)."""

    def __init__(self, model: CGMuAlign, head, learning_rate: float):
        sparse = [model.inputs.names.weight]
        dense = [p for p in model.parameters() if p is not sparse[0]] + (list(head.parameters()) if head else [])
        self.dense = torch.optim.Adam(dense, lr=learning_rate)
        self.sparse = LazyAdam(sparse, lr=learning_rate)

    def zero_grad(self) -> None:
        self.dense.zero_grad()
        self.sparse.zero_grad()

    def step(self) -> None:
        self.dense.step()
        self.sparse.step()


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)  # only for libraries that use the global generator; our code passes rngs


def training_links(setup: EncoderSetup):
    """The TRAIN positives (seed links)."""
    return setup.dataset.links.in_split(Split.TRAIN).positives()


def labelled_negatives(setup: EncoderSetup):
    """The TRAIN pairs labelled as non-matches (DeepMatcher negatives, an analyst's rejections)."""
    train = setup.dataset.links.in_split(Split.TRAIN)
    return train.select(train.label == 0)


def margin_loss(positive: torch.Tensor, negative: torch.Tensor, margin: float, valid: torch.Tensor) -> torch.Tensor:
    """mean over valid negatives of max(0, d(pos) - d(neg) + margin); shapes (B,), (B, K), (B, K)."""
    hinge = F.relu(positive.unsqueeze(1) - negative + margin) * valid
    return hinge.sum() / valid.sum().clamp(min=1)


class BCEHead(torch.nn.Module):
    """Logistic classifier on h_i * h_i' (the paper's optional second head)."""

    def __init__(self, hidden: int):
        super().__init__()
        self.linear = torch.nn.Linear(hidden, 1)

    def forward(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        return self.linear(left * right).squeeze(-1)


def train(setup: EncoderSetup, model_config: ModelConfig, config: TrainConfig, *,
          candidates: CandidatePairs | None = None,
          on_step: Callable[[StepStats], None] | None = None,
          on_epoch: Callable[[EpochStats], None] | None = None) -> TrainResult:
    """Train a model on the TRAIN links of ``setup.dataset``; select it on VALID PRAUC.

    ``candidates`` are needed for validation on data without labelled negatives (and for hard
    negatives); without them validation uses the labelled VALID pairs only.
    """
    previous = torch.are_deterministic_algorithms_enabled()
    previous_fill = torch.utils.deterministic.fill_uninitialized_memory
    torch.use_deterministic_algorithms(config.deterministic)
    # Deterministic mode also fills every new uninitialised tensor with NaN, a guard against code
    # that reads memory it never wrote; ours does not, and the fills were a sixth of a step's time.
    torch.utils.deterministic.fill_uninitialized_memory = False
    try:
        return _train(setup, model_config, config, candidates, on_step, on_epoch)
    finally:
        torch.use_deterministic_algorithms(previous)
        torch.utils.deterministic.fill_uninitialized_memory = previous_fill


def _train(setup, model_config, config, candidates, on_step, on_epoch) -> TrainResult:
    seed_everything(config.seed)
    device = config.resolved_device()
    model = setup.new_model(model_config).to(device)
    head = BCEHead(model_config.hidden).to(device) if config.bce_weight > 0 else None
    optimiser = Optimiser(model, head, config.learning_rate)
    rng = np.random.default_rng(config.seed)

    links = training_links(setup)
    if len(links) == 0:
        raise ValueError("no training links: the TRAIN split has no matches to learn from")
    rejected = labelled_negatives(setup) if config.labelled_negatives else None
    # labelled non-matches are spread over the epoch's steps, so each step sees a few
    per_step = 0 if rejected is None or not len(rejected) else int(np.ceil(len(rejected) / np.ceil(len(links) / config.batch_size)))
    n_types = len(setup.dataset.schema.types)
    sampler = NegativeSampler.build(setup.left_aligned_types, setup.right_aligned_types, n_types,
                                    candidates=candidates, hard_share=config.hard_negative_share)
    valid = _validation_pairs(setup, candidates)
    scorer = ModelScorer(model, setup, seed=config.seed)

    result = TrainResult(model, scorer)
    best_state, best_score, stale = None, -np.inf, 0
    start_all = time.perf_counter()
    k = config.negatives_per_side
    for epoch in range(1, config.epochs + 1):
        model.train()
        start = time.perf_counter()
        order = rng.permutation(len(links))
        steps = int(np.ceil(len(order) / config.batch_size))
        if config.max_steps_per_epoch:
            steps = min(steps, config.max_steps_per_epoch)
        losses, seen = [], 0
        for step in range(steps):
            idx = order[step * config.batch_size:(step + 1) * config.batch_size]
            left, right, types = links.left[idx], links.right[idx], links.type[idx]
            neg_left, neg_right = sampler.draw(left, right, types, k, rng)
            chosen = rng.choice(len(rejected), size=min(per_step, len(rejected)), replace=False) if per_step else []
            all_left = np.concatenate([left, neg_left.ravel()] + ([rejected.left[chosen]] if per_step else []))
            all_right = np.concatenate([right, neg_right.ravel()] + ([rejected.right[chosen]] if per_step else []))
            batch = pair_batch(setup.left, setup.right, all_left, all_right, cap=model_config.neighbour_cap,
                               n_layers=model_config.n_layers, rng=rng).to(device)
            out = model(setup.left.features, batch.left, batch.left_rows, setup.right.features, batch.right,
                        batch.right_rows)
            b = len(idx)
            positive, negative = out.distance[:b], out.distance[b:b + b * 2 * k].view(b, 2 * k)
            is_positive = torch.from_numpy((neg_left == left[:, None]) & (neg_right == right[:, None])).to(device)
            loss = margin_loss(positive, negative, config.margin, (~is_positive).float())
            if per_step:
                # every positive of the step must be closer than every labelled non-match
                labelled = out.distance[b + b * 2 * k:]
                loss = loss + margin_loss(positive, labelled.unsqueeze(0).expand(b, -1), config.margin,
                                          torch.ones(b, len(labelled), device=device))
            if head is not None:
                logits = head(out.left, out.right)
                targets = torch.cat([torch.ones(b, device=device), torch.zeros(len(logits) - b, device=device)])
                loss = loss + config.bce_weight * F.binary_cross_entropy_with_logits(logits, targets)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
            seen += b
            if on_step:
                on_step(StepStats(epoch, step + 1, steps, losses[-1]))
        seconds = time.perf_counter() - start
        valid_pr_auc = _valid_pr_auc(scorer, valid)
        score = valid_pr_auc if valid_pr_auc is not None else -float(np.mean(losses))
        is_best = score > best_score
        if is_best:
            best_state, best_score, stale = copy.deepcopy(model.state_dict()), score, 0
            result.best_epoch, result.best_valid_pr_auc = epoch, valid_pr_auc
        else:
            stale += 1
        stats = EpochStats(epoch, float(np.mean(losses)), valid_pr_auc, seconds, seen / seconds, is_best)
        result.history.append(stats)
        if on_epoch:
            on_epoch(stats)
        if stale >= config.patience:
            break
    model.load_state_dict(best_state)
    result.seconds = time.perf_counter() - start_all
    if valid is not None and len(np.unique(valid[2])) == 2:
        scorer.calibrate(valid[0], valid[1], valid[2])
    return result


def _validation_pairs(setup: EncoderSetup, candidates: CandidatePairs | None):
    links = setup.dataset.links.in_split(Split.VALID)
    if not len(links):
        return None
    if candidates is None:
        return links.left, links.right, links.label.astype(np.int64), 0
    pairs = evaluation_pairs(setup.dataset, candidates, Split.VALID)
    return pairs.left, pairs.right, pairs.label, int(pairs.missed.sum())


def _valid_pr_auc(scorer: ModelScorer, valid) -> float | None:
    if valid is None:
        return None
    left, right, labels, missed = valid
    if labels.sum() == 0:
        return None
    return metrics.pr_auc_score(labels, scorer.score_pairs(left, right), n_positives=int(labels.sum()) + missed)
