"""Why the matcher decided a pair: its log-odds as a waterfall of per-group contributions.

The matcher's calibrated log-odds split exactly into a baseline (the log-odds before any
evidence) plus one contribution per comparison group: the name, each aligned attribute,
structure, and the CG-MuAlign distance (``core.matching.combiner``: each tree or coefficient
belongs to one group). A waterfall lists them in that order with the running total, ending at the
pair's log-odds and its probability, sigmoid(log-odds). Splink draws the same chart per pair
(``splink/internals/waterfall_chart.py``); here it is a record the CLI prints as text and the
review page draws as a compact bar list.

Nothing here loads the matcher or torch: the records are built from numbers the score table
(``core.project.score_table``) or ``MatchScores`` already hold.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Words for the groups' names as the matcher writes them.
GROUP_WORDS = {"name": "name", "structure": "structure (matched neighbours)", "gnn": "CG-MuAlign (GNN distance)"}


@dataclass(frozen=True)
class WaterfallStep:
    """One bar: a group's contribution to the log-odds, and the running total after it."""

    group: str
    label: str
    contribution: float
    total_after: float


@dataclass(frozen=True)
class Waterfall:
    """Baseline + steps = log-odds; probability = sigmoid(log-odds)."""

    baseline: float
    steps: tuple[WaterfallStep, ...]
    log_odds: float
    probability: float
    decided: bool | None = None  # the matcher's decision (threshold, then 1-to-1), where known
    threshold: float | None = None  # on the probability

    @property
    def sum_of_parts(self) -> float:
        return self.baseline + sum(step.contribution for step in self.steps)


def group_label(group: str) -> str:
    """Plain words for a group name (``attr:year`` -> ``attribute year``).

    >>> group_label("attr:year"), group_label("gnn")
    ('attribute year', 'CG-MuAlign (GNN distance)')
    """
    if group.startswith("attr:"):
        return "attribute " + group.removeprefix("attr:")
    return GROUP_WORDS.get(group, group)


def sigmoid(value: float) -> float:
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    z = math.exp(value)
    return z / (1.0 + z)


def build_waterfall(baseline: float, groups: Sequence[str], contributions: Sequence[float], *,
                    log_odds: float | None = None, probability: float | None = None,
                    decided: bool | None = None, threshold: float | None = None) -> Waterfall:
    """The waterfall of one pair from its baseline and per-group contributions.

    ``log_odds`` and ``probability`` default to the sum of the parts and its sigmoid; when given
    (the matcher's own figures) they are kept as the matcher computed them.

    Examples
    --------
    >>> w = build_waterfall(-2.0, ["name", "gnn"], [3.0, 1.5])
    >>> [s.total_after for s in w.steps], w.log_odds, round(w.probability, 3)
    ([1.0, 2.5], 2.5, 0.924)
    """
    if len(groups) != len(contributions):
        raise ValueError(f"{len(groups)} group names but {len(contributions)} contributions")
    total, steps = float(baseline), []
    for group, value in zip(groups, contributions):
        total += float(value)
        steps.append(WaterfallStep(str(group), group_label(str(group)), float(value), total))
    log_odds = total if log_odds is None else float(log_odds)
    probability = sigmoid(log_odds) if probability is None else float(probability)
    return Waterfall(float(baseline), tuple(steps), log_odds, probability, decided, threshold)


def format_waterfall(waterfall: Waterfall, *, width: int = 24) -> str:
    """The waterfall as fixed-width text: one line per bar, ``+``/``-`` bars scaled to the largest part.

    Read top to bottom: start at the baseline, add each group's contribution, end at the pair's
    log-odds and probability.
    """
    parts = [abs(waterfall.baseline), *(abs(s.contribution) for s in waterfall.steps)]
    scale = width / max(max(parts, default=0.0), 1e-9)
    label_width = max([len("baseline (no evidence)"), *(len(s.label) for s in waterfall.steps)]) + 1

    def bar(value: float) -> str:
        n = min(width, int(round(abs(value) * scale)))
        return ("+" if value >= 0 else "-") * max(n, 1 if value else 0)

    lines = ["why this decision (match log-odds, per comparison group; they add up to the total):",
             f"  {'baseline (no evidence)':<{label_width}}{waterfall.baseline:>+9.3f}  {bar(waterfall.baseline)}"]
    for step in waterfall.steps:
        lines.append(f"  {step.label:<{label_width}}{step.contribution:>+9.3f}  {bar(step.contribution):<{width}}"
                     f"  -> {step.total_after:+.3f}")
    lines.append(f"  {'total = log-odds':<{label_width}}{waterfall.log_odds:>+9.3f}")
    verdict = ""
    if waterfall.decided is not None:
        verdict = "  decided: " + ("match" if waterfall.decided else "no match")
        if waterfall.threshold is not None:
            verdict += f" (threshold {waterfall.threshold:.1%}"
            verdict += ", then the 1-to-1 step)" if waterfall.decided != (waterfall.probability >= waterfall.threshold) \
                else ")"
    lines.append(f"  {'probability':<{label_width}}{waterfall.probability:>9.1%}{verdict}")
    return "\n".join(lines)


def compact_waterfall_lines(waterfall: Waterfall, *, label_width: int = 18, width: int = 12) -> list[str]:
    """Short fixed-width lines for a narrow panel: label, contribution, a bar (``█`` for, ``░`` against).

    The last line is the total (log-odds) and the probability, so the parts visibly add up.

    >>> lines = compact_waterfall_lines(build_waterfall(-1.0, ["name", "gnn"], [2.0, 0.5]), width=4)
    >>> lines[0], lines[-1]
    ('baseline            -1.00 ░░', '= log-odds          +1.50 -> 81.8%')
    """
    parts = [abs(waterfall.baseline), *(abs(s.contribution) for s in waterfall.steps)]
    scale = width / max(max(parts, default=0.0), 1e-9)

    def row(label: str, value: float) -> str:
        label = label if len(label) <= label_width else label[:label_width - 1] + "…"
        n = min(width, int(round(abs(value) * scale)))
        bar = ("█" if value >= 0 else "░") * max(n, 1 if value else 0)
        return f"{label:<{label_width}}{value:>+7.2f} {bar}"

    lines = [row("baseline", waterfall.baseline)]
    lines += [row(step.label.replace(" (GNN distance)", "").replace(" (matched neighbours)", ""), step.contribution)
              for step in waterfall.steps]
    lines.append(f"{'= log-odds':<{label_width}}{waterfall.log_odds:>+7.2f} -> {waterfall.probability:.1%}")
    return lines
