"""Plain-text tables of reports, shared by the CLI and the bench scripts."""

from __future__ import annotations

from core.blocking.name_blocking import BlockingReport


def format_blocking_report(report: BlockingReport) -> str:
    """One line per aligned type: sizes, candidates per left entity, pair completeness, RR, time."""
    rows = [f"blocking top_k={report.config.top_k} ngram={report.config.ngram_range}",
            f"{'type':<14}{'left':>9}{'right':>9}{'pairs':>10}{'cand/left':>10}{'max':>5}{'none':>6}"
            f"{'gold':>7}{'PC':>8}{'RR':>9}{'sec':>7}  key"]
    for s in report.per_type:
        pc = "    -" if s.pair_completeness is None else f"{s.pair_completeness:.4f}"
        rows.append(f"{s.type[:13]:<14}{s.n_left:>9}{s.n_right:>9}{s.n_candidates:>10}{s.candidates_per_left:>10.2f}"
                    f"{s.max_candidates_per_left:>5}{s.left_without_candidates:>6}{s.n_gold:>7}{pc:>8}"
                    f"{s.reduction_ratio:>9.5f}{s.seconds:>7.2f}  {s.key or ''}"
                    f"{' (sorted neighbourhood)' if s.sorted_neighbourhood else ''}")
    pc = report.pair_completeness
    rows.append(f"{'ALL':<14}{'':>9}{'':>9}{report.n_candidates:>10}{'':>10}{'':>5}{'':>6}{'':>7}"
                f"{'    -' if pc is None else f'{pc:.4f}':>8}{'':>9}{report.seconds:>7.2f}")
    return "\n".join(rows)
