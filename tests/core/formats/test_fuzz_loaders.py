"""Every text loader fuzzed with hypothesis: any input loads or is refused with a clear error.

Each example starts from the loader's small valid input and applies one to three random edits
(truncate, insert bytes or generated lines, delete a range, replace / duplicate / swap lines,
replace the whole file, or one of the hand-made mutations), on any of its files. Generated lines
mix the valid files' own ids and names with values that have broken parsers before, so the
examples reach the semantic checks, not only the tokenizer. The contract is the one of
``tests/support/broken_inputs.py``: return, or raise ``DataError`` whose problems name a file of the
input and an existing line. The native format has a second property: whatever it accepts, its
writer writes back and it loads again unchanged.

Example counts are modest (the whole file runs in well under a minute on 2 cores);
``bench/malformed_inputs.py`` runs many more of the same strategies.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.support.broken_inputs import LOADERS, attempt, build_fuzzed, edits_strategy, round_trip_differences
from tests.conftest import write_tiny_project

EXAMPLES = 30
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _fuzz_test(loader_name: str):
    loader = LOADERS[loader_name]

    @FUZZ
    @given(edits=edits_strategy(loader))
    def run(edits):
        with tempfile.TemporaryDirectory() as tmp:
            root = build_fuzzed(loader, edits, Path(tmp) / "input")
            outcome = attempt(loader.load, root)
            event(f"outcome: {outcome.kind}")
            assert outcome.kind != "crash", outcome.detail
            if outcome.kind == "ok" and loader_name == "native":
                from core.formats.native import load_project

                assert round_trip_differences(load_project(root), Path(tmp) / "again") == []

    return run


@pytest.mark.parametrize("loader_name", sorted(LOADERS))
def test_random_edits_load_or_fail_clearly(loader_name):
    _fuzz_test(loader_name)()


# Cell values: the structure stays valid, the values are anything a TSV cell can hold.
CELL = st.text(st.characters(blacklist_characters="\t\n\r", blacklist_categories=("Cs",)), max_size=10)
NUMBER = st.one_of(st.just(""), st.floats().map(repr), st.integers(-10**20, 10**20).map(str), CELL)
DATE = st.one_of(st.just(""), st.dates().map(str), st.datetimes().map(str), CELL)
ROWS = st.lists(st.tuples(CELL, st.sampled_from(["film", "person"]), CELL, NUMBER, DATE), max_size=6)


@settings(max_examples=EXAMPLES * 2, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(rows=ROWS, link=st.booleans())
def test_any_cell_values_load_or_fail_clearly_and_survive_a_round_trip(rows, link):
    """Ids, names, numbers and dates of any spelling: refused by line, or kept exactly when re-saved."""
    from core.formats.native import load_project

    fixed = [("f1", "film", "The Matrix", "1999", ""), ("p1", "person", "Keanu Reeves", "", "1964-09-02")]
    table = fixed + rows
    entities = "id\ttype\tname\tyear:number\tborn:date\n" + "".join("\t".join(r) + "\n" for r in table)
    head, tail = table[-1][0], table[0][0]
    triples = f"head\trelation\ttail\nf1\tacted_by\tp1\n{head}\tdirected_by\t{tail}\n"
    links = "left_id\tright_id\tlabel\tsplit\n" + (f"{head}\tm10\t1\ttrain\n" if link else "f1\tm10\t1\ttrain\n")
    with tempfile.TemporaryDirectory() as tmp:
        root = write_tiny_project(Path(tmp) / "p", **{"left/entities.tsv": entities, "left/triples.tsv": triples,
                                                        "links.tsv": links})
        outcome = attempt(load_project, root)
        event(f"outcome: {outcome.kind}")
        assert outcome.kind != "crash", outcome.detail
        if outcome.kind == "ok":
            assert round_trip_differences(load_project(root), Path(tmp) / "again") == []
        shutil.rmtree(root)
