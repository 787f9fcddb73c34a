"""Back up a project's label log to a file and restore it, losing nothing and adding nothing twice.

Why a file format of our own rather than a copy of ``labels.sqlite``: a copy is tied to one
backend and one schema version, a team server (PostgreSQL) cannot be copied that way, and a copy
cannot be merged into a store that already holds labels. The backup is **JSON Lines** (UTF-8,
one JSON object per line, ``\\n`` after every line), readable with any tool:

- line 1, the header: ``{"format": "mualign-labels", "version": 1, "project": "films",
  "events": 3}``. ``events`` is the number of event lines that follow, so a truncated file is
  recognised even when it was cut exactly at a line end.
- then one line per event, oldest first::

      {"seq": 1, "created_at": "2024-05-01T12:00:00.123456+00:00", "left_id": "f1",
       "right_id": "m10", "type": "film", "decision": "accept", "analyst": "ana",
       "model_version": "v3", "score": 0.92, "note": "same year", "undoes": null,
       "resolution": false}

  ``seq`` numbers the events 1, 2, 3, ... in log order, and an undo names the event it cancels
  by that number (``"undoes": 2``); ``resolution`` is true on a decision that settled a
  disagreement from the conflict queue. Store ids are not written: they depend on the store
  (other projects share a server's id sequence), while positions do not, so export, import into
  an empty store and export again give the same bytes. Times are UTC to the microsecond; scores are
  written with Python's shortest exact ``repr`` of the float, so they come back bit for bit
  (except -0.0, written as 0.0: SQLite cannot keep the sign of a zero).

Importing (``import_labels``) is all or nothing: the file is read and checked whole (every
problem collected and reported as ``path:line: problem``) before the store is touched, and
the inserts run in the caller's transaction, so a refused or failed import leaves the stored
labels exactly as they were.

**Importing the same file twice adds nothing the second time.** An event is identified by its
content, not by an id: its time (to the microsecond), pair, type, decision, analyst, model
version, score, note and resolution flag, and for an undo the identity of the event it undoes;
two events with equal content are told apart by their order (the first such event in the file
matches the first in the store). Events of the file already in the target project are skipped; the rest are
appended in file order, after the events already stored (the log's order is its ids, so a
merged-in older event counts as newer than what the store held: restore into an empty store to
reproduce a log exactly). An undo in the file for an event the store has already undone by a
different undo is a conflict and refuses the import.

This module imports only the standard library and SQLAlchemy, like the rest of ``db``. The check
that events name entities of the project's graphs is a plain function over sets of ids
(``unknown_entities``), so the caller loads the graphs and ``db`` stays free of torch.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from db.decisions import Decision
from db.models import LabelEventRow

FORMAT = "mualign-labels"
VERSION = 1
MAX_LINE_BYTES = 1 << 20
"""Longest line read (1 MiB): far above any real event (a long note is a few KiB), and low enough
that a binary file or a runaway line is refused without reading it all into memory."""
INSERT_BATCH = 1000
"""Events inserted per statement on import: few round trips, bounded statement size."""
MAX_PROBLEMS = 100
"""Stop reading a file after this many problems: past that it is not a labels file gone wrong in
a few places but something else, and the first problems say what."""

HEADER_FIELDS = ("format", "version", "project", "events")
EVENT_FIELDS = ("seq", "created_at", "left_id", "right_id", "type", "decision", "analyst",
                "model_version", "score", "note", "undoes", "resolution")


# ------------------------------------------------------------------------------- records ---
@dataclass(frozen=True)
class FileProblem:
    """One thing wrong with a labels file; ``line`` is 1-based, ``None`` for the whole file."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"


class LabelFileError(ValueError):
    """A labels file was refused; ``problems`` lists every problem found, one per message line.

    A ``ValueError``, so the CLI reports it like other bad input (exit status 2).
    """

    def __init__(self, problems: Sequence[FileProblem]):
        if not problems:
            raise ValueError("LabelFileError needs at least one problem")
        self.problems = tuple(problems)
        shown = [str(p) for p in self.problems[:200]]
        if len(self.problems) > len(shown):
            shown.append(f"... and {len(self.problems) - len(shown)} more problems")
        noun = "problem" if len(self.problems) == 1 else "problems"
        super().__init__(f"{len(self.problems)} {noun}; nothing was imported:\n" + "\n".join(shown))


@dataclass(frozen=True)
class BackupEvent:
    """One event as a labels file holds it: position (``seq``) instead of a store id.

    ``line`` is where it was read from (for error messages; ``None`` when made from a store) and
    takes no part in comparisons.
    """

    seq: int
    created_at: datetime
    left_id: str
    right_id: str
    type: str
    decision: Decision
    analyst: str
    model_version: str | None
    score: float | None
    note: str | None
    undoes: int | None
    resolution: bool = False
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class LabelFile:
    """A labels file read and checked whole: its source project and its events in log order."""

    path: str
    project: str
    events: tuple[BackupEvent, ...]


@dataclass(frozen=True)
class UnknownEntity:
    """An event naming an entity id that the project's left or right graph does not have."""

    line: int | None
    side: str  # "left" or "right"
    entity_id: str


@dataclass(frozen=True)
class ImportReport:
    """What an import did: ``added + already_present == events_in_file``."""

    path: str
    source_project: str
    project: str
    events_in_file: int
    added: int
    already_present: int


# -------------------------------------------------------------------------------- export ---
def export_labels(session: Session, path: str | Path, *, project: str) -> int:
    """Write every event of ``project`` to ``path`` (format in the module docstring); return the count.

    The file is written next to ``path`` under a temporary name, flushed to disk, then renamed
    over ``path``: a crash or a full disk mid-export leaves the previous backup in place rather
    than a truncated one. Run it inside one transaction (``with Session.begin() as s:``) so the
    backup is a consistent snapshot while analysts keep writing.
    """
    path = Path(path)
    rows = session.scalars(select(LabelEventRow).where(LabelEventRow.project == project)
                           .order_by(LabelEventRow.id)).all()
    lines = list(format_label_lines(project, _backup_events(rows)))
    directory = path.parent if str(path.parent) else Path(".")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=directory)
    try:
        with os.fdopen(handle, "wb") as out:
            out.writelines(lines)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return len(lines) - 1


def format_label_lines(project: str, events: Sequence[BackupEvent]) -> Iterator[bytes]:
    """The file's lines as UTF-8 bytes, each ending in ``\\n``: the header, then one per event.

    Keys keep the order of ``EVENT_FIELDS`` and non-ASCII text is written as is, so the file is
    readable and the same events always give the same bytes.
    """
    header = {"format": FORMAT, "version": VERSION, "project": project, "events": len(events)}
    yield _json_line(header)
    for e in events:
        yield _json_line({
            "seq": e.seq, "created_at": _format_time(e.created_at), "left_id": e.left_id,
            "right_id": e.right_id, "type": e.type, "decision": e.decision.value, "analyst": e.analyst,
            "model_version": e.model_version, "score": None if e.score is None else e.score + 0.0,  # no -0.0
            "note": e.note, "undoes": e.undoes,
            "resolution": e.resolution,
        })


def _backup_events(rows: Sequence[LabelEventRow]) -> list[BackupEvent]:
    """Store rows (one project, id order) as file events numbered 1, 2, 3, ..."""
    seq_of = {row.id: n for n, row in enumerate(rows, start=1)}
    return [
        BackupEvent(seq=seq_of[row.id], created_at=row.created_at, left_id=row.left_id, right_id=row.right_id,
                    type=row.type, decision=Decision.parse(row.decision), analyst=row.analyst,
                    model_version=row.model_version, score=row.score, note=row.note,
                    undoes=None if row.undoes_id is None else seq_of[row.undoes_id],
                    resolution=bool(row.resolution))
        for row in rows
    ]


# Characters that some line splitters (Python's str.splitlines, JavaScript) take for line ends,
# though JSON leaves them unescaped; written as \u escapes, every tool sees the same lines.
_LINE_BREAKING = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _json_line(value: dict[str, Any]) -> bytes:
    line = json.dumps(value, ensure_ascii=False, allow_nan=False).translate(_LINE_BREAKING)
    return (line + "\n").encode("utf-8")


def _format_time(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


# ---------------------------------------------------------------------------------- read ---
def read_label_file(path: str | Path) -> LabelFile:
    """Read and check a labels file whole.

    Raises
    ------
    LabelFileError
        With every problem found (up to ``MAX_PROBLEMS``), each as ``path:line: problem``: not
        UTF-8, not JSON, a line over ``MAX_LINE_BYTES``, a missing or unknown field, a value of
        the wrong kind, an unknown decision, an undo pointing at no earlier label event, events
        out of order, a missing final newline or fewer or more events than the header says.
        A file that cannot be opened or read (missing, a directory, no permission) is reported
        the same way, as a problem of the whole file.
    """
    path = Path(path)
    try:
        with open(path, "rb") as stream:
            return _read(stream, str(path))
    except OSError as exc:
        reason = "is a directory, not a labels file" if isinstance(exc, IsADirectoryError) \
            else f"cannot be read: {exc.strerror or exc}"
        raise LabelFileError([FileProblem(str(path), None, reason)]) from None


def _read(stream: BinaryIO, name: str) -> LabelFile:
    problems: list[FileProblem] = []
    header: dict[str, Any] | None = None
    events: list[BackupEvent] = []
    undone_by: dict[int, int] = {}  # seq of an undone event -> line of its undo
    by_seq: dict[int, BackupEvent] = {}
    bad_lines: dict[int, int] = {}  # seq of an event line with a problem -> its line number
    event_lines = 0
    next_seq = 1
    for number, raw, problem in _lines(stream):
        if len(problems) >= MAX_PROBLEMS:
            problems.append(FileProblem(name, number, f"stopped reading after {MAX_PROBLEMS} problems"))
            break
        if problem is None and number == 1:
            raw = raw.removeprefix(b"\xef\xbb\xbf")  # a byte-order mark from an editor is harmless
        if problem is None and number > 1 and not raw.strip():
            problems.append(FileProblem(name, number, "empty line: every line must be one JSON object"))
            continue  # not counted as an event line, so the lines below are numbered as meant
        value, problem = (None, problem) if problem else _parse_json(raw)
        if number == 1:
            if problem is None:
                header, problem = _check_header(value)
            if problem:
                # not our file, or one we cannot read: the lines below would only add noise
                raise LabelFileError([FileProblem(name, 1, problem)])
            continue
        event_lines += 1
        expected_seq = next_seq
        claimed = value.get("seq") if isinstance(value, dict) else None
        # After a missing, repeated or moved line, follow the file's own numbering again, so
        # one such line is one problem rather than one per line below it.
        next_seq = (claimed if _is_int(claimed) else expected_seq) + 1
        if problem is None:
            event, problem = _check_event(value, number, expected_seq=expected_seq, by_seq=by_seq,
                                          undone_by=undone_by, bad_lines=bad_lines)
        if problem:
            problems.append(FileProblem(name, number, problem))
            bad_lines[next_seq - 1] = number
            continue
        events.append(event)
        by_seq[event.seq] = event
        if event.undoes is not None:
            undone_by[event.undoes] = number
    else:  # read to the end (no break): the whole-file checks
        if header is None:
            raise LabelFileError([FileProblem(name, None, "empty file: not a mualign labels file "
                                                          f"(expected a header line with \"format\": \"{FORMAT}\")")])
        if event_lines != header["events"]:
            problems.append(FileProblem(
                name, None, f"the header announces {header['events']} events but the file has {event_lines} "
                            f"event lines: the file is truncated or was edited"))
    if problems or header is None:
        raise LabelFileError(problems)
    return LabelFile(path=name, project=header["project"], events=tuple(events))


def _lines(stream: BinaryIO) -> Iterator[tuple[int, bytes, str | None]]:
    """(line number, bytes without the newline, problem or None), never holding a huge line whole."""
    number = 0
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while True:  # skip the rest of the overlong line, a chunk at a time
                rest = stream.readline(MAX_LINE_BYTES)
                if not rest or rest.endswith(b"\n"):
                    break
            yield number, b"", (f"line longer than {MAX_LINE_BYTES:,} bytes: not a labels file, "
                                "or a line was corrupted")
            continue
        if not raw.endswith(b"\n"):
            yield number, raw, "no newline at the end of the last line: the file looks truncated"
            continue
        yield number, raw[:-1], None


def _parse_json(raw: bytes) -> tuple[Any, str | None]:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, (f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}): "
                      "labels files are UTF-8 JSON Lines")
    if not line.strip():
        return None, "empty line: every line must be one JSON object"
    try:
        return json.loads(line, parse_constant=_refuse_constant, object_pairs_hook=_object_without_repeats), None
    except _NonFinite as exc:
        return None, f"{exc} is not a number JSON allows (scores must be finite)"
    except _RepeatedKey as exc:
        return None, f"field {_short(str(exc))} appears twice in one object: which one is meant?"
    except json.JSONDecodeError as exc:
        return None, f"not JSON: {exc.msg} (column {exc.colno})"
    except RecursionError:
        return None, "not JSON this reader accepts: nested too deeply"
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        return None, f"not JSON this reader accepts: {exc}"


class _NonFinite(ValueError):
    pass


class _RepeatedKey(ValueError):
    pass


def _refuse_constant(word: str) -> Any:
    raise _NonFinite(word)


def _object_without_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads`` keeps the last of repeated keys silently; a hand-edited event may mean the first."""
    value = dict(pairs)
    if len(value) != len(pairs):
        raise _RepeatedKey(next(k for k, n in Counter(k for k, _ in pairs).items() if n > 1))
    return value


def _check_header(value: Any) -> tuple[dict[str, Any] | None, str | None]:
    if not isinstance(value, dict) or value.get("format") != FORMAT:
        return None, (f"not a mualign labels file: the first line must be a header "
                      f"{{\"format\": \"{FORMAT}\", \"version\": {VERSION}, ...}}, got {_short(value)}")
    version = value.get("version")
    if not _is_int(version) or version < 1:
        return None, f"header: \"version\" must be a positive integer, got {_short(version)}"
    if version > VERSION:
        return None, (f"written in labels format version {version}; this mualign reads version {VERSION}: "
                      "upgrade mualign to import it")
    fields_problem = _fields_problem(value, HEADER_FIELDS, "header")
    if fields_problem:
        return None, fields_problem
    if not _is_text(value["project"]):
        return None, f"header: \"project\" must be a non-empty string, got {_short(value['project'])}"
    if not _is_int(value["events"]) or value["events"] < 0:
        return None, f"header: \"events\" must be a count (integer >= 0), got {_short(value['events'])}"
    return value, None


def _check_event(value: Any, line: int, *, expected_seq: int, by_seq: dict[int, BackupEvent],
                 undone_by: dict[int, int], bad_lines: dict[int, int]) -> tuple[BackupEvent | None, str | None]:
    """One event line -> (event, None) or (None, problem).

    ``by_seq`` holds the earlier good events, ``undone_by`` the earlier undos' targets and
    ``bad_lines`` the earlier event lines that had a problem (so an undo of one says so).
    """
    if not isinstance(value, dict):
        return None, f"expected a JSON object (an event), got {_short(value)}"
    problem = _fields_problem(value, EVENT_FIELDS, "event")
    if problem:
        return None, problem
    seq = value["seq"]
    if not _is_int(seq) or seq != expected_seq:
        return None, (f"\"seq\" must number the events 1, 2, 3, ... in file order: expected {expected_seq}, "
                      f"got {_short(seq)} (a line missing, repeated or moved?)")
    created_at, problem = _parse_time(value["created_at"])
    if problem:
        return None, problem
    for name in ("left_id", "right_id", "type", "analyst"):
        if not _is_text(value[name]):
            if isinstance(value[name], str) and "\x00" in value[name]:
                return None, f"\"{name}\" holds a NUL character, which the label store cannot keep"
            return None, f"\"{name}\" must be a non-empty string, got {_short(value[name])}"
    for name in ("model_version", "note"):
        if value[name] is not None and not isinstance(value[name], str):
            return None, f"\"{name}\" must be a string or null, got {_short(value[name])}"
    for name in ("left_id", "right_id", "type", "analyst", "model_version", "note"):
        if isinstance(value[name], str) and not _utf8_safe(value[name]):
            return None, f"\"{name}\" holds an unpaired surrogate escape (\\ud800-\\udfff), which is not text"
    score = value["score"]
    if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float))):
        return None, f"\"score\" must be a number or null, got {_short(score)}"
    if score is not None:
        try:
            score = float(score) + 0.0  # -0.0 becomes 0.0: SQLite stores it as the integer 0
        except OverflowError:
            score = math.inf
        if not math.isfinite(score):
            return None, f"\"score\" must be a finite number, got {_short(value['score'])}"
    if not isinstance(value["resolution"], bool):
        return None, f"\"resolution\" must be true or false, got {_short(value['resolution'])}"
    word = value["decision"]
    try:
        decision = Decision.parse(word) if isinstance(word, str) else None
    except ValueError:
        decision = None
    if decision is None:
        allowed = ", ".join(repr(d.value) for d in Decision)
        return None, f"unknown decision {_short(word)}: expected one of {allowed}"
    undoes = value["undoes"]
    if decision is Decision.UNDO:
        if not _is_int(undoes):
            return None, f"an undo must name the event it undoes (\"undoes\": its seq), got {_short(undoes)}"
        target = by_seq.get(undoes)
        if target is None and undoes in bad_lines:
            return None, f"undo points at event {undoes}, whose line ({bad_lines[undoes]}) has a problem"
        if target is None:
            return None, (f"undo points at event {undoes}, which is not an earlier event of this file "
                          "(an undo can only follow the event it undoes)")
        if target.decision is Decision.UNDO:
            return None, f"undo points at event {undoes}, which is itself an undo; only labels can be undone"
        if undoes in undone_by:
            return None, f"event {undoes} is undone twice (also by line {undone_by[undoes]})"
        if (target.left_id, target.right_id) != (value["left_id"], value["right_id"]):
            return None, (f"undo is for pair ({value['left_id']!r}, {value['right_id']!r}) but event {undoes} "
                          f"is for ({target.left_id!r}, {target.right_id!r})")
    elif undoes is not None:
        return None, f"\"undoes\" must be null on {decision.value} events (only undo events undo), got {_short(undoes)}"
    return BackupEvent(seq=seq, created_at=created_at, left_id=value["left_id"], right_id=value["right_id"],
                       type=value["type"], decision=decision, analyst=value["analyst"],
                       model_version=value["model_version"], score=score, note=value["note"], undoes=undoes,
                       resolution=value["resolution"], line=line), None


def _fields_problem(value: dict[str, Any], expected: tuple[str, ...], what: str) -> str | None:
    missing = [name for name in expected if name not in value]
    unknown = [name for name in value if name not in expected]
    parts = []
    if missing:
        parts.append("missing field(s) " + ", ".join(repr(n) for n in missing))
    if unknown:
        parts.append("unknown field(s) " + ", ".join(_short(n) for n in unknown))
    return f"{what}: {'; '.join(parts)} (an {what} has exactly {', '.join(expected)})" if parts else None


def _parse_time(value: Any) -> tuple[datetime | None, str | None]:
    if not isinstance(value, str):
        return None, f"\"created_at\" must be an ISO-8601 time string, got {_short(value)}"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None, f"\"created_at\" is not an ISO-8601 time: {_short(value)}"
    if parsed.tzinfo is None:
        return None, f"\"created_at\" has no time zone: {_short(value)} (write it in UTC, e.g. ...+00:00)"
    try:
        return parsed.astimezone(timezone.utc), None
    except OverflowError:
        return None, f"\"created_at\" is out of range once converted to UTC: {_short(value)}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_text(value: Any) -> bool:
    """A usable id or name: not blank, and no NUL (SQLite's length() stops at a NUL, so the
    store's "not blank" rule would refuse it mid-insert; PostgreSQL cannot store one at all)."""
    return isinstance(value, str) and bool(value.strip()) and "\x00" not in value


def _utf8_safe(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _short(value: Any, limit: int = 60) -> str:
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


# ---------------------------------------------------------------------------- entity ids ---
def unknown_entities(events: Iterable[BackupEvent], *, left_ids: Set[str], right_ids: Set[str]) -> list[UnknownEntity]:
    """Every (line, side, id) of ``events`` whose left id is not in ``left_ids`` or right id not in ``right_ids``.

    A plain function over sets, so ``db`` needs no graphs: the caller passes the ids of the
    project's left and right entity tables. Labels for entities the project does not have would
    train and evaluate on nothing, and usually mean the file belongs to another project.

    Examples
    --------
    >>> e = BackupEvent(1, datetime(2024, 1, 1, tzinfo=timezone.utc), "f1", "zz", "film", Decision.ACCEPT,
    ...                 "ana", None, None, None, None, line=2)
    >>> unknown_entities([e], left_ids={"f1"}, right_ids={"m10"})
    [UnknownEntity(line=2, side='right', entity_id='zz')]
    """
    found = []
    for e in events:
        if e.left_id not in left_ids:
            found.append(UnknownEntity(e.line, "left", e.left_id))
        if e.right_id not in right_ids:
            found.append(UnknownEntity(e.line, "right", e.right_id))
    return found


# -------------------------------------------------------------------------------- import ---
def import_labels(session: Session, source: str | Path | LabelFile, *, project: str,
                  left_ids: Set[str] | None = None, right_ids: Set[str] | None = None) -> ImportReport:
    """Add the events of a labels file to ``project`` that it does not hold yet (rule: module docstring).

    Run it in one transaction (``with Session.begin() as s:``): every check happens before the
    first insert, and if anything fails the caller's transaction rolls back, so the store is
    either unchanged or holds the whole file.

    Parameters
    ----------
    source : path or LabelFile
        A path is read with ``read_label_file``.
    project : str
        The target project in the store (the file's own project name is only reported: a
        project directory may have been renamed).
    left_ids, right_ids : set of str, optional
        The project's entity ids; when given, events naming other ids refuse the import and
        every offender is listed.

    Raises
    ------
    LabelFileError
        Bad file, unknown entity ids, an undo that conflicts with the store, or text the
        backend cannot store; nothing is written.
    """
    label_file = source if isinstance(source, LabelFile) else read_label_file(source)
    name = label_file.path
    if not _is_text(project):
        raise ValueError(f"project must be a non-empty string, got {project!r}")
    problems: list[FileProblem] = []
    if (left_ids is None) != (right_ids is None):
        raise ValueError("pass both left_ids and right_ids, or neither")
    if left_ids is not None and right_ids is not None:
        problems += [FileProblem(name, u.line, f"{u.side} entity id {u.entity_id!r} is not in the project's "
                                               f"{u.side} graph")
                     for u in unknown_entities(label_file.events, left_ids=left_ids, right_ids=right_ids)]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # PostgreSQL text cannot hold NUL; refuse here, by line, instead of failing mid-insert.
        problems += [FileProblem(name, e.line, "text holds a NUL character, which PostgreSQL cannot store")
                     for e in label_file.events
                     if any("\x00" in (v or "") for v in (e.left_id, e.right_id, e.type, e.analyst,
                                                           e.model_version, e.note))]
        # Serialise imports into one project, so two at once cannot both add the same events.
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"mualign-labels:{project}"})
    if problems:
        raise LabelFileError(problems)

    stored = session.scalars(select(LabelEventRow).where(LabelEventRow.project == project)
                             .order_by(LabelEventRow.id)).all()
    stored_events = _backup_events(stored)
    store_id_of_key = {key: row.id for key, row in zip(_content_keys(stored_events), stored)}
    store_undone = {row.undoes_id: row for row in stored if row.undoes_id is not None}

    store_id_of_seq: dict[int, int] = {}
    to_add: list[BackupEvent] = []
    for event, key in zip(label_file.events, _content_keys(label_file.events)):
        if key in store_id_of_key:
            store_id_of_seq[event.seq] = store_id_of_key[key]
            continue
        if event.undoes is not None and event.undoes in store_id_of_seq:
            existing = store_undone.get(store_id_of_seq[event.undoes])
            if existing is not None:
                problems.append(FileProblem(
                    name, event.line, f"the store already undid event {event.undoes} differently (by "
                                      f"{existing.analyst!r} at {_format_time(existing.created_at)}); this undo "
                                      "conflicts with it"))
                continue
        to_add.append(event)
    if problems:
        raise LabelFileError(problems)
    _insert(session, project, to_add, store_id_of_seq)
    return ImportReport(path=name, source_project=label_file.project, project=project,
                        events_in_file=len(label_file.events), added=len(to_add),
                        already_present=len(label_file.events) - len(to_add))


def _insert(session: Session, project: str, events: list[BackupEvent], store_id_of_seq: dict[int, int]) -> None:
    """Insert in file order, in batches; a batch ends before an undo whose target has no id yet."""
    batch: list[BackupEvent] = []

    def flush() -> None:
        if not batch:
            return
        rows = [_row_values(project, e, store_id_of_seq) for e in batch]
        ids = session.scalars(insert(LabelEventRow).returning(LabelEventRow.id, sort_by_parameter_order=True),
                              rows).all()
        store_id_of_seq.update((e.seq, new_id) for e, new_id in zip(batch, ids, strict=True))
        batch.clear()

    for event in events:
        if event.undoes is not None and event.undoes not in store_id_of_seq:
            flush()
        batch.append(event)
        if len(batch) >= INSERT_BATCH:
            flush()
    flush()


def _row_values(project: str, e: BackupEvent, store_id_of_seq: dict[int, int]) -> dict[str, Any]:
    return dict(project=project, left_id=e.left_id, right_id=e.right_id, type=e.type, decision=e.decision.value,
                analyst=e.analyst, created_at=e.created_at, model_version=e.model_version, score=e.score,
                note=e.note, undoes_id=None if e.undoes is None else store_id_of_seq[e.undoes],
                resolution=e.resolution)


def _content_keys(events: Sequence[BackupEvent]) -> list[tuple]:
    """Each event's identity for the import rule: its content, the undone event's identity, its rank.

    ``events`` are in log order and every undo follows its target, so one pass suffices. The rank
    (how many earlier events have the same content) separates events that are otherwise equal.
    """
    key_of_seq: dict[int, tuple] = {}
    seen: Counter[tuple] = Counter()
    keys = []
    for e in events:
        content = (_format_time(e.created_at), e.left_id, e.right_id, e.type, e.decision.value, e.analyst,
                   e.model_version, e.score, e.note, e.resolution,
                   None if e.undoes is None else key_of_seq[e.undoes])
        key = (content, seen[content])
        seen[content] += 1
        key_of_seq[e.seq] = key
        keys.append(key)
    return keys
