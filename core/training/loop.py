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

from core.data.candidates import CandidatePairs
from core.data.links import Links, Split
from core.evaluation import metrics
from core.evaluation.harness import evaluation_pairs
from core.model.cg_mualign import CGMuAlign, PairOutput
from core.model.config import ModelConfig
from core.model.device import device_errors, resolve_device, torch_threads
from core.model.setup import EncoderSetup
from core.sampling.blocks import pair_batch
from core.scoring.model_scorer import ModelScorer
from core.training.optimisers import Adam, LazyAdam
from core.training.negatives import NegativeSampler


#: The batch size ``TrainConfig.learning_rate`` is meant for (the paper's), and the scaling rules.
REFERENCE_BATCH = 32
LR_SCALINGS = ("none", "sqrt", "linear")

#: Training steps that score fewer pairs than this run on one torch thread (see step_thread_count).
ONE_THREAD_BELOW_PAIRS = 4096


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
    # A larger batch keeps a GPU busy; "sqrt" or "linear" scales learning_rate by (batch_size / 32)
    # to the power 1/2 or 1 (see step_learning_rate), "none" uses it as given.
    lr_scaling: str = "none"
    # Early stopping: a validation PRAUC gain below this counts as no gain (patience runs on), so
    # training stops once the gains are too small to matter instead of after `patience` flat epochs.
    min_improvement: float = 0.0
    # Validation scores at most about this many pairs after each epoch: on a large project the VALID
    # queries' candidates run to millions, so a seeded sample of queries (all their candidates) is
    # scored instead; None scores them all. Small projects (DBLP-ACM: 2,473 pairs) are not sampled.
    max_valid_pairs: int | None = 200_000
    # torch threads for the training steps (validation keeps the process's); None: see step_thread_count
    step_threads: int | None = None

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.epochs < 1 or self.negatives_per_side < 1:
            raise ValueError("batch_size, epochs and negatives_per_side must all be >= 1")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.lr_scaling not in LR_SCALINGS:
            raise ValueError(f"lr_scaling must be one of {LR_SCALINGS}, got {self.lr_scaling!r}")
        if self.min_improvement < 0:
            raise ValueError(f"min_improvement must be >= 0, got {self.min_improvement}")
        if self.max_valid_pairs is not None and self.max_valid_pairs < 1:
            raise ValueError(f"max_valid_pairs must be >= 1 or None, got {self.max_valid_pairs}")
        if self.step_threads is not None and self.step_threads < 1:
            raise ValueError(f"step_threads must be >= 1 or None, got {self.step_threads}")

    @property
    def step_learning_rate(self) -> float:
        """The optimiser's learning rate: ``learning_rate`` scaled for the batch size (``lr_scaling``).

        Adam's steps do not grow with the batch as SGD's do, so the square-root rule is the usual
        choice; ``learning_rate`` is meant for the paper's batch of 32.
        """
        ratio = self.batch_size / REFERENCE_BATCH
        return self.learning_rate * {"none": 1.0, "sqrt": ratio ** 0.5, "linear": ratio}[self.lr_scaling]

    def resolved_device(self) -> torch.device:
        """The torch device of ``device`` (see :func:`core.model.device.resolve_device`).

        Raises
        ------
        core.model.device.DeviceError
            If the device cannot be used; the message names it and says to choose ``--device cpu``.
        """
        return resolve_device(self.device)

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
        self.dense = Adam(dense, lr=learning_rate)
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



@dataclass(frozen=True, eq=False)
class StepDistances:
    """The model's distances for one step's pairs, by role (see :class:`StepPairs`)."""

    positive: torch.Tensor  # (B,)
    negative: torch.Tensor  # (B, 2k): row b holds positive b's corrupted pairs
    labelled: torch.Tensor  # (L,)


@dataclass(frozen=True, eq=False)
class StepPairs:
    """One training step's pairs (entity indices), in the order the model scores them.

    First the B positives (i, i'), then each positive's 2k corrupted pairs (k with the right side
    replaced, then k with the left side replaced), then L labelled non-matches drawn for this step
    (L = 0 when TRAIN has none or they are not used). :meth:`split` cuts the model's distances
    back into these roles.
    """

    left: np.ndarray  # (B,)
    right: np.ndarray  # (B,)
    negative_left: np.ndarray  # (B, 2k)
    negative_right: np.ndarray  # (B, 2k)
    labelled_left: np.ndarray  # (L,)
    labelled_right: np.ndarray  # (L,)

    @property
    def n_positives(self) -> int:
        return len(self.left)

    @property
    def all_left(self) -> np.ndarray:
        return np.concatenate([self.left, self.negative_left.ravel(), self.labelled_left])

    @property
    def all_right(self) -> np.ndarray:
        return np.concatenate([self.right, self.negative_right.ravel(), self.labelled_right])

    def corrupted_is_positive(self) -> np.ndarray:
        """(B, 2k) True where a corruption drew the positive's own partner: not a negative at all."""
        return (self.negative_left == self.left[:, None]) & (self.negative_right == self.right[:, None])

    def split(self, distance: torch.Tensor) -> StepDistances:
        """The distances of :attr:`all_left`/:attr:`all_right`, cut into positives, negatives, labelled."""
        b, n_negative = self.negative_left.shape
        positive, negative, labelled = distance.split([b, b * n_negative, len(self.labelled_left)])
        return StepDistances(positive, negative.view(b, n_negative), labelled)


@dataclass(frozen=True, eq=False)
class ValidationPairs:
    """What validation scores after every epoch: labelled pairs, and the matches blocking lost.

    ``missed`` VALID matches are not among the candidates, so they are never scored but still count
    as positives in PR-AUC (recall cannot reach them). Without candidates, the labelled VALID links
    are scored as they are and ``missed`` is 0.
    """

    left: np.ndarray
    right: np.ndarray
    labels: np.ndarray  # 1 match, 0 non-match
    missed: int
    last: dict = field(default_factory=dict, compare=False)  # "scores": the latest pr_auc's scores

    @classmethod
    def of(cls, setup: EncoderSetup, candidates: CandidatePairs | None, *, max_pairs: int | None = None,
           seed: int = 0) -> "ValidationPairs | None":
        """The VALID pairs of ``setup.dataset`` (among ``candidates`` when given); None without VALID links.

        With ``max_pairs``, a larger set is cut to a seeded sample of its left entities (queries),
        each with all its pairs, so PR-AUC keeps its meaning; ``missed`` shrinks in proportion.
        """
        links = setup.dataset.links.in_split(Split.VALID)
        if not len(links):
            return None
        if candidates is None:
            left, right, labels, missed = links.left, links.right, links.label.astype(np.int64), 0
        else:
            pairs = evaluation_pairs(setup.dataset, candidates, Split.VALID)
            left, right, labels, missed = pairs.left, pairs.right, pairs.label, int(pairs.missed.sum())
        if max_pairs is not None and len(left) > max_pairs:
            queries = np.unique(left)
            n_kept = max(1, int(len(queries) * max_pairs / len(left)))
            kept = np.isin(left, np.random.default_rng(seed).choice(queries, size=n_kept, replace=False))
            left, right, labels = left[kept], right[kept], labels[kept]
            missed = int(round(missed * n_kept / len(queries)))
        return cls(left, right, labels, missed)

    @property
    def has_both_labels(self) -> bool:
        """Matches and non-matches both present: enough to calibrate probabilities on."""
        return len(np.unique(self.labels)) == 2

    def pr_auc(self, scorer: ModelScorer) -> float | None:
        """PR-AUC of the scorer on these pairs; None when there is no match to find."""
        if self.labels.sum() == 0:
            return None
        self.last["scores"] = scores = scorer.score_pairs(self.left, self.right)
        return metrics.pr_auc_score(self.labels, scores, n_positives=int(self.labels.sum()) + self.missed)


def train(setup: EncoderSetup, model_config: ModelConfig, config: TrainConfig, *,
          candidates: CandidatePairs | None = None,
          on_step: Callable[[StepStats], None] | None = None,
          on_epoch: Callable[[EpochStats], None] | None = None) -> TrainResult:
    """Train a model on the TRAIN links of ``setup.dataset``; select it on VALID PRAUC.

    ``candidates`` are needed for validation on data without labelled negatives (and for hard
    negatives); without them validation uses the labelled VALID pairs only.

    Raises
    ------
    ValueError
        If TRAIN holds no match to learn from.
    core.model.device.DeviceError
        If ``config.device`` cannot be used, or fails while training (the message names the device
        and says to choose ``--device cpu``).
    """
    device = config.resolved_device()
    previous = torch.are_deterministic_algorithms_enabled()
    previous_fill = torch.utils.deterministic.fill_uninitialized_memory
    set_deterministic(config.deterministic)
    # Deterministic mode also fills every new uninitialised tensor with NaN, a guard against code
    # that reads memory it never wrote; ours does not, and the fills were a sixth of a step's time.
    torch.utils.deterministic.fill_uninitialized_memory = False
    try:
        with device_errors(device):
            return _Training(setup, model_config, config, candidates, device).run(on_step, on_epoch)
    finally:
        set_deterministic(previous)
        torch.utils.deterministic.fill_uninitialized_memory = previous_fill


def step_thread_count(config: TrainConfig, device: torch.device) -> int | None:
    """torch's intra-op threads for training steps: ``config.step_threads``, else one on the CPU
    when a step scores fewer than :data:`ONE_THREAD_BELOW_PAIRS` pairs; None keeps the process's.

    Why one: a step of the paper's batch (32 positives, 20 corruptions each: 672 pairs) is hundreds
    of small tensor operations, and each parallel one wakes the other threads, which sleep between
    them (the CLI's ``OMP_WAIT_POLICY=PASSIVE``, chosen because spinning threads took 4x the CPU on
    a busy machine). On 2 cores, one thread trained the demo movie pair at 414-449 positive pairs/s
    against 312-337 for two, DBLP-ACM's steps in 3.0 s of CPU against 4.6-5.1 (30 steps, less wall
    time too), and batches of 64 and 128 were faster on one thread as well (622 vs 479, 736 vs 601
    pairs/s); from 256 (5,376 pairs a step) two threads win (992 vs 814). Validation and scoring
    work on tens of thousands of pairs at once and keep every thread.
    """
    if device.type != "cpu":
        return None
    if config.step_threads is not None:
        return config.step_threads
    pairs_per_step = config.batch_size * (1 + 2 * config.negatives_per_side)
    return 1 if pairs_per_step < ONE_THREAD_BELOW_PAIRS else None


def set_deterministic(mode: bool) -> None:
    """``torch.use_deterministic_algorithms(mode)`` without its import of ``torch._inductor.config``.

    That import loads torch's whole compiler stack (dynamo, inductor: 0.8-1.5 CPU-s, a tenth of a
    DBLP-ACM ``mualign train``) to set a flag for compiled code, and nothing here is compiled. When
    the compiler is already loaded, or torch lacks the internal setter, the public call is used.
    """
    import sys

    setter = getattr(torch._C, "_set_deterministic_algorithms", None)
    if setter is None or "torch._inductor.config" in sys.modules:
        torch.use_deterministic_algorithms(mode)
    else:
        setter(mode, warn_only=False)


class _Training:
    """One training run: the model, its optimiser and the draws, built once; then epochs of steps."""

    def __init__(self, setup: EncoderSetup, model_config: ModelConfig, config: TrainConfig,
                 candidates: CandidatePairs | None, device: torch.device):
        seed_everything(config.seed)
        self.setup, self.model_config, self.config, self.device = setup, model_config, config, device
        self.model = setup.new_model(model_config).to(device)
        self.head = BCEHead(model_config.hidden).to(device) if config.bce_weight > 0 else None
        self.optimiser = Optimiser(self.model, self.head, config.step_learning_rate)
        self.rng = np.random.default_rng(config.seed)
        self.links = training_links(setup)
        if len(self.links) == 0:
            raise ValueError("no training links: the TRAIN split has no matches to learn from")
        rejected = labelled_negatives(setup) if config.labelled_negatives else None
        self.rejected: Links | None = rejected if rejected is not None and len(rejected) else None
        # labelled non-matches are spread over the epoch's steps, so each step sees a few
        self.labelled_per_step = 0 if self.rejected is None else \
            int(np.ceil(len(self.rejected) / np.ceil(len(self.links) / config.batch_size)))
        self.sampler = NegativeSampler.build(setup.left_aligned_types, setup.right_aligned_types,
                                             len(setup.dataset.schema.types), candidates=candidates,
                                             hard_share=config.hard_negative_share)
        self.valid = ValidationPairs.of(setup, candidates, max_pairs=config.max_valid_pairs, seed=config.seed)
        self.scorer = ModelScorer(self.model, setup, seed=config.seed)
        self.step_threads = step_thread_count(config, device)

    def run(self, on_step, on_epoch) -> TrainResult:
        """Epochs until ``config.epochs`` or ``patience`` epochs without a better validation score."""
        config = self.config
        result = TrainResult(self.model, self.scorer)
        best_state, best_score, stale = None, -np.inf, 0
        reference = -np.inf  # the score a later epoch must beat by min_improvement to reset patience
        start_all = time.perf_counter()
        for epoch in range(1, config.epochs + 1):
            start = time.perf_counter()
            with torch_threads(self.step_threads):
                losses, seen = self.epoch(epoch, on_step)
            seconds = time.perf_counter() - start
            valid_pr_auc = self.valid.pr_auc(self.scorer) if self.valid is not None else None
            score = valid_pr_auc if valid_pr_auc is not None else -float(np.mean(losses))
            is_best = score > best_score
            if is_best:
                best_state, best_score = copy.deepcopy(self.model.state_dict()), score
                result.best_epoch, result.best_valid_pr_auc = epoch, valid_pr_auc
            if score > reference + config.min_improvement:
                reference, stale = score, 0
            else:
                stale += 1
            stats = EpochStats(epoch, float(np.mean(losses)), valid_pr_auc, seconds, seen / seconds, is_best)
            result.history.append(stats)
            if on_epoch:
                on_epoch(stats)
            if stale >= config.patience:
                break
        self.model.load_state_dict(best_state)
        result.seconds = time.perf_counter() - start_all
        if self.valid is not None and self.valid.has_both_labels:
            # the last epoch's validation scores are the kept model's when it was the best: not scored again
            reuse = result.best_epoch == len(result.history) and "scores" in self.valid.last
            self.scorer.calibrate(self.valid.left, self.valid.right, self.valid.labels,
                                  scores=self.valid.last["scores"] if reuse else None)
        return result

    def epoch(self, epoch: int, on_step) -> tuple[list[float], int]:
        """One pass over the TRAIN links in a fresh order: (each step's loss, positives seen)."""
        config = self.config
        self.model.train()
        order = self.rng.permutation(len(self.links))
        steps = int(np.ceil(len(order) / config.batch_size))
        if config.max_steps_per_epoch:
            steps = min(steps, config.max_steps_per_epoch)
        losses, seen = [], 0
        for step in range(steps):
            pairs = self.draw(order[step * config.batch_size:(step + 1) * config.batch_size])
            losses.append(self.step(pairs))
            seen += pairs.n_positives
            if on_step:
                on_step(StepStats(epoch, step + 1, steps, losses[-1]))
        return losses, seen

    def draw(self, positions: np.ndarray) -> StepPairs:
        """The step's pairs: the links at ``positions``, their corruptions, and a few labelled non-matches."""
        links, k = self.links, self.config.negatives_per_side
        left, right = links.left[positions], links.right[positions]
        negative_left, negative_right = self.sampler.draw(left, right, links.type[positions], k, self.rng)
        labelled_left, labelled_right = left[:0], right[:0]
        if self.labelled_per_step:
            chosen = self.rng.choice(len(self.rejected), size=min(self.labelled_per_step, len(self.rejected)),
                                     replace=False)
            labelled_left, labelled_right = self.rejected.left[chosen], self.rejected.right[chosen]
        return StepPairs(left, right, negative_left, negative_right, labelled_left, labelled_right)

    def step(self, pairs: StepPairs) -> float:
        """Score the step's pairs in one forward pass, take one optimiser step; the loss."""
        setup, device = self.setup, self.device
        batch = pair_batch(setup.left, setup.right, pairs.all_left, pairs.all_right,
                           cap=self.model_config.neighbour_cap, n_layers=self.model_config.n_layers,
                           rng=self.rng, device=device).to(device)
        out = self.model(setup.left.features, batch.left, batch.left_rows, setup.right.features, batch.right,
                         batch.right_rows)
        loss = self.loss(out, pairs)
        self.optimiser.zero_grad()
        loss.backward()
        self.optimiser.step()
        return float(loss.detach())

    def loss(self, out: PairOutput, pairs: StepPairs) -> torch.Tensor:
        """The margin loss over corrupted pairs, plus labelled non-matches and the BCE head where used."""
        config, device = self.config, self.device
        distance = pairs.split(out.distance)
        b = pairs.n_positives
        is_positive = torch.from_numpy(pairs.corrupted_is_positive()).to(device)
        loss = margin_loss(distance.positive, distance.negative, config.margin, (~is_positive).float())
        if len(distance.labelled):
            # every positive of the step must be closer than every labelled non-match
            loss = loss + margin_loss(distance.positive, distance.labelled.unsqueeze(0).expand(b, -1), config.margin,
                                      torch.ones(b, len(distance.labelled), device=device))
        if self.head is not None:
            logits = self.head(out.left, out.right)
            targets = torch.cat([torch.ones(b, device=device), torch.zeros(len(logits) - b, device=device)])
            loss = loss + config.bce_weight * F.binary_cross_entropy_with_logits(logits, targets)
        return loss
