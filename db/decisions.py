"""The closed set of things an analyst can do to a candidate pair.

``Decision`` subclasses ``str`` so that the stored value, the CSV export and a Streamlit
widget all see the same lowercase word (``"accept"``), while code compares enum members and a
type checker catches typos.
"""

from __future__ import annotations

from enum import Enum


class Decision(str, Enum):
    """What an analyst did to a pair.

    ``ACCEPT``, ``REJECT`` and ``SKIP`` are labels: the latest one that was not undone is the
    pair's current label. ``UNDO`` is never a label; it is a log event that cancels one earlier
    label event (see ``db.labels.undo_last``).
    """

    ACCEPT = "accept"
    REJECT = "reject"
    SKIP = "skip"
    UNDO = "undo"

    def __str__(self) -> str:  # "accept", not "Decision.ACCEPT", in f-strings and pages
        return self.value

    @property
    def is_label(self) -> bool:
        """True for accept/reject/skip, the decisions that can be a pair's current label."""
        return self is not Decision.UNDO

    @classmethod
    def parse(cls, value: Decision | str) -> Decision:
        """Return the member for ``value`` (a member or its lowercase word).

        Raises
        ------
        ValueError
            If ``value`` names no decision; the message lists the accepted words.
        """
        if isinstance(value, cls):
            return value
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(repr(d.value) for d in cls)
            raise ValueError(f"unknown decision {value!r}: expected one of {allowed}") from None


LABEL_DECISIONS: frozenset[Decision] = frozenset(d for d in Decision if d.is_label)
"""Decisions that ``record_decision`` writes and that can be a pair's current label."""
