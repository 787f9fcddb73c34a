"""The mualign command as a user runs it: demo, import, block, evaluate, and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from cli.main import main
from tests.conftest import REPO, write_tiny_project


def test_every_command_has_help():
    for command in ("import", "block", "evaluate", "demo"):
        out = subprocess.run([sys.executable, "-m", "cli.main", command, "--help"], capture_output=True, text=True,
                             cwd=REPO)
        assert out.returncode == 0 and f"usage: mualign {command}" in out.stdout


def test_demo_writes_blocks_and_scores_both_pairs(tmp_path, capsys):
    assert main(["demo", "--dir", str(tmp_path / "demo"), "--scale", "40", "--epochs", "1", "--no-serve"]) == 0
    out = capsys.readouterr().out
    for project in ("movies", "music"):
        assert (tmp_path / "demo" / project / "candidates.tsv").exists()
    assert out.count("method=name-tfidf split=test") == 2 and out.count("method=name-logreg split=test") == 2
    assert out.count("method=cg-mualign split=test") == 2
    assert "character" in out and "song" in out
    music = tmp_path / "demo" / "music"
    assert main(["score", "--project", str(music), "--limit", "2"]) == 0
    out = capsys.readouterr().out
    assert "already covers" in out and (music / "scores.tsv").exists()  # the demo scored it when it trained
    scores = (music / "scores.tsv").read_text().splitlines()
    assert scores[0].split("\t")[:4] == ["left_id", "right_id", "type", "name_score"]
    left_id, right_id = scores[1].split("\t")[:2]
    assert main(["explain", left_id, right_id, "--project", str(music)]) == 0
    out = capsys.readouterr().out
    assert f"pair {left_id} <-> {right_id}" in out and "alpha" in out and "closest counterpart" in out
    assert main(["explain", "nope", right_id, "--project", str(music)]) == 2
    assert "unknown entity id(s) ['nope']" in capsys.readouterr().err


def test_import_block_evaluate_round(tmp_path, capsys):
    source = write_tiny_project(tmp_path / "src")
    project = tmp_path / "proj"
    assert main(["import", "native", str(source), "--project", str(project)]) == 0
    assert main(["evaluate", "--project", str(project)]) == 2  # not blocked yet: says so
    assert "run `mualign block" in capsys.readouterr().err
    assert main(["block", "--project", str(project), "--top-k", "2", "--key", "film=year"]) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "PC" in out
    assert main(["evaluate", "--project", str(project), "--kg-protocol"]) == 0
    out = capsys.readouterr().out
    assert "Hit@1" in out and "KG protocol [person]" in out


def test_block_switches_large_types_to_sorted_neighbourhood(tmp_path, capsys):
    project = write_tiny_project(tmp_path / "proj")
    assert main(["block", "--project", str(project), "--top-k", "2", "--exact-limit", "0", "--window", "3"]) == 0
    out = capsys.readouterr().out
    assert out.count("(sorted neighbourhood)") >= 2  # every type is over a limit of 0 pairs
    candidates = (project / "candidates.tsv").read_text().splitlines()
    assert len(candidates) > 1
    assert main(["block", "--project", str(project), "--window", "0"]) == 2
    assert "window must be >= 1" in capsys.readouterr().err


def test_bad_input_exits_2_and_lists_every_problem(tmp_path, capsys):
    source = write_tiny_project(tmp_path / "src", **{"left/triples.tsv": "head\trelation\ttail\nf1\tx\n"
                                                                          "f1\tacted_by\tzz\n"})
    assert main(["import", "native", str(source), "--project", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "left/triples.tsv:2: expected 3 tab-separated fields, got 2" in err
    assert "left/triples.tsv:3: unknown tail entity id 'zz'" in err
    assert not (tmp_path / "out").exists()  # nothing half-imported


@pytest.mark.parametrize("args, message", [
    (["block", "--key", "film"], "--key expects TYPE=ATTRIBUTE"),
    (["block", "--key", "movie=year"], "unknown aligned type(s) ['movie']"),
])
def test_bad_options_are_explained(tmp_path, capsys, args, message):
    project = write_tiny_project(tmp_path / "p")
    assert main([args[0], "--project", str(project), *args[1:]]) == 2
    assert message in capsys.readouterr().err


def test_threads_option_caps_torch_and_reaches_the_served_app(tmp_path, monkeypatch, capsys):
    import torch

    source = write_tiny_project(tmp_path / "src")
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # monkeypatch restores the variable afterwards
    before = torch.get_num_threads()
    try:
        assert main(["--threads", "1", "import", "native", str(source), "--project", str(tmp_path / "p")]) == 0
        assert torch.get_num_threads() == 1
        assert os.environ["OMP_NUM_THREADS"] == "1"  # inherited by the streamlit process serve() starts
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("preset, expected", [(None, "4"), ("12", "12")])
def test_the_cli_lets_openblas_threads_sleep_soon_unless_the_user_chose(preset, expected):
    """``OPENBLAS_THREAD_TIMEOUT`` is read when NumPy loads OpenBLAS, so it must be set on importing
    the package, before NumPy: a fresh interpreter shows the order held."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    if preset is not None:
        env["OPENBLAS_THREAD_TIMEOUT"] = preset
    code = ("import sys, os; import cli; assert 'numpy' not in sys.modules, 'numpy loaded before cli'; "
            "import cli.main; print(os.environ['OPENBLAS_THREAD_TIMEOUT'])")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == expected


_FAULTS_PER_ROUND = """
import json, resource, sys
if sys.argv[1] == "cli":
    import cli
import numpy as np
a = np.ones(3 << 20); del a  # a first 24 MB block and its free
counts = []
for _ in range(5):  # the same three 20 MB temporaries, made and freed again, as a command's loop does
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    blocks = [np.ones(20 << 17) for _ in range(3)]
    del blocks
    counts.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps(counts))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator settings (mallopt)")
def test_the_cli_keeps_freed_memory_so_reused_temporaries_do_not_fault_again():
    """With the CLI's allocator settings, temporaries made again after the first round reuse pages
    already mapped: no page faults, where glibc's defaults give memory back and fault it in again."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    counts = {}
    for mode in ("plain", "cli"):
        run = subprocess.run([sys.executable, "-c", _FAULTS_PER_ROUND, mode], capture_output=True, text=True,
                             cwd=REPO, env=env, timeout=120)
        assert run.returncode == 0, run.stderr
        counts[mode] = json.loads(run.stdout)
    assert max(counts["cli"][1:]) < 50, counts
    assert sum(counts["plain"][1:]) > 10 * max(1, sum(counts["cli"][1:])), counts


def test_a_users_malloc_settings_are_kept(monkeypatch):
    import cli

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    assert cli.keep_freed_memory() is False
