"""What the CLI prints: evaluation tables, the import summary, scoring progress (issue 13 items 13, 16, 17)."""

from __future__ import annotations

import json

from cli.main import main
from tests.conftest import LEFT_ENTITIES, LINKS, RIGHT_ENTITIES, SCHEMA, write_tiny_project


def _row(out: str, name: str) -> list[str]:
    return next(line.split() for line in out.splitlines() if line.startswith(name))


def _column(out: str, name: str, column: str) -> str:
    header = next(line.split() for line in out.splitlines() if line.startswith("type "))
    return _row(out, name)[header.index(column)]


def test_lost_counts_test_matches_blocking_missed_and_types_without_links_get_no_row(tmp_path, capsys):
    """film is judged on labelled pairs; its TEST match f3-m12 is not among the candidates."""
    project = write_tiny_project(
        tmp_path / "p",
        **{"left/entities.tsv": LEFT_ENTITIES + "g1\tgenre\tDrama\t\t\n",
           "right/entities.tsv": RIGHT_ENTITIES.replace("m12\tmovie\tSpeed", "m12\tmovie\tXyzzy Quux")
           + "h1\tgenre\tDrama\t\n",
           "schema.json": SCHEMA.replace('{"name": "person", "left": "person", "right": "person"}',
                                         '{"name": "person", "left": "person", "right": "person"},\n'
                                         '    {"name": "genre", "left": "genre", "right": "genre"}'),
           "links.tsv": LINKS + "f1\tm11\t0\ttest\nf2\tm10\t0\tvalid\n"})
    # names only: with structure candidates (the default) the renamed film is found by its neighbours
    assert main(["block", "--project", str(project), "--top-k", "1", "--structure-top-k", "0"]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--project", str(project)]) == 0
    out = capsys.readouterr().out
    assert _column(out, "film", "lost") == "1" and _column(out, "ALL", "lost") == "1"
    assert not any(line.startswith("genre") for line in out.splitlines())
    assert "no links in TEST: genre" in out


def test_hit_at_10_is_printed(tmp_path, capsys):
    project = write_tiny_project(tmp_path / "p")
    assert main(["block", "--project", str(project), "--top-k", "2"]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--project", str(project)]) == 0
    out = capsys.readouterr().out
    assert _column(out, "ALL", "Hit@10") == "1.000"


def test_import_prints_a_short_summary_and_the_json_on_request(tmp_path, capsys):
    source = write_tiny_project(tmp_path / "src")
    assert main(["import", "native", str(source), "--project", str(tmp_path / "p")]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) < 12 and "{" not in out
    assert "6 entities in 2 type(s)" in out and "test   matches: 2 (film 1, person 1)" in out
    assert main(["import", "native", str(source), "--project", str(tmp_path / "p"), "--json"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)  # stdout is the JSON alone; the "imported" line went to stderr
    assert summary["left"]["entities"] == 6 and "imported" in captured.err


def test_the_summary_names_a_few_relations_of_a_large_graph():
    from cli.main import format_summary

    relations = {f"http://dbpedia.org/property/r{i}\u00e9": 1000 - i for i in range(900)}
    kg = {"entities": 19661, "triples": 105998, "entities_per_type": {"entity": 19661},
          "triples_per_relation": relations, "attributes": {}}
    text = format_summary({"name": "dbp15k", "left": kg, "right": kg, "aligned_types": ["entity"],
                           "positive_links": {"train": {"entity": 4050}, "test": {"entity": 10500}},
                           "labelled_negatives": 0})
    assert len(text.splitlines()) == 8 and "897 more" in text and "\\u" not in text
    assert "(r0\u00e9 1,000, r1\u00e9 999, r2\u00e9 998, 897 more)" in text  # URIs by their last part
    assert "19,661 entities" in text and "test   matches: 10,500" in text


def test_model_scoring_shows_progress_on_stderr(demo_copy, capsys):
    assert main(["score", "--project", str(demo_copy), "--limit", "1", "--force"]) == 0
    captured = capsys.readouterr()
    assert "scoring candidates" in captured.err and "pair" in captured.err
    assert "scoring" not in captured.out.splitlines()[-1]
    assert main(["evaluate", "--project", str(demo_copy), "--method", "model"]) == 0
    captured = capsys.readouterr()
    assert "scoring pairs" in captured.err
    assert _column(captured.out, "ALL", "Hit@10") != "-"


def test_a_reader_that_leaves_early_gets_no_error_and_no_traceback(tmp_path):
    """``mualign import ... --json | head``: a closed pipe is not the user's bad input (no exit 2)."""
    import os
    import subprocess
    import sys

    source = write_tiny_project(tmp_path / "src")
    command = [sys.executable, "-c", "import sys; from cli.main import main; sys.exit(main(sys.argv[1:]))",
               "import", "native", str(source), "--project", str(tmp_path / "p"), "--json"]
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first write: every write meets EPIPE
    try:
        done = subprocess.run(command, stdout=write_end, stderr=subprocess.PIPE, timeout=120)
    finally:
        os.close(write_end)
    err = done.stderr.decode()
    assert done.returncode == 141, err
    assert "Broken pipe" not in err and "Traceback" not in err, err
    assert (tmp_path / "p").is_dir()  # the import itself was done
