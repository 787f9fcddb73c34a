"""``--engine local`` (the default) never imports Ray: checked in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO, write_tiny_project


def test_local_block_train_and_score_never_import_ray(tmp_path):
    project = write_tiny_project(tmp_path / "tiny")
    code = (
        "import sys\n"
        "from cli.main import main\n"
        f"p = {str(project)!r}\n"
        "assert main(['block', '--project', p]) == 0\n"
        "assert main(['train', '--project', p, '--epochs', '1']) == 0\n"
        "assert main(['score', '--project', p, '--engine', 'local']) == 0\n"
        "print('RAY LOADED' if any(m == 'ray' or m.startswith('ray.') for m in sys.modules) else 'NO RAY')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "NO RAY"


def test_importing_the_distributed_package_does_not_import_ray():
    code = "import sys, core.distributed; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "False"
