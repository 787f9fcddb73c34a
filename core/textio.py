"""Reading delimited text strictly, so every problem can be reported with its file and line.

Files are decoded as UTF-8 up front (a bad byte is reported with its line number instead of
turning into mojibake later), field counts are checked for every line with NumPy on the raw
bytes, and only then is the text handed to pandas' C parser, which is fast but reports at most
one bad line.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import ProblemLog

#: Lines longer than this are refused rather than parsed (a binary or corrupted file).
MAX_LINE_BYTES = 1_000_000


def read_text(path: Path, log: ProblemLog) -> str | None:
    """The file's text with ``\\r\\n`` normalised, or None after logging why it cannot be read."""
    try:
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
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if b"\x00" in raw:
        line = raw.count(b"\n", 0, raw.index(b"\x00")) + 1
        log.add(path, line, "contains NUL bytes: this looks like a binary file, not UTF-8 text")
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        log.add(path, line, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                            "save the file as UTF-8")
        return None
    return text.replace("\r\n", "\n")


def check_field_counts(text: str, path: Path, expected: int, log: ProblemLog, *,
                       delimiter: str = "\t", first_line: int = 1) -> np.ndarray:
    """Log every line of ``text`` whose field count differs from ``expected``.

    Returns a boolean mask over the lines of ``text``: True where the line is well formed.

    Counting is vectorised over the encoded bytes, so it costs about as much as reading the file.
    The final newline is optional; other empty lines are problems.
    """
    data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
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
            log.add(path, line, f"expected {expected} tab-separated fields, got {fields[i]}"
                    if delimiter == "\t" else f"expected {expected} fields, got {fields[i]}")
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
    good = check_field_counts(body, path, len(columns), log, first_line=first_line)
    line_numbers = np.arange(first_line, first_line + len(good))
    if not good.all():
        body = "\n".join(np.asarray(body.split("\n")[:len(good)], dtype=object)[good])
        line_numbers = line_numbers[good]
    if not len(line_numbers):
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    frame = pd.read_csv(io.StringIO(body), sep="\t", header=None, names=columns, dtype=str,
                        keep_default_na=False, quoting=csv.QUOTE_NONE, engine="c",
                        skip_blank_lines=False)
    frame = frame.astype(object)
    frame.index = pd.Index(line_numbers, name="line")
    return frame


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


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a crash never leaves a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)

