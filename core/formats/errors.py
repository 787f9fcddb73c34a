"""One error type for bad input, listing every problem as ``path:line: problem``.

Loaders collect problems instead of stopping at the first one (a user fixing a file wants the whole
list), then raise once. Nothing half-loaded escapes: a loader either returns a complete, validated
object or raises :class:`DataError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file.

    ``line`` is 1-based and counts the header; ``None`` when the problem concerns the whole file
    (missing, unreadable, empty).
    """

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"


class DataError(ValueError):
    """Bad input: carries every :class:`Problem` found, one per line of the message."""

    def __init__(self, problems: list[Problem]):
        if not problems:
            raise ValueError("DataError needs at least one problem")
        # Grouped by file, then by line, so a user can fix a file top to bottom.
        order = {path: i for i, path in reversed(list(enumerate(p.path for p in problems)))}
        self.problems = sorted(problems, key=lambda p: (order[p.path], p.line or 0))
        shown = self.problems[:200]
        lines = [str(p) for p in shown]
        if len(self.problems) > len(shown):
            lines.append(f"... and {len(self.problems) - len(shown)} more problems")
        noun = "problem" if len(self.problems) == 1 else "problems"
        super().__init__(f"{len(self.problems)} {noun} in the input:\n" + "\n".join(lines))


#: Longest problem message kept whole. Messages quote the offending value, and a corrupted file
#: can make that value megabytes long (a 50 MB line without a tab is one "column name").
MAX_MESSAGE_CHARS = 600


def clip_message(message: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``message`` with its middle cut out when longer than ``limit``.

    The start (what is wrong) and the end (usually the expectation or the fix) are both kept.

    >>> clip_message("bad value 'x" + "x" * 1000 + "': expected a number", limit=60)
    "bad value 'xxxxxxxxxxxxxxxxxxxxxxxxx[... 976 characters cut ...]': expected a number"
    """
    if len(message) <= limit:
        return message
    head, tail = limit * 3 // 5, limit // 3
    cut = len(message) - head - tail
    return f"{message[:head]}[... {cut:,} characters cut ...]{message[-tail:]}"


@dataclass
class ProblemLog:
    """Collects problems while a loader runs; :meth:`raise_if_any` ends the load."""

    problems: list[Problem] = field(default_factory=list)

    def add(self, path: str | Path, line: int | None, message: str) -> None:
        self.problems.append(Problem(str(path), line, clip_message(message)))

    def extend(self, problems: list[Problem]) -> None:
        self.problems.extend(problems)

    def __bool__(self) -> bool:
        return bool(self.problems)

    def raise_if_any(self) -> None:
        if self.problems:
            raise DataError(self.problems)
