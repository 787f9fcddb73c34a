"""Bad input to the CLI exits 2 with a message naming the problem, never a traceback (issue 13, item 5).

Each case was a traceback, a hang, or a silent acceptance before; the message must say what is
wrong and, where there is one, what to do instead.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest

from cli.main import main
from tests.conftest import LINKS, REPO, RIGHT_ENTITIES, SCHEMA, write_tiny_project


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.err


# ------------------------------------------------------------------------------------ import ----
def test_import_into_an_existing_file_is_refused(tmp_path, capsys):
    source = write_tiny_project(tmp_path / "src")
    (tmp_path / "taken").write_text("x")
    code, err = run(capsys, "import", "native", str(source), "--project", str(tmp_path / "taken"))
    assert code == 2 and "exists and is not a directory" in err


def test_import_under_a_file_is_refused(tmp_path, capsys):
    source = write_tiny_project(tmp_path / "src")
    (tmp_path / "file").write_text("x")
    code, err = run(capsys, "import", "native", str(source), "--project", str(tmp_path / "file" / "sub" / "p"))
    assert code == 2 and "is a file, so no directory can be made under it" in err


def test_import_with_a_too_long_name_is_refused(tmp_path, capsys):
    source = write_tiny_project(tmp_path / "src")
    code, err = run(capsys, "import", "native", str(source), "--project", str(tmp_path / ("p" * 300)))
    assert code == 2 and "300 bytes long" in err and not any(p.name.startswith("ppp") for p in tmp_path.iterdir())


def test_a_named_pipe_as_entities_file_is_refused_not_read(tmp_path):
    source = write_tiny_project(tmp_path / "src")
    (source / "left" / "entities.tsv").unlink()
    os.mkfifo(source / "left" / "entities.tsv")
    out = subprocess.run([sys.executable, "-m", "cli.main", "import", "native", str(source), "--project",
                          str(tmp_path / "p")], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 2
    assert "left/entities.tsv: is not a regular file (a named pipe" in out.stderr


@pytest.mark.parametrize("schema, message", [
    (SCHEMA.replace('"types": [', '"attributes": [{"name": "when", "left": "year", "right": "born"}],\n  "types": ['),
     "pairs left 'year' (number) with right 'born' (date)"),
    (SCHEMA.replace('{"name": "film", "left": "film", "right": "movie"}',
                    '{"name": "film", "left": "film", "right": "movie", "rigth": "x"}'),
     "unknown field(s) ['rigth'] in a \"types\" entry"),
    (SCHEMA.replace('{"name": "film", "left": "film", "right": "movie"}',
                    '{"name": "film", "left": "film", "right": "movie", "right": "person"}'),
     "key 'right' appears twice in one object"),
])
def test_schema_mistakes_are_refused(tmp_path, capsys, schema, message):
    right = "id\ttype\tname\tyear:number\tborn:date\n" + "".join(
        line + "\t\n" for line in RIGHT_ENTITIES.splitlines()[1:])
    source = write_tiny_project(tmp_path / "src", **{"schema.json": schema, "right/entities.tsv": right})
    code, err = run(capsys, "import", "native", str(source), "--project", str(tmp_path / "p"))
    assert code == 2 and "schema.json" in err and message in err
    assert not (tmp_path / "p").exists()


def test_one_left_entity_linked_to_two_right_entities_is_refused(tmp_path, capsys):
    source = write_tiny_project(tmp_path / "src", **{"links.tsv": LINKS + "f1\tm11\t1\ttest\n"})
    code, err = run(capsys, "import", "native", str(source), "--project", str(tmp_path / "p"))
    assert code == 2
    assert "links.tsv:8: left entity 'f1' is already linked on line 2 (to 'm10')" in err


def test_labelled_pair_benchmarks_may_link_a_record_to_several_duplicates(tmp_path, capsys):
    """DeepMatcher tables hold duplicates (iTunes-Amazon: 4 songs match two records each)."""
    links = LINKS + "f1\tm11\t1\ttest\nf1\tm12\t0\ttest\n"  # film has a labelled non-match: pairwise
    source = write_tiny_project(tmp_path / "src", **{"links.tsv": links})
    code, _ = run(capsys, "import", "native", str(source), "--project", str(tmp_path / "p"))
    assert code == 0


# ----------------------------------------------------------------------------- block, train ----
@pytest.mark.parametrize("value, message", [("inf", "must be a finite number >= 0, got 'inf'"),
                                            ("-1", "must be a finite number >= 0, got '-1'"),
                                            ("lots", "expected a number of pairs")])
def test_block_exact_limit_must_be_a_finite_count(tmp_path, capsys, value, message):
    project = write_tiny_project(tmp_path / "p")
    code, err = run(capsys, "block", "--project", str(project), "--exact-limit", value)
    assert code == 2 and "--exact-limit" in err and message in err


@pytest.mark.parametrize("value", ["-2", "0"])
def test_threads_must_be_positive(tmp_path, capsys, value):
    code, err = run(capsys, "--threads", value, "block", "--project", str(tmp_path))
    assert code == 2 and f"argument --threads: must be >= 1, got {value}" in err


def test_train_on_a_device_that_does_not_exist(tmp_path, capsys):
    project = write_tiny_project(tmp_path / "p")
    code, err = run(capsys, "train", "--project", str(project), "--device", "banana")
    assert code == 2 and "--device banana: device 'banana' cannot be used: unknown device" in err
    assert "--device cpu" in err


def test_train_on_cuda_without_cuda_says_to_use_cpu(tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    project = write_tiny_project(tmp_path / "p")
    code, err = run(capsys, "train", "--project", str(project), "--device", "cuda")
    assert code == 2 and "device 'cuda' cannot be used: torch sees no CUDA device" in err and "--device cpu" in err


def test_a_device_failing_mid_run_is_a_message(tmp_path, capsys, monkeypatch):
    import cli.main as cli
    from core.model.device import DeviceError

    def out_of_memory(args):
        raise DeviceError("cuda:0", "CUDA out of memory")

    monkeypatch.setattr(cli, "cmd_block", out_of_memory)
    code, err = run(capsys, "block", "--project", str(tmp_path))
    assert code == 2 and "device 'cuda:0' cannot be used: CUDA out of memory" in err


def test_running_out_of_host_memory_is_a_message_not_a_traceback(tmp_path, capsys, monkeypatch):
    """The matcher over 8.9M candidates asked NumPy for 5.3 GiB more than a 21 GB limit allowed."""
    import cli.main as cli

    def out_of_memory(args):
        raise MemoryError("Unable to allocate 5.30 GiB for an array with shape (8898570, 80) and data type float64")

    monkeypatch.setattr(cli, "cmd_train", out_of_memory)
    code, err = run(capsys, "train", "--project", str(tmp_path))
    assert code == 2 and "mualign train: error: not enough memory on this machine (Unable to allocate 5.30 GiB" in err
    assert "--top-k" in err and "Traceback" not in err


def test_review_port_out_of_range(tmp_path, capsys):
    code, err = run(capsys, "review", "--project", str(tmp_path), "--port", "70000")
    assert code == 2 and "a port is 1 to 65535, got 70000" in err


# ---------------------------------------------------------------------------------- labels ----
def _newer_store(project):
    from db.session import default_url, make_engine

    make_engine(default_url(project)).dispose()
    with sqlite3.connect(project / "labels.sqlite") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999_future'")
    return None


@pytest.mark.parametrize("case, message", [
    ("not a url", "is not a database URL"),
    ("missing dir", "no/such/dir"),
    ("junk file", "not a SQLite database"),
    ("newer store", "which this mualign does not know"),
])
def test_labels_with_an_unusable_store(tmp_path, capsys, case, message):
    project = write_tiny_project(tmp_path / "p")
    db = {"not a url": "notaurl", "missing dir": f"sqlite:///{tmp_path}/no/such/dir/labels.sqlite",
          "junk file": f"sqlite:///{tmp_path}/junk.sqlite", "newer store": None}[case]
    (tmp_path / "junk.sqlite").write_text("this is not a database\n" * 100)
    if case == "newer store":
        _newer_store(project)
    code, err = run(capsys, "labels", "export", str(tmp_path / "out.jsonl"), "--project", str(project),
                    *(["--db", db] if db else []))
    assert code == 2 and message in err
    code, err = run(capsys, "review", "--project", str(project), *(["--db", db] if db else []))
    assert code == 2 and message in err  # refused before a server starts


def test_labels_export_to_a_directory(tmp_path, capsys):
    project = write_tiny_project(tmp_path / "p")
    code, err = run(capsys, "labels", "export", str(tmp_path), "--project", str(project))
    assert code == 2 and "is a directory; name the file to write" in err


def test_labels_import_of_a_junk_file(tmp_path, capsys):
    project = write_tiny_project(tmp_path / "p")
    (tmp_path / "junk.jsonl").write_bytes(b"\x00\x01garbage")
    code, err = run(capsys, "labels", "import", str(tmp_path / "junk.jsonl"), "--project", str(project))
    assert code == 2 and "junk.jsonl" in err


# ----------------------------------------------------------------- evaluate, score, explain ----
@pytest.mark.parametrize("method", ["name-logreg", "model"])
def test_kg_protocol_with_another_scorer_is_refused_before_scoring(tmp_path, capsys, monkeypatch, method):
    import core.project.lifecycle as lifecycle

    def must_not_run(*args, **kwargs):
        raise AssertionError("loaded the project before refusing the option")

    monkeypatch.setattr(lifecycle, "load_blocked", must_not_run)
    project = write_tiny_project(tmp_path / "p")
    code, err = run(capsys, "evaluate", "--project", str(project), "--method", method, "--kg-protocol")
    assert code == 2 and "only name-tfidf can do" in err


def test_an_empty_candidates_file_is_refused(tmp_path, capsys):
    project = write_tiny_project(tmp_path / "p")
    (project / "candidates.tsv").write_text("left_id\tright_id\ttype\tname_score\n")
    code, err = run(capsys, "evaluate", "--project", str(project))
    assert code == 2 and "candidates.tsv: holds no candidate pairs" in err


def test_score_top_k_must_be_positive(tmp_path, capsys):
    code, err = run(capsys, "score", "--project", str(tmp_path), "--top-k", "-1")
    assert code == 2 and "argument --top-k: must be >= 1, got -1" in err


def test_explain_a_pair_of_different_types(tmp_path, capsys):
    project = write_tiny_project(tmp_path / "p")
    code, err = run(capsys, "explain", "f1", "q10", "--project", str(project))
    assert code == 2 and "'f1' is a left 'film' and 'q10' a right 'person'" in err


def test_real_bugs_keep_their_traceback(tmp_path, monkeypatch):
    import cli.main as cli

    def broken(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli, "cmd_block", broken)
    with pytest.raises(ZeroDivisionError):
        cli.main(["block", "--project", str(tmp_path)])


def test_help_and_labels_export_do_not_load_torch(tmp_path):
    """issue 14 item 4: the cheap commands stay cheap (torch costs seconds to import)."""
    project = write_tiny_project(tmp_path / "p")
    code = ("import sys; from cli.main import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            f"assert main(['labels', 'export', {str(tmp_path / 'l.jsonl')!r}, '--project', {str(project)!r}]) == 0\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'dgl')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert json.loads((tmp_path / "l.jsonl").read_text().splitlines()[0])["format"] == "mualign-labels"
