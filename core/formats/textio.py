"""Reading delimited text strictly, so every problem can be reported with its file and line.

Files are decoded as UTF-8 up front (a bad byte is reported with its line number instead of
turning into mojibake later), field counts are checked for every line with NumPy on the raw
bytes, and only then is the text handed to pandas' C parser, which is fast but reports at most
one bad line.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from core.formats.errors import ProblemLog

#: Lines longer than this are refused rather than parsed (a binary or corrupted file).
MAX_LINE_BYTES = 1_000_000


def read_text(path: Path, log: ProblemLog, *, max_line_bytes: int = MAX_LINE_BYTES) -> str | None:
    """The file's text with every line ending (``\\r\\n``, ``\\r``, ``\\n``) made ``\\n``, or None
    after logging why it cannot be read.

    Checks run on the raw bytes, cheapest first, before any decoding or copying: NUL bytes (a
    binary or UTF-16 file), lines over ``max_line_bytes`` (a corrupted file: a 50 MB line would
    otherwise be decoded, split and echoed back in messages, costing many times its size in
    memory), then UTF-8. A lone ``\\r`` ends a line, as in old Mac files, Python's universal
    newlines, the csv module and most editors, so every loader numbers lines the same way.
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode) and not Path(path).is_dir():
            # reading a named pipe waits forever for a writer; a device may never end
            log.add(path, None, "is not a regular file (a named pipe, socket or device); save the data to a file")
            return None
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        log.add(path, None, "file not found")
        return None
    except IsADirectoryError:
        log.add(path, None, "is a directory, expected a file")
        return None
    except OSError as exc:
        log.add(path, None, f"cannot read: {exc.strerror or exc}")
        return None
    start = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
    nul = raw.find(b"\x00", start)
    if nul >= 0:
        log.add(path, line_of_offset(raw, nul), "contains NUL bytes: this looks like a binary file (or UTF-16), "
                                                "not UTF-8 text")
        return None
    overlong = _overlong_lines(raw, max_line_bytes)
    if overlong:
        for line, length in overlong[:20]:
            log.add(path, line, f"line is {length:,} bytes long (limit {max_line_bytes:,}); "
                                "the file looks corrupted or is not a text table")
        if len(overlong) > 20:
            log.add(path, None, f"{len(overlong) - 20} more lines are over {max_line_bytes:,} bytes long")
        return None
    try:
        text = str(memoryview(raw)[start:], "utf-8")
    except UnicodeDecodeError as exc:
        offset = start + exc.start
        log.add(path, line_of_offset(raw, offset), f"not valid UTF-8 (byte 0x{raw[offset]:02x} at offset {offset}); "
                                                   "save the file as UTF-8")
        return None
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def line_of_offset(raw: bytes, offset: int) -> int:
    """1-based line of byte ``offset`` in ``raw``, lines ending at ``\\n``, ``\\r\\n`` or a lone ``\\r``."""
    return raw.count(b"\n", 0, offset) + raw.count(b"\r", 0, offset) - raw.count(b"\r\n", 0, offset) + 1


def _overlong_lines(raw: bytes, limit: int) -> list[tuple[int, int]]:
    """(1-based line, length in bytes) of every line of ``raw`` longer than ``limit``."""
    if len(raw) <= limit:
        return []
    data = np.frombuffer(raw, dtype=np.uint8)
    breaks = np.flatnonzero(data == 10)
    returns = np.flatnonzero(data == 13)
    if len(returns):  # a "\r" ends a line unless a "\n" follows it
        follows = np.minimum(returns + 1, len(data) - 1)
        lone = returns[(returns + 1 >= len(data)) | (data[follows] != 10)]
        breaks = np.sort(np.concatenate([breaks, lone]))
    lengths = np.diff(np.concatenate([[-1], breaks, [len(raw)]])) - 1
    return [(int(i) + 1, int(lengths[i])) for i in np.flatnonzero(lengths > limit)]


def check_field_counts(text: str | bytes, path: Path, expected: int, log: ProblemLog, *,
                       delimiter: str = "\t", first_line: int = 1) -> np.ndarray:
    """Log every line of ``text`` whose field count differs from ``expected``.

    Returns a boolean mask over the lines of ``text`` (a str, or its UTF-8 bytes): True where the
    line is well formed.

    Counting is vectorised over the encoded bytes, so it costs about as much as reading the file.
    The final newline is optional; other empty lines are problems.
    """
    data = np.frombuffer(text if isinstance(text, bytes) else text.encode("utf-8"), dtype=np.uint8)
    if len(data) == 0:
        return np.ones(0, dtype=bool)
    newlines = np.flatnonzero(data == 10)
    n_lines = len(newlines) + (0 if data[-1] == 10 else 1)
    starts = np.concatenate([[0], newlines + 1])[:n_lines]
    ends = np.concatenate([newlines, [len(data)]])[:n_lines]
    delims = np.flatnonzero(data == ord(delimiter))
    fields = np.bincount(np.searchsorted(newlines, delims), minlength=n_lines)[:n_lines] + 1
    lengths = ends - starts
    bad = (fields != expected) | (lengths > MAX_LINE_BYTES)
    for i in np.flatnonzero(bad):
        line = first_line + int(i)
        if lengths[i] > MAX_LINE_BYTES:
            log.add(path, line, f"line is {lengths[i]:,} bytes long (limit {MAX_LINE_BYTES:,})")
        elif lengths[i] == 0:
            log.add(path, line, "empty line")
        else:
            hint = ""
            if delimiter == "\t" and fields[i] == 1 and expected > 1:
                found = bytes(data[starts[i]:ends[i]])
                hint = next((f" (is the file {name}-separated? tabs are expected)" for sep, name in
                             ((b",", "comma"), (b";", "semicolon"), (b"|", "pipe"), (b" ", "space"))
                             if found.count(sep) + 1 == expected), "")
            log.add(path, line, (f"expected {expected} tab-separated fields, got {fields[i]}"
                                 if delimiter == "\t" else f"expected {expected} fields, got {fields[i]}") + hint)
    return ~bad


def read_tsv(path: Path, log: ProblemLog, *, required: tuple[str, ...] = (),
             header: bool = True, names: tuple[str, ...] | None = None) -> pd.DataFrame | None:
    """A tab-separated file as a DataFrame of strings, or None after logging its problems.

    With ``header=True`` the first line names the columns and ``required`` columns must be among
    them. The result's index holds each row's line number in the file, so loaders can report
    later, semantic problems by line. Malformed lines are logged and left out, so the rest of
    the file is still checked and every problem is reported in one go.
    """
    text = read_text(path, log)
    if text is None:
        return None
    if header:
        head, _, body = text.partition("\n")
        if len(head) > MAX_LINE_BYTES:
            log.add(path, 1, f"header line is {len(head.encode('utf-8')):,} bytes long (limit {MAX_LINE_BYTES:,}); "
                             "this is not a tab-separated file with a header")
            return None
        if not head.strip():
            log.add(path, 1, "missing header line" + (f" (expected: {chr(9).join(required)})" if required else ""))
            return None
        columns = head.split("\t")
        missing = [c for c in required if c not in columns]
        if missing:
            log.add(path, 1, f"header lacks column(s) {missing}; found {columns}")
            return None
        dupes = sorted({c for c in columns if columns.count(c) > 1})
        if dupes:
            log.add(path, 1, f"header repeats column(s) {dupes}")
            return None
        first_line = 2
    else:
        columns, body, first_line = list(names or ()), text, 1
    # From here the body is UTF-8 bytes, encoded once: the field counts and the parser read them. A
    # StringIO being read keeps its text as 4 bytes a character, so a 139 MB candidates file peaked at
    # 1.15 GB through one against 0.74 GB as bytes; each copy of a 1.35 GB file is 1.35 GB more.
    data, body, text = body.encode("utf-8"), None, None
    good = check_field_counts(data, path, len(columns), log, first_line=first_line)
    line_numbers = np.arange(first_line, first_line + len(good))
    if not good.all():
        lines = np.asarray(data.decode("utf-8").split("\n")[:len(good)], dtype=object)
        data = "\n".join(lines[good]).encode("utf-8")
        line_numbers = line_numbers[good]
    if not len(line_numbers):
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    # lineterminator="\n": read_text made every line ending "\n"; say so, so the C parser's rows
    # are exactly the lines counted above whatever it would make of other characters.
    frame = pd.read_csv(io.BytesIO(data), sep="\t", header=None, names=columns, dtype=str,
                        keep_default_na=False, quoting=csv.QUOTE_NONE, engine="c",
                        skip_blank_lines=False, lineterminator="\n")
    frame = frame.astype(object)
    frame.index = pd.Index(line_numbers, name="line")
    return frame


def clean_names(names) -> np.ndarray:
    """Entity names without surrounding whitespace, inner runs of whitespace made one space.

    Public files carry stray spaces (one data set has them on 9,547 names); kept, they would be
    shown, searched and compared as part of the name (" Matrix" and "Matrix" differ by a
    trigram). Every loader passes its names through here, so all formats agree.

    >>> clean_names([" The  Matrix ", "Speed\u00a0 2"]).tolist()
    ['The Matrix', 'Speed 2']
    """
    text = pd.Series(np.asarray(names, dtype=object), dtype=object)
    return text.str.strip().str.replace(r"\s+", " ", regex=True).to_numpy(dtype=object)


def parse_int_ids(values: pd.Series, path: Path, column: str, log: ProblemLog) -> np.ndarray:
    """int64 ids, -1 (logged by line, from ``values.index``) where a value is not a non-negative integer."""
    text = values.to_numpy(dtype=object)
    ok = pd.Series(text, dtype=object).str.fullmatch(r"[0-9]{1,18}").to_numpy(dtype=bool)
    for row in np.flatnonzero(~ok):
        log.add(path, int(values.index[row]), f"{column} {text[row]!r} is not an integer id")
    out = np.full(len(text), -1, dtype=np.int64)
    if ok.any():
        out[ok] = pd.to_numeric(pd.Series(text[ok], dtype=object)).to_numpy(dtype=np.int64)
    return out


def parse_json(text: str, path: Path, log: ProblemLog, *, reject_duplicate_keys: bool = False):
    """The parsed JSON document, or None after logging why it is not one (with its line).

    Nesting deeper than Python's recursion limit (``[[[[...``) is reported, not raised: the
    standard parser gives up with a RecursionError, which is not a data error of any kind.
    With ``reject_duplicate_keys``, an object naming a key twice is a problem too: the standard
    parser keeps the last value, so an edit made to the first copy would be ignored.
    """
    repeated: list[str] = []

    def pairs_hook(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                repeated.append(key)
            seen.add(key)
        return dict(pairs)

    try:
        data = json.loads(text, object_pairs_hook=pairs_hook if reject_duplicate_keys else None)
    except json.JSONDecodeError as exc:
        log.add(path, exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})")
        return None
    except RecursionError:
        log.add(path, None, "invalid JSON: nested too deeply to be a mualign file")
        return None
    for key in dict.fromkeys(repeated):
        needle = json.dumps(key)
        first = text.find(needle)
        second = text.find(needle, first + 1) if first >= 0 else -1
        line = text.count("\n", 0, second) + 1 if second >= 0 else None
        log.add(path, line, f"key {key!r} appears twice in one object; JSON keeps only the last value, "
                            "so write each key once")
    return None if repeated else data


def parse_csv(text: str, path: Path, log: ProblemLog) -> tuple[list[str], pd.DataFrame] | None:
    """(header, rows) of comma-separated ``text``; rows as strings, indexed by their first line number.

    Malformed records (wrong field count, bad quoting, empty lines, a field over the csv module's
    size limit) are logged and left out, so the rest of the file is still checked. A quoted value
    may span lines; its record is reported at the line it starts on.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    previous_end = 0
    while True:
        start = previous_end + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            spans = f"; the record runs to line {reader.line_num}" if reader.line_num > start else ""
            log.add(path, start, f"cannot parse CSV: {exc} (a field holding commas or quotes must be "
                                 f"double-quoted, with inner quotes doubled{spans})")
            previous_end = reader.line_num
            continue
        previous_end = reader.line_num
        if header is None:
            if not record or not any(c.strip() for c in record):
                log.add(path, start, "missing header line")
                return None
            header = record
            dupes = sorted({c for c in header if header.count(c) > 1})
            if dupes:
                log.add(path, start, f"header repeats column(s) {dupes}")
                return None
            continue
        if not record:
            log.add(path, start, "empty line")
        elif len(record) != len(header):
            hint = ""
            if len(record) < len(header) and any(d in ",".join(record) for d in ("\t", ";", "|")):
                hint = " (is the file comma-separated?)"
            elif len(record) > len(header):
                hint = " (a field holding commas must be double-quoted)"
            log.add(path, start, f"expected {len(header)} comma-separated fields as in the header, "
                                 f"got {len(record)}{hint}")
        else:
            rows.append(record)
            lines.append(start)
    if header is None:
        log.add(path, None, "file is empty (expected a header line)")
        return None
    frame = pd.DataFrame(np.array(rows, dtype=object).reshape(len(rows), len(header)), columns=header,
                         index=pd.Index(lines, name="line"), dtype=object)
    return header, frame


def atomic_write_tsv(path: Path, frame: pd.DataFrame, *, quoting: int = csv.QUOTE_MINIMAL) -> None:
    """Write ``frame`` as a TSV file (header, no index, ``\\n`` line ends) in one atomic step.

    Arrow's CSV writer streams into the temporary file: several times faster than pandas'
    ``to_csv`` (the demo movies' 100K-row score table 0.2 s against 1.3 s of CPU; 2.73M candidates
    2.3 s against 5.1 s) and without the whole text in memory (2.3 GB for a 26.4M-row score
    table), with the shortest round-trip text of every float (float32 included; a whole number
    without pandas' ``.0``; NaN an empty cell, as pandas writes it). A frame Arrow cannot write
    without quoting (a tab, quote or line break in a cell or a column name), or no pyarrow, goes
    through pandas with ``quoting``.
    """
    try:
        import pyarrow as pa
        import pyarrow.csv as pa_csv
    except ImportError:
        pa = None
    header = "\t".join(str(c) for c in frame.columns)
    if pa is not None and not any(ch in header for ch in '"\n\r'):
        def write(fh: BinaryIO) -> None:
            fh.write((header + "\n").encode("utf-8"))  # arrow would quote the names
            pa_csv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), fh,  # NaN -> null -> empty cell
                             pa_csv.WriteOptions(delimiter="\t", quoting_style="none", include_header=False))

        try:
            _atomic_write(path, write)
            return
        except (pa.ArrowException, ValueError, TypeError):
            pass  # a cell that needs quoting: the temporary file is gone, the old file untouched
    atomic_write_text(path, frame.to_csv(sep="\t", index=False, lineterminator="\n", quoting=quoting))


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a crash never leaves a half-written file."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, fsync and a rename.

    A crash at any moment leaves either the old file or the complete new one under ``path``,
    never a prefix of it; at worst a ``.<name>.tmp-<pid>-<random>`` file of the dead process
    remains (:func:`core.project.model_versions.remove_stale_temp_files` clears those in ``models/``). The
    temporary name is unique per call, so two threads of one process (two analysts in one
    Streamlit server) never write into the same temporary file. The directory is synced after
    the rename so the new name itself survives a power cut.
    """
    _atomic_write(path, lambda fh: fh.write(data))


def atomic_copy(source: Path, path: Path) -> None:
    """Copy the file ``source`` to ``path`` as :func:`atomic_write_bytes` writes, 16 MiB at a time.

    For a copy of a large file already on disk (a score table of millions of rows), without
    holding its bytes in memory or formatting them again.
    """
    with open(source, "rb") as src:
        _atomic_write(path, lambda fh: shutil.copyfileobj(src, fh, 16 << 20))


def _atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """``write(fh)`` into a temporary file beside ``path``, fsync, rename, fsync the directory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode_for(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-{os.getpid()}-")
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, mode)  # mkstemp makes 0600 whatever the umask
        with open(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _mode_for(path: Path) -> int:
    """Permissions for a file written at ``path``: those of the file it replaces, else what
    ``open()`` would give a new file (0666 less the umask).

    ``mkstemp`` creates its files 0600 for privacy, so without this every project file would be
    readable by its owner only, and an app server running under another account (a team's
    service user) could not read a project that the umask meant to share.
    """
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~current_umask()


def current_umask() -> int:
    """The process's umask, read without changing it where the system allows (Linux ``/proc``).

    Elsewhere it is set and restored at once (``os.umask`` can only be read by setting it).
    """
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_directory(folder: Path) -> None:
    """Make a rename in ``folder`` durable; a no-op where a directory cannot be opened or synced."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
