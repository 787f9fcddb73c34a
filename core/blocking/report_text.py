"""Plain-text tables of reports, shared by the CLI and the bench scripts."""

from __future__ import annotations

from core.blocking.report import BlockingReport


def format_blocking_report(report: BlockingReport) -> str:
    """One line per aligned type: sizes, candidates per left entity, pair completeness, RR, time.

    When other sources than names made the candidates (structure, embedding), a second table
    gives each source's own pairs and pair completeness, over all known matches and over the
    held-out ones (not anchors), beside the union's.
    """
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
    if report.source_names:
        rows += ["", format_source_table(report)]
    return "\n".join(rows)


def _pc(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def format_source_table(report: BlockingReport) -> str:
    """Per type and source: pairs proposed, PC on all known matches, PC on held-out (non-anchor) ones."""
    config = report.config
    rows = [f"candidate sources (structure_top_k={config.structure_top_k}, hops={config.structure_hops}); "
            "PC held-out: known matches that are not anchors (TRAIN links)",
            f"{'type':<14}{'source':<11}{'pairs':>10}{'PC':>8}{'PC held-out':>13}"]
    for s in report.per_type:
        for source in s.sources:
            held = None if not s.n_held_out or source.held_out_kept is None else source.held_out_kept / s.n_held_out
            rows.append(f"{s.type[:13]:<14}{source.source:<11}{source.n_candidates:>10}"
                        f"{_pc(source.gold_kept / s.n_gold if s.n_gold else None):>8}{_pc(held):>13}")
        if s.sources:
            rows.append(f"{s.type[:13]:<14}{'union':<11}{s.n_candidates:>10}{_pc(s.pair_completeness):>8}"
                        f"{_pc(s.held_out_completeness):>13}")
    for source in report.source_names:
        rows.append(f"{'ALL':<14}{source:<11}{report.source_candidates(source):>10}"
                    f"{_pc(report.source_completeness(source)):>8}"
                    f"{_pc(report.source_completeness(source, held_out=True)):>13}")
    rows.append(f"{'ALL':<14}{'union':<11}{report.n_candidates:>10}{_pc(report.pair_completeness):>8}"
                f"{_pc(report.held_out_completeness):>13}")
    return "\n".join(rows)
