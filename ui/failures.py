"""Failures an analyst can do something about, shown as a plain message instead of a traceback.

A read-only or vanished label store, a full disk, an unwritable project directory, a bad
``--db``, a damaged project file or model version: none of these is a bug in the page, and a
Python traceback (with the server's paths in it) tells the analyst nothing they can act on. The
store and the loaders already raise errors whose text says what is wrong and what to do
(:class:`db.session.LabelStoreError`, :class:`core.formats.errors.DataError`,
:class:`core.project.checkpoint.CheckpointError`); here they, and the operating system's
``OSError``, become one ``st.error`` box. Any other exception is a bug and keeps its traceback.

Two places need it. ``app.py`` runs every page inside :func:`failures_as_messages`. A button's
callback runs before the page does, outside that block, and a failed write there must stop the
callback before it says "accept: ..." as if the decision had been stored: :func:`reported`
wraps such callbacks, keeps the message, and the next run shows it at the top of the page.
The traceback still goes to the server's log.
"""

from __future__ import annotations

import errno
import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import streamlit as st

from ui.plain_text import literal

LOG = logging.getLogger("mualign.app")
PENDING_KEY = "failure_message"  # session key: a callback's failure, shown by the next run
PROBLEMS_SHOWN = 20


def _known_failures() -> tuple[type[BaseException], ...]:
    from core.formats.errors import DataError
    from core.project.checkpoint import CheckpointError
    from db.migrations import LabelStoreSchemaError
    from db.session import LabelStoreError

    return LabelStoreError, LabelStoreSchemaError, DataError, CheckpointError, OSError


def failure_message(exc: BaseException, *, project: Path | None = None) -> str | None:
    """What to tell the analyst about ``exc``, or None when it is not a known failure (a bug).

    ``project``: the project directory; an ``OSError`` about a file inside it names the file
    relative to it, and a file elsewhere only by its name (the server's other paths are none of
    the analyst's business).

    Examples
    --------
    >>> import errno, os
    >>> failure_message(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
    'The disk is full (No space left on device): nothing was written. Free some space and try again; the labels stored before are kept.'
    """
    from core.formats.errors import DataError
    from core.project.checkpoint import CheckpointError
    from db.migrations import LabelStoreSchemaError
    from db.session import LabelStoreError

    if isinstance(exc, LabelStoreError):
        return _sentence(str(exc))
    if isinstance(exc, LabelStoreSchemaError):
        return f"The label store cannot be used: {exc}"
    if isinstance(exc, DataError):
        problems = [str(p) for p in exc.problems]
        more = f"\n… and {len(problems) - PROBLEMS_SHOWN:,} more" if len(problems) > PROBLEMS_SHOWN else ""
        return "The project's files have problems, so this page cannot be shown:\n" + "\n".join(
            problems[:PROBLEMS_SHOWN]) + more
    if isinstance(exc, CheckpointError):
        return (f"The model version cannot be used: {exc}. Make another version active on the Retrain page, "
                "or train a new one.")
    if isinstance(exc, OSError):
        return _os_message(exc, project)
    return None


def _os_message(exc: OSError, project: Path | None) -> str:
    if exc.strerror is None:  # raised by our own code with a message of its own
        return _sentence(str(exc))
    where = _file_shown(exc.filename, project)
    about = f" ({where})" if where else ""
    if exc.errno == errno.ENOSPC:
        return (f"The disk is full ({exc.strerror}){about}: nothing was written. Free some space and try again; "
                "the labels stored before are kept.")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (f"This account may not write{' ' + where if where else ''} ({exc.strerror}): nothing was written. "
                "Make the project directory writable for the account that runs the app.")
    return f"Reading or writing a file failed{about}: {exc.strerror}. Nothing was written."


def _file_shown(filename: Any, project: Path | None) -> str | None:
    if not filename:
        return None
    path = Path(str(filename))
    if project is not None:
        try:
            return str(path.resolve().relative_to(project.resolve()))
        except (ValueError, OSError):
            pass
    return path.name


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def _project() -> Path | None:
    from ui.project_state import project_dir

    try:
        return project_dir()
    except Exception:  # noqa: BLE001 - only used to shorten paths in a message
        return None


def show_failure(message: str) -> None:
    """The message as an error box, shown as plain text (paths and names may hold Markdown)."""
    st.error(literal(message))


@contextmanager
def failures_as_messages() -> Iterator[None]:
    """Run a page: a known failure (see :func:`failure_message`) ends it with an error box.

    A message kept by a failed callback (:func:`reported`) is shown first, above the page.
    """
    pending = st.session_state.pop(PENDING_KEY, None)
    if pending:
        show_failure(pending)
    try:
        yield
    except _known_failures() as exc:
        message = failure_message(exc, project=_project())
        LOG.warning("page stopped: %s", message, exc_info=exc)
        if not (pending and pending.endswith(message)):  # the same failure, already said
            show_failure(message)


def reported(callback: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a widget callback that writes: a known failure stops it, and the page then says why.

    The callback's transaction was rolled back, so the message starts with "Nothing was
    recorded", and whatever the callback would have said afterwards ("accept: ...") is not said.
    """

    @functools.wraps(callback)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except _known_failures() as exc:
            message = failure_message(exc, project=_project())
            LOG.warning("action not recorded: %s", message, exc_info=exc)
            st.session_state[PENDING_KEY] = f"Nothing was recorded. {message}"
            return None

    return wrapper
