"""What the analyst's loop needs besides the store: the queue order, agreement between analysts, labels as training links, entity cards and search. May import core.data and core.formats."""
