"""Hand-made broken files for every text loader: each is loaded or refused with a clear error.

The corpus (``tests/support/broken_inputs.py``) applies each mutation (truncation, wrong delimiter,
binary garbage, latin-1 / UTF-16, huge lines, duplicate lines, unknown ids, missing columns,
empty or deleted files...) to each file of each loader's small valid input. The contract: the
loader returns, or raises ``DataError`` whose problems name a file of the input and a line that
exists in it; any other exception is a loader bug. Mutations that cannot leave a valid input
must be refused, naming the broken file (and the line where the damage is). Specific semantic
mistakes (links or candidates naming types the schema does not align, a schema naming unknown
types or relations, repeated triples...) are checked message by message below.
"""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from core.formats.errors import DataError
from core.formats.textio import line_of_offset
from tests.support.broken_inputs import CANDIDATES, LOADERS, Case, attempt, build_case, corpus
from tests.conftest import LINKS, RIGHT_ENTITIES, SCHEMA, write_tiny_project

#: Mutations no valid input survives, with the files they may spare (optional ones).
MUST_FAIL = {"empty", "binary-garbage", "nul-byte", "utf-16", "utf-16-le-no-bom", "huge-line", "directory",
             "deleted", "deeply-nested-json"}
OPTIONAL_FILES = {("tables-dblp", "gold_matches.csv")}
#: Each mutation meets this many files of each loader here (all of them in the bench).
FILES_PER_MUTATION = 2
#: The corpus below runs with 3 MB lines (same code path as 50 MB, a tenth of the time);
#: test_a_50_mb_line_is_refused_quickly_and_named runs the real size.
CORPUS_HUGE_LINE = 3_000_000


@pytest.mark.parametrize("loader_name", sorted(LOADERS))
def test_every_corpus_case_is_loaded_or_clearly_refused(loader_name, tmp_path):
    failures = []
    for case in corpus(loaders=(loader_name,), files_per_mutation=FILES_PER_MUTATION):
        root = build_case(case, tmp_path / "case", huge_line_bytes=CORPUS_HUGE_LINE)
        outcome = attempt(LOADERS[loader_name].load, root)
        if outcome.kind == "crash":
            failures.append(f"{case.id}: {outcome.detail}")
            continue
        if case.mutation in MUST_FAIL and (case.loader, case.file) not in OPTIONAL_FILES:
            if not any(Path(p.path) == root / case.file for p in outcome.problems):
                failures.append(f"{case.id}: expected an error naming {case.file}, got {outcome}")
    assert not failures, "\n".join(failures[:20])


def _problem_in(load, root: Path, path: Path):
    """The first problem reported on ``path`` when loading ``root`` (None: loaded, or nothing on it)."""
    try:
        load(root)
    except DataError as exc:
        return next((p for p in exc.problems if Path(p.path) == path), None)
    return None


@pytest.mark.parametrize("loader_name", sorted(LOADERS))
def test_a_nul_byte_is_reported_at_its_line(loader_name, tmp_path):
    loader = LOADERS[loader_name]
    for file in loader.files:
        root = build_case(Case(loader_name, file, "nul-byte"), tmp_path / "case")
        data = (root / file).read_bytes()
        problem = _problem_in(loader.load, root, root / file)
        assert problem is not None and problem.line == line_of_offset(data, data.index(b"\x00")), (file, problem)
        assert "NUL bytes" in problem.message


@pytest.mark.parametrize("loader_name, file", [("native", "links.tsv"), ("tables-dblp", "tableA.csv"),
                                               ("dbp15k", "triples_2"), ("native", "schema.json"),
                                               ("deepmatcher-csv", "labels.csv")])
def test_a_50_mb_line_is_refused_quickly_and_named(loader_name, file, tmp_path):
    root = build_case(Case(loader_name, file, "huge-line"), tmp_path / "case")
    data = (root / file).read_bytes()
    last_line = line_of_offset(data, len(data) - 1)  # the huge line is the file's last
    tracemalloc.start()
    start = time.perf_counter()
    try:
        problem = _problem_in(LOADERS[loader_name].load, root, root / file)
    finally:
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert problem is not None and problem.line == last_line
    assert problem.message.startswith("line is 50,000,000 bytes long (limit 1,000,000)")
    # Bounded work: the raw bytes plus one byte-sized scan of them, never a decoded copy per step.
    assert peak < 2.5 * len(data), f"peak {peak / 1e6:.0f} MB for a {len(data) / 1e6:.0f} MB file"
    assert seconds < 20


@pytest.mark.parametrize("loader_name", ["native", "dbp15k", "tables-dblp", "deepmatcher-csv"])
def test_latin1_and_utf16_are_named_with_the_line(loader_name, tmp_path):
    loader = LOADERS[loader_name]
    file = loader.files[-1] if loader_name != "tables-dblp" else "tableA.csv"
    for mutation, expected in (("latin-1", "not valid UTF-8 (byte 0xe9"), ("utf-16", "NUL bytes")):
        root = build_case(Case(loader_name, file, mutation), tmp_path / "case")
        problem = _problem_in(loader.load, root, root / file)
        assert problem is not None and expected in problem.message, (mutation, problem)
        assert problem.line == (2 if mutation == "latin-1" else 1)


# ------------------------------------------------------------------------------ native ----
def _native_problems(tmp_path: Path, **files: str) -> list[str]:
    project = write_tiny_project(tmp_path / "p", **files)
    with pytest.raises(DataError) as info:
        from core.formats.native import load_project

        load_project(project)
    return [str(p).replace(str(project) + "/", "") for p in info.value.problems]


def test_links_naming_types_the_schema_does_not_align(tmp_path):
    entities = ("id\ttype\tname\tyear:number\tborn:date\nf1\tfilm\tThe Matrix\t1999\t\n"
                "p1\tperson\tKeanu Reeves\t\t1964-09-02\ns1\tstudio\tWarner\t\t\n")
    problems = _native_problems(tmp_path, **{
        "left/entities.tsv": entities,
        "left/triples.tsv": "head\trelation\ttail\nf1\tacted_by\tp1\nf1\tdirected_by\tp1\n",
        "links.tsv": "left_id\tright_id\tlabel\tsplit\nf1\tm10\t1\ttrain\ns1\tm11\t1\ttrain\nf1\tq10\t0\ttest\n"})
    assert problems == [
        "links.tsv:3: link joins a left 'studio' with a right 'movie', which schema.json does not align",
        "links.tsv:4: link joins a left 'film' with a right 'person', which schema.json does not align",
    ]


def test_schema_naming_unknown_types_relations_attributes_and_keys(tmp_path):
    schema = """{
  "types": [{"name": "film", "left": "film", "right": "movie"},
            {"name": "person", "left": "person", "right": "people"}],
  "relations": [{"name": "acted", "left": "acted_by", "right": "starring"}],
  "attributes": [{"name": "year", "left": "year", "right": "released"}],
  "relation": []
}
"""
    problems = _native_problems(tmp_path, **{"schema.json": schema})
    assert problems == [
        "schema.json:3: type 'people' is not a right type; known right types: ['movie', 'person']",
        "schema.json:4: relation 'starring' is not a right relation; known right relations: ['actor', 'director']",
        "schema.json:5: attribute 'released' is not a right attribute; known right attributes: ['year']",
        'schema.json:6: unknown key \'relation\'; expected "types", "relations" and "attributes"',
    ]


def test_schema_errors_that_used_to_escape_as_other_exceptions(tmp_path):
    nested = _native_problems(tmp_path / "a", **{"schema.json": "[" * 50_000 + "]" * 50_000})
    assert nested == ["schema.json: invalid JSON: nested too deeply to be a mualign file"]
    named = _native_problems(tmp_path / "b", **{"schema.json": SCHEMA.replace('"name": "film"', '"name": 3')})
    assert named == ['schema.json:3: "name" of a "types" entry must be a string, got 3']


def test_repeated_triples_and_duplicate_links_are_reported_at_the_repeat(tmp_path):
    triples = "head\trelation\ttail\nf1\tacted_by\tp1\nf2\tacted_by\tp1\nf1\tacted_by\tp1\n"
    problems = _native_problems(tmp_path / "a", **{"left/triples.tsv": triples})
    assert problems == ["left/triples.tsv:4: duplicate triple ('f1', 'acted_by', 'p1'), first on line 2"]
    problems = _native_problems(tmp_path / "b", **{"links.tsv": LINKS + "f1\tm10\t0\ttest\n"})
    assert problems == ["links.tsv:8: duplicate link ('f1', 'm10')"]


def test_attribute_values_that_parsed_as_something_else(tmp_path):
    entities = ("id\ttype\tname\tyear:number\tborn:date\nf1\tfilm\tA\tinf\t\nf2\tfilm\tB\t1e400\t\n"
                "p1\tperson\tC\t\tnow\np2\tperson\tD\t\t1964-09-02 10:00+05:00\np3\tperson\tE\t\t1964-09-02\n")
    problems = _native_problems(tmp_path / "a", **{"left/entities.tsv": entities})
    assert problems[:4] == [
        "left/entities.tsv:2: attribute 'year': 'inf' is not a finite number",
        "left/entities.tsv:3: attribute 'year': '1e400' is not a finite number",
        "left/entities.tsv:4: attribute 'born': 'now' is not an ISO date (YYYY-MM-DD)",
        "left/entities.tsv:5: attribute 'born': '1964-09-02 10:00+05:00' is not an ISO date (YYYY-MM-DD)",
    ]
    twice = _native_problems(tmp_path / "b", **{"right/entities.tsv": RIGHT_ENTITIES.replace(
        "year:number\n", "year:number\tyear:date\n").replace("\n", "\t\n").replace("year:date\t\n", "year:date\n")})
    assert twice == ["right/entities.tsv:1: attribute 'year' has two columns ('year:date' and an earlier one); "
                     "give each attribute one column"]


def test_missing_columns_and_a_comma_separated_file(tmp_path):
    problems = _native_problems(tmp_path / "a", **{"links.tsv": LINKS.replace("\tsplit", "").replace("\ttrain", "")})
    assert problems == ["links.tsv:1: header lacks column(s) ['split']; found ['left_id', 'right_id', 'label']"]
    commas = LINKS.split("\n", 1)[0] + "\n" + LINKS.split("\n", 1)[1].replace("\t", ",")
    problems = _native_problems(tmp_path / "b", **{"links.tsv": commas})
    assert problems[0] == ("links.tsv:2: expected 4 tab-separated fields, got 1 "
                           "(is the file comma-separated? tabs are expected)")


def test_old_mac_line_endings_load_like_unix_ones(tmp_path):
    from core.formats.native import load_project

    plain = load_project(write_tiny_project(tmp_path / "unix"))
    mac = write_tiny_project(tmp_path / "mac")
    for path in mac.rglob("*.tsv"):
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r"))
    loaded = load_project(mac)
    assert list(loaded.left.names) == list(plain.left.names) and len(loaded.links) == len(plain.links)


def test_candidates_naming_unknown_or_mismatched_types_duplicates_and_bad_scores(tmp_path):
    from core.formats.native import load_candidates, load_project

    project = write_tiny_project(tmp_path / "p")
    dataset = load_project(project)
    (project / "candidates.tsv").write_text(CANDIDATES + "f1\tm10\tfilm\t0.5\nf3\tm12\tstudio\t0.5\n"
                                                         "f3\tq12\tfilm\t0.5\np3\tq12\tperson\tinf\n")
    with pytest.raises(DataError) as info:
        load_candidates(dataset, project)
    problems = [str(p).replace(str(project) + "/", "") for p in info.value.problems]
    assert problems == [
        "candidates.tsv:7: duplicate candidate ('f1', 'm10')",
        "candidates.tsv:8: unknown aligned type 'studio'; schema.json aligns ['film', 'person']",
        "candidates.tsv:9: right entity 'q12' is a right 'person', not of the candidate's aligned type 'film'",
        "candidates.tsv:10: name_score 'inf' is not a finite number",
    ]


# ------------------------------------------------------------------------------ tables ----
def test_table_mapping_nested_too_deeply_and_numbers_that_overflow(tmp_path):
    from core.formats.tables import load_tables_with_report
    from tests.core.formats.test_load_tables import write_small

    directory = write_small(tmp_path / "small")
    (directory / "mapping.json").write_text("{" + '"a":{' * 30_000 + "}" * 30_001)
    with pytest.raises(DataError, match=r"mapping.json: invalid JSON: nested too deeply"):
        load_tables_with_report(directory, directory / "mapping.json")
    table = (directory / "tableA.csv").read_text().replace(",1999\n", ",1e400\n").replace(",2001\n", ",inf\n")
    (directory / "tableA.csv").write_text(table)
    dataset, report = load_tables_with_report(directory, "dblp_acm")
    assert report.unparsed_count("left", "year") == 2  # overflowing numbers are unparsed, not infinite
    assert dataset.left.attributes["year"].isna().sum() == dataset.left.n_entities - 1


def test_table_dates_with_time_zones_parse_instead_of_crashing():
    import pandas as pd

    from core.formats.value_parsing import parse_dates

    parsed = parse_dates(pd.Series(["2015-03-31 10:00:00+05:00", "31-Mar-15", "March 3, 2001 4pm +01:00"]))
    assert [str(d) for d in parsed] == ["2015-03-31 05:00:00", "2015-03-31 00:00:00", "2001-03-03 15:00:00"]


# ------------------------------------------------------------------------------- dbp15k ----
def test_dbp15k_repeated_triple_and_swapped_link_columns(tmp_path):
    from core.formats.dbp15k import load_dbp15k
    from tests.core.formats.test_load_dbp15k import TINY, write_tiny

    directory = write_tiny(tmp_path / "tiny", triples_2=TINY["triples_2"] + "11\t3\t10\n",
                           ref_ent_ids="10\t0\n1\t11\n2\t12\n")
    with pytest.raises(DataError) as info:
        load_dbp15k(directory)
    problems = [str(p).replace(str(directory) + "/", "") for p in info.value.problems]
    assert problems == [
        "triples_2:4: duplicate triple (11, 3, 10), first on line 2",
        "ref_ent_ids:1: left id 10 is a KG2 entity, expected a KG1 entity from ent_ids_1 (are the columns swapped?)",
        "ref_ent_ids:1: right id 0 is a KG1 entity, expected a KG2 entity from ent_ids_2 (are the columns swapped?)",
    ]


# -------------------------------------------------------------------------- deepmatcher ----
def test_deepmatcher_csv_is_validated_like_an_import(tmp_path):
    from core.formats.export import load_deepmatcher_csv, read_deepmatcher_csv

    path = tmp_path / "labels.csv"
    path.write_text("ltable_id,rtable_id,label\n12,3,1\n7,9,yes\n,4,0\n12,3,0\n7,4\n")
    with pytest.raises(DataError) as info:
        load_deepmatcher_csv(path)
    assert [str(p) for p in info.value.problems] == [
        f"{path}:3: label must be 1 or 0, got 'yes'",
        f"{path}:4: empty ltable_id",
        f"{path}:5: duplicate pair ('12', '3'), first on line 2",
        f"{path}:6: expected 3 comma-separated fields as in the header, got 2",
    ]
    with pytest.raises(DataError, match=r"<deepmatcher csv>:1: header lacks column\(s\) \['label'\]"):
        read_deepmatcher_csv("ltable_id,rtable_id\n1,2\n")
    back = read_deepmatcher_csv("\ufeffltable_id,rtable_id,label,note\r\n1,2,1,x\r\n")
    assert back.values.tolist() == [["1", "2", 1]]
