"""Whole-graph work kept by the identity of its inputs, so each call for new pairs skips it.

Pair features are asked for several sets of pairs over the same graphs in one process: the
matcher's fit rows, every candidate, the labelled pairs outside the candidates. Their costly
parts do not depend on the pairs (every name normalised and vectorised, neighbour sets per
relation, the aligned adjacency matrices): on DBLP-ACM ``mualign train`` built them four times,
on a 300K-entity side each build took 10-20 s.

Entries are keyed by the *identity* of the input objects and hold those objects, so an id is
never reused by another object while its entry lives, plus a key compared by equality (with no
inputs, the key alone: a corpus of strings as a tuple); a few entries are kept, newest first.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from core.data.sets import locate

__all__ = ["IdentityMemo", "LastPairs"]


class IdentityMemo:
    """``get(inputs, key, compute)``: ``compute()``'s value for these very input objects and key.

    >>> memo = IdentityMemo(size=2)
    >>> a, b = [1], [1]
    >>> memo.get((a,), "n", lambda: len(a)), memo.get((a,), "n", lambda: -1), memo.get((b,), "n", lambda: 2)
    (1, 1, 2)
    """

    def __init__(self, size: int = 4) -> None:
        self._size = size
        self._entries: list[tuple[tuple[Any, ...], Hashable, Any]] = []

    def get(self, inputs: tuple[Any, ...], key: Hashable, compute: Callable[[], Any]) -> Any:
        value = self.find(inputs, key)
        if value is None:
            value = compute()
            self.put(inputs, key, value)
        return value

    def find(self, inputs: tuple[Any, ...], key: Hashable) -> Any:
        """The value held for these very inputs and key, or None (it then moves to the front)."""
        for i, (held, held_key, value) in enumerate(self._entries):
            if held_key == key and len(held) == len(inputs) and all(a is b for a, b in zip(held, inputs)):
                self._entries.insert(0, self._entries.pop(i))
                return value
        return None

    def put(self, inputs: tuple[Any, ...], key: Hashable, value: Any) -> None:
        """Hold ``value`` for these inputs and key, newest first; the oldest beyond ``size`` is dropped."""
        self._entries.insert(0, (inputs, key, value))
        del self._entries[self._size:]

    def clear(self) -> None:
        self._entries.clear()


class LastPairs:
    """The last call's per-pair result, read back by a later call whose pairs it all holds.

    ``mualign train`` asks for the fit's pairs (every candidate and the labelled pairs) and then
    for every candidate again: per-pair columns that depend on the pair alone (and on an owner
    object, held by identity, and settings compared by equality) need not be computed twice.
    One result is kept, replaced by the next; :meth:`keep` holds nothing above ``limit`` pairs.

    >>> last = LastPairs()
    >>> last.keep("graphs", "s", np.array([7, 3, 5]), np.array([70., 30., 50.]), limit=10)
    >>> value, rows = last.rows("graphs", "s", np.array([5, 7]))
    >>> value[rows].tolist(), last.rows("graphs", "s", np.array([5, 8]))
    ([50.0, 70.0], None)
    """

    def __init__(self) -> None:
        self.owner: Any = None
        self.settings: Any = None
        self.sorted_keys: np.ndarray | None = None
        self.order: np.ndarray | None = None
        self.value: Any = None  # None: nothing kept

    def rows(self, owner: Any, settings: Any, keys: np.ndarray) -> tuple[Any, np.ndarray] | None:
        """(the kept value, the row of each key in it) when every key is held for this owner and settings."""
        if self.value is None or self.owner is not owner or self.settings != settings:
            return None
        found, where = locate(self.sorted_keys, keys)
        return (self.value, self.order[where]) if found.all() else None

    def keep(self, owner: Any, settings: Any, keys: np.ndarray, value: Any, *, limit: int) -> None:
        """Hold ``value`` (one row per key, in the keys' order) when 0 < pairs <= ``limit``; else hold nothing."""
        self.clear()
        if 0 < len(keys) <= limit:
            self.order = np.argsort(keys, kind="stable")
            self.owner, self.settings, self.sorted_keys, self.value = owner, settings, keys[self.order], value

    def clear(self) -> None:
        self.owner = self.settings = self.sorted_keys = self.order = self.value = None
