"""The closed set of things an analyst can do to a candidate pair, as the label store names it.

The set and the rule that derives a current label from the log (the latest label event that was
not undone) are owned by the top-level module :mod:`label_rules`, which imports only the standard
library. ``core.review.agreement`` applies the same rules to each analyst's labels, and it may
not import ``db`` (core never loads the database), nor may ``db`` import ``core``: the rules
therefore live below both, and this module re-exports them under the names the store has always
used (``db.Decision``, ``db.LABEL_DECISIONS``).
"""

from __future__ import annotations

from label_rules import LABEL_DECISIONS, Decision

__all__ = ["LABEL_DECISIONS", "Decision"]
