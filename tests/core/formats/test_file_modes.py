"""Project files get the permissions the umask asks for, not mkstemp's 0600 (issue 13 item 18).

An app server under a service account reads projects that an analyst imported; with every file
0600 it could read none of them.
"""

from __future__ import annotations

import os
import stat

import pytest

from core.formats.textio import atomic_copy, atomic_write_text, current_umask


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_file_follows_the_umask(tmp_path, umask_022):
    atomic_write_text(tmp_path / "a.tsv", "x\n")
    assert _mode(tmp_path / "a.tsv") == 0o644
    os.umask(0o002)
    atomic_write_text(tmp_path / "b.tsv", "x\n")
    assert _mode(tmp_path / "b.tsv") == 0o664


def test_a_replaced_file_keeps_its_mode(tmp_path, umask_022):
    path = tmp_path / "links.tsv"
    path.write_text("old\n")
    os.chmod(path, 0o640)
    atomic_write_text(path, "new\n")
    assert _mode(path) == 0o640 and path.read_text() == "new\n"


def test_the_umask_is_read_without_changing_it(umask_022):
    assert current_umask() == 0o022
    assert current_umask() == 0o022


def test_an_imported_project_is_readable_by_the_group(tmp_path, umask_022, capsys):
    from cli.main import main
    from tests.conftest import write_tiny_project

    source = write_tiny_project(tmp_path / "src")
    assert main(["import", "native", str(source), "--project", str(tmp_path / "p")]) == 0
    assert main(["block", "--project", str(tmp_path / "p")]) == 0
    for name in ("left/entities.tsv", "schema.json", "links.tsv", "candidates.tsv", "blocking_report.json"):
        assert _mode(tmp_path / "p" / name) == 0o644, name


def test_a_copied_file_is_byte_for_byte_the_source_keeps_the_replaced_mode_and_leaves_no_temporary(tmp_path,
                                                                                                    umask_022):
    source = tmp_path / "scores" / "scores-v1.tsv"
    source.parent.mkdir()
    data = os.urandom(40 << 20)  # more than one 16 MiB piece
    source.write_bytes(data)
    target = tmp_path / "scores.tsv"
    target.write_text("old\n")
    os.chmod(target, 0o640)
    atomic_copy(source, target)
    assert target.read_bytes() == data
    assert _mode(target) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores", "scores.tsv"]


def test_a_failed_copy_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "scores.tsv"
    target.write_text("old\n")
    with pytest.raises(FileNotFoundError):
        atomic_copy(tmp_path / "missing.tsv", target)
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["scores.tsv"]


def test_a_frame_arrow_cannot_write_goes_through_pandas_and_leaves_no_temporary(tmp_path):
    import pandas as pd

    from core.formats.textio import atomic_write_tsv

    path = tmp_path / "scores.tsv"
    path.write_text("old\n")
    atomic_write_tsv(path, pd.DataFrame({"id": ["x\ty", "z"], "score": [1.0, 2.5]}))  # a tab needs quotes
    assert path.read_text() == 'id\tscore\n"x\ty"\t1.0\nz\t2.5\n'
    atomic_write_tsv(path, pd.DataFrame({"id": ["x", "z"], "score": [1.0, float("nan")]}))  # Arrow's text
    assert path.read_text() == "id\tscore\nx\t1\nz\t\n"
    assert [p.name for p in tmp_path.iterdir()] == ["scores.tsv"]
