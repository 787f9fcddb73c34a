"""Which project the app shows, and its data loaded once per server (``st.cache_resource``).

Everything cached here is read-only and shared by every analyst's session: the graphs, the
candidate pairs, each model version and its score table. Keys are strings (directory, version),
so a retrain, which adds a version, simply makes new cache entries.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import streamlit as st

DEFAULT_PROJECT = Path("mualign-demo") / "movies"


def _cli_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--project", type=Path)
    parser.add_argument("--db")
    known, _ = parser.parse_known_args(sys.argv[1:])
    return known


def project_dir() -> Path:
    """``--project`` after ``--`` on the streamlit command line, else ``MUALIGN_PROJECT``, else the demo."""
    return _cli_options().project or Path(os.environ.get("MUALIGN_PROJECT", DEFAULT_PROJECT))


def database_url() -> str:
    """``--db URL`` after ``--``, else ``MUALIGN_DB``, else ``labels.sqlite`` in the project directory."""
    from db.session import default_url

    return _cli_options().db or os.environ.get("MUALIGN_DB") or default_url(project_dir())


def project_key() -> str:
    """The project's name in the label store (one server database can hold several projects)."""
    return project_dir().resolve().name


@st.cache_resource(show_spinner="Loading the project…")
def load_dataset(directory: str):
    from core.project.cache import load_project_cached

    return load_project_cached(directory)


@st.cache_resource(show_spinner="Reading the candidate pairs…")
def load_candidates(directory: str):
    """The project's ``candidates.tsv``, as ``mualign block`` wrote it. The app never blocks.

    Blocking is the analyst's decision (``--top-k``, ``--key``), made once with ``mualign block``
    (``core.project.lifecycle.block_project``), which also stores what it did; a page that blocked
    on its own would do it with default settings and describe candidates that are not in use.

    Raises
    ------
    FileNotFoundError
        The project has not been blocked; the message says how to block it (shown by the page).
    """
    from core.formats.native import CANDIDATES_FILE
    from core.project.cache import load_candidates_cached as read
    from core.project.lifecycle import missing_report_message

    if not (Path(directory) / CANDIDATES_FILE).exists():
        raise FileNotFoundError(missing_report_message(directory))
    return read(load_dataset(directory), directory)


def blocking_report(directory: str):
    """The stored report of the blocking that made the candidates in use, or None (with a message).

    ``None`` when there is none: an old project, or a ``candidates.tsv`` replaced since (the
    page then says how to make one, :func:`core.project.lifecycle.missing_report_message`); a
    damaged report is an error box, and the rest of the page is still shown.
    """
    from core.formats.errors import DataError
    from core.formats.native import CANDIDATES_FILE
    from core.project.lifecycle import BLOCKING_REPORT_FILE, missing_report_message
    from ui.plain_text import literal

    try:
        report = _stored_blocking_report(directory, _stamp(Path(directory) / BLOCKING_REPORT_FILE),
                                         _stamp(Path(directory) / CANDIDATES_FILE))
    except DataError as exc:
        st.error(literal(f"The stored blocking report cannot be read: {exc}"))
        return None
    if report is None:
        st.info(literal(missing_report_message(directory)))
    return report


def blocking_settings(report) -> str:
    """The settings that made the candidates, in one line (shown above the blocking tables)."""
    config = report.config
    keys = ", ".join(f"{t}: {a}" for t, a in config.keys) or "none"
    low, high = config.ngram_range
    grams = f"{low}-grams" if low == high else f"{low}- to {high}-grams"
    sources = report.source_names
    extra = ""
    if "structure" in sources:
        extra += (f", plus top {config.structure_top_k} by structure (anchor profiles over "
                  f"{config.structure_hops} hops)")
    if "embedding" in sources:
        extra += f", plus top {config.embedding_top_k} by a model's embeddings"
    return (f"Candidates as blocked: top {config.top_k} right entities per left entity by name similarity "
            f"(character {grams}){extra}, exact keys: {keys}.")


def blocking_source_rows(report) -> list[dict]:
    """Per type and source: pairs proposed and pair completeness, overall and on held-out matches.

    Empty when names alone made the candidates (the per-type table then says everything). Held-out
    matches are the known ones that are not anchors: the structure source finds anchors trivially.
    """
    rows = []
    for stats in report.per_type:
        for source in stats.sources:
            held = (source.held_out_kept / stats.n_held_out
                    if stats.n_held_out and source.held_out_kept is not None else None)
            rows.append({"type": stats.type, "source": source.source, "candidates": source.n_candidates,
                         "pair completeness": source.gold_kept / stats.n_gold if stats.n_gold else None,
                         "held-out completeness": held})
        if stats.sources:
            rows.append({"type": stats.type, "source": "union", "candidates": stats.n_candidates,
                         "pair completeness": stats.pair_completeness,
                         "held-out completeness": stats.held_out_completeness})
    return rows


def _stamp(path: Path) -> tuple[int, int] | None:
    """(modification time, size) of a file, or None: a new blocking changes the cache key."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


@st.cache_resource(show_spinner=False, max_entries=8)
def _stored_blocking_report(directory: str, report_stamp, candidates_stamp):
    """Cached per file stamps: reading the report hashes the whole candidates file."""
    from core.project.lifecycle import load_blocking_report

    return load_blocking_report(directory)


@st.cache_resource(show_spinner=False)
def load_seed_keys(directory: str) -> frozenset[str]:
    """Pair keys of the seed TRAIN links, which the review queue never shows (their answer is known)."""
    from core.review.queue import seed_link_keys

    return frozenset(seed_link_keys(load_dataset(directory)))


def active_version(directory: str) -> str | None:
    """Read on every run (a cheap file read), so a switch made by another analyst shows at once.

    A damaged ``models/ACTIVE`` is shown as an error and the project is treated as having no
    active model (name scores), rather than failing every page; labels are not touched.
    """
    from core.formats.errors import DataError
    from core.project.model_versions import active_version as read
    from ui.plain_text import literal

    try:
        return read(directory)
    except DataError as exc:
        st.error(f"The active model pointer is unreadable, so no model is used: {literal(exc)}. "
                 "Pick a version on the Retrain page or run `mualign train` to write it anew.")
        return None


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def load_model(directory: str, version: str):
    """(scorer, checkpoint info) of one stored model version."""
    from core.project.checkpoint import load_scorer
    from core.project.model_versions import model_path

    return load_scorer(model_path(directory, version), load_dataset(directory))


@st.cache_resource(show_spinner="Loading the matcher…", max_entries=4)
def load_version_scorer(directory: str, version: str):
    """(scorer, note) of a version: its matcher over the model's distances, or (the model, why not).

    A version stored before the matcher (issue 15) scores with the model's calibrated probability;
    ``note`` says so, for the pages to show.
    """
    from core.project.lifecycle import evaluation_scorer
    from core.project.model_versions import gnn_version

    model, _ = load_model(directory, gnn_version(version))  # a matcher revision shares its GNN
    return evaluation_scorer(directory, version, load_dataset(directory), load_candidates(directory), model)


@st.cache_resource(show_spinner="Scoring the candidate pairs…", max_entries=4)
def load_scores(directory: str, version: str | None):
    """The score table of ``version`` (name similarity when there is no model yet).

    The matcher's probability, decisions and contributions for a version that has a matcher.
    """
    from core.project.score_table import name_only_scores, stored_or_scored

    dataset, candidates = load_dataset(directory), load_candidates(directory)
    if version is None:
        return name_only_scores(dataset, candidates)
    scorer, _ = load_version_scorer(directory, version)
    return stored_or_scored(directory, dataset, candidates, scorer, version)


@st.cache_resource(show_spinner="Ordering the review queue…", max_entries=8)
def load_queue(directory: str, version: str | None, strategy: str, entity_type: str | None, seed: int):
    """The review queue's order (seed links left out); decisions are skipped when it is read."""
    from core.review.queue import OrderedQueue

    return OrderedQueue.build(load_scores(directory, version), strategy=strategy,
                              exclude=load_seed_keys(directory), entity_type=entity_type, seed=seed)


@st.cache_resource(show_spinner=False, max_entries=4)
def score_types(directory: str, version: str | None) -> list[str]:
    """The aligned types present in the score table, sorted."""
    return sorted(load_scores(directory, version)["type"].unique())


def open_project():
    """(directory, dataset) of the app's project, or stop the page with a clear message."""
    from core.formats.errors import DataError
    from ui.plain_text import code

    directory = project_dir()
    if not directory.is_dir():
        st.info(f"No project at {code(directory)} yet. Run `mualign demo` to make the demo projects, or "
                "`mualign import ... --project DIR` and then `mualign review --project DIR`.")
        st.stop()
    try:
        return directory, load_dataset(str(directory))
    except DataError as exc:
        st.error("The project's files have problems; nothing was loaded.")
        st.code("\n".join(str(p) for p in exc.problems[:200]), language=None)
        st.stop()
