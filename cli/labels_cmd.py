"""``mualign labels export|import``: back up a project's label log to a file and restore it.

The logic lives in ``db.backup`` (format, checks, the import rule); this module only parses the
command line, opens the store, and for an import loads the project's graphs so that labels
naming entities the project does not have are refused with the list of offenders.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_labels_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``labels`` with its ``export`` and ``import`` subcommands on ``mualign``'s parser."""
    p = sub.add_parser("labels", help="back up or restore a project's labels (JSON Lines)",
                       description="Export every label event of a project to a JSON Lines file, or import "
                                   "such a file (all or nothing; events already stored are not added twice).")
    actions = p.add_subparsers(dest="labels_action", required=True, metavar="ACTION")

    e = actions.add_parser("export", help="write every label event of the project to FILE",
                           description="Write the project's whole label log (every decision and undo, with "
                                       "analyst, time, model version, score and note) to FILE as JSON Lines. "
                                       "FILE is replaced atomically: a failed export leaves the old file.")
    _common_options(e)
    e.set_defaults(run=cmd_labels_export)

    i = actions.add_parser("import", help="add the label events of FILE to the project",
                           description="Check FILE whole (format, fields, undo targets, entity ids against "
                                       "the project's graphs), then add its events in one transaction. Events "
                                       "already in the store (same time, pair, decision, analyst, ...) are "
                                       "skipped, so importing a file twice adds nothing the second time. Any "
                                       "problem refuses the whole file and leaves the stored labels as they were.")
    _common_options(i)
    i.set_defaults(run=cmd_labels_import)


def _common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, metavar="FILE", help="the labels file (JSON Lines)")
    p.add_argument("--project", type=Path, required=True, help="project directory")
    p.add_argument("--db", help="SQLAlchemy URL of the label store (default: DIR/labels.sqlite)")


def open_label_store(project: Path, db: str | None):
    """(session factory, engine, shown URL) of ``db`` (default: the project's ``labels.sqlite``).

    An unusable store (not a URL, a missing directory, not a database, written by a newer
    mualign) raises ``db.session.LabelStoreError``, a ValueError saying what is wrong: ``mualign``
    exits 2 with it.
    """
    from db.migrations import LabelStoreSchemaError
    from db.session import LabelStoreError, default_url, make_engine, make_sessionmaker

    try:
        engine = make_engine(db or default_url(project))
    except LabelStoreSchemaError as exc:  # a RuntimeError; its message names the store and revisions
        raise LabelStoreError(str(exc)) from None
    return make_sessionmaker(engine), engine, engine.url.render_as_string(hide_password=True)


def check_label_store(project: Path, db: str | None) -> None:
    """Open and close the store once, so a bad ``--db`` is refused before a server starts."""
    _, engine, _ = open_label_store(project, db)
    engine.dispose()


def _open_store(args):
    """(session factory, engine, shown URL, project key) for the command's project and --db."""
    if not args.project.is_dir():
        raise FileNotFoundError(f"no project directory {args.project}")
    Session, engine, shown = open_label_store(args.project, args.db)
    # the app's key for a project (ui/project_state.project_key): its directory's name
    return Session, engine, shown, args.project.resolve().name


def cmd_labels_export(args) -> int:
    from db.backup import export_labels

    target = args.file
    if target.is_dir():
        raise ValueError(f"{target} is a directory; name the file to write, e.g. {target / 'labels.jsonl'}")
    if not target.parent.is_dir():
        raise FileNotFoundError(f"{target.parent} is not a directory, so {target.name} cannot be written there")
    Session, engine, shown, project = _open_store(args)
    try:
        with Session.begin() as session:
            count = export_labels(session, target, project=project)
    finally:
        engine.dispose()
    print(f"exported {count:,} label events of project {project!r} from {shown} to {target}")
    return 0


def cmd_labels_import(args) -> int:
    from core.project.cache import load_project_cached as load_project
    from db.backup import import_labels, read_label_file

    label_file = read_label_file(args.file)  # refuse a bad file before loading graphs or opening the store
    dataset = load_project(args.project)
    left_ids = {str(i) for i in dataset.left.entity_ids}
    right_ids = {str(i) for i in dataset.right.entity_ids}
    Session, engine, shown, project = _open_store(args)
    try:
        with Session.begin() as session:
            report = import_labels(session, label_file, project=project, left_ids=left_ids, right_ids=right_ids)
    finally:
        engine.dispose()
    renamed = "" if report.source_project == project else f" (exported from project {report.source_project!r})"
    print(f"imported {args.file} into project {project!r}{renamed} at {shown}: {report.events_in_file:,} events "
          f"in the file, {report.added:,} added, {report.already_present:,} already present")
    return 0
