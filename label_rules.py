"""The label log's rules, in one place: the decision words, and which events stand.

Two parts of mualign apply these rules to the same append-only label log: ``db`` (the label
store: a pair's current label, undo) and ``core.review.agreement`` (each analyst's own current
label, conflicts between analysts). Neither may import the other: ``core`` never loads the
database, and ``db`` never loads ``core`` or torch (``tests/test_layering.py``). So the rules live
here, in a module that imports nothing but the standard library and sits below both. ``db``
re-exports :class:`Decision` (``db.Decision``); agreement takes its decision words and
:func:`standing` from here. The one other place the rule is written is SQL: ``db.labels.undo_last``
finds the latest event not yet undone with a query, which cannot call Python.

Rules
-----
- **Decisions**: accept, reject and skip are labels; undo is never a label, it cancels one earlier
  label event (named by ``undoes_id``). Accept and reject are *judgements*; a skip says "I cannot
  tell".
- **An event stands** when it is a label event and no undo names it.
- **Latest** means the highest event id: ids are the log's insertion order, while the wall clocks
  of different servers can disagree or step back.
- **The current label** of a key is the latest standing event with that key. The store keys by
  pair (project, left id, right id): whoever clicked last wins. Agreement keys by pair and analyst,
  so each analyst's own word stays visible.

Events are anything with ``id``, ``decision`` (a :class:`Decision` or its word) and ``undoes_id``
attributes: ``db.LabelEvent`` and ``core.review.agreement.LogEntry`` both are.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from enum import Enum
from typing import TypeVar


class Decision(str, Enum):
    """What an analyst did to a pair.

    ``ACCEPT``, ``REJECT`` and ``SKIP`` are labels: the latest one that was not undone is the
    pair's current label. ``UNDO`` is never a label; it is a log event that cancels one earlier
    label event (see ``db.labels.undo_last``).

    Subclasses ``str`` so that the stored value, the CSV export and a Streamlit widget all see the
    same lowercase word (``"accept"``), while code compares enum members and a type checker catches
    typos; ``Decision.ACCEPT == "accept"`` holds.
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

    @property
    def is_judgement(self) -> bool:
        """True for accept/reject: a skip says "I cannot tell", so it never counts as agreeing."""
        return self in (Decision.ACCEPT, Decision.REJECT)

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

JUDGEMENTS: frozenset[Decision] = frozenset(d for d in Decision if d.is_judgement)
"""Accept and reject: the labels agreement and conflicts are computed on."""

Event = TypeVar("Event")
Key = TypeVar("Key", bound=Hashable)


def standing(events: Iterable[Event]) -> list[Event]:
    """The label events that no undo names, oldest first (by id).

    Examples
    --------
    Accept (id 1), reject (id 2), then an undo of 2 (id 3): only the accept stands.

    >>> from types import SimpleNamespace as E
    >>> log = [E(id=1, decision="accept", undoes_id=None), E(id=2, decision="reject", undoes_id=None),
    ...        E(id=3, decision="undo", undoes_id=2)]
    >>> [e.id for e in standing(log)]
    [1]
    """
    events = list(events)
    undone = {e.undoes_id for e in events if e.decision == Decision.UNDO}
    return sorted((e for e in events if e.decision != Decision.UNDO and e.id not in undone), key=lambda e: e.id)


def latest_standing(events: Iterable[Event], key: Callable[[Event], Key]) -> dict[Key, Event]:
    """The current label of every key: its latest (highest id) standing event.

    A key whose every label event was undone has none. The dict's order is that of each key's
    first standing event; sort the values when order matters.
    """
    latest: dict[Key, Event] = {}
    for e in standing(events):  # oldest first: a later event of the same key replaces an earlier one
        latest[key(e)] = e
    return latest
