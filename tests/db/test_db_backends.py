"""How the db tests pick their backends (``tests/support/db_backends.py``): skip, fail or run PostgreSQL.

CI sets ``MUALIGN_REQUIRE_POSTGRES=1`` so that a PostgreSQL server that did not start fails the
build instead of turning half the label-store tests into quiet skips; these tests hold the
fixture to that.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.support.db_backends import POSTGRES_URL_VARIABLE, REQUIRE_VARIABLE, PostgresSetting

PROBE = """
from tests.support.db_backends import postgres_server, store  # noqa: F401

def test_probe(store):
    assert store.backend in ("sqlite", "postgresql")
"""


def run_probe(tmp_path, **environ: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_probe.py").write_text(PROBE, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in (POSTGRES_URL_VARIABLE, REQUIRE_VARIABLE)}
    env.update(environ, PYTHONPATH=str(REPO), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")  # faster start
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", str(tmp_path)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_setting_reads_the_environment():
    assert PostgresSetting.from_environ({}) == PostgresSetting(url=None, required=False)
    url = "postgresql+psycopg://u:p@127.0.0.1:5432/db"
    assert PostgresSetting.from_environ({POSTGRES_URL_VARIABLE: url, REQUIRE_VARIABLE: "1"}) == PostgresSetting(url, True)
    assert PostgresSetting.from_environ({POSTGRES_URL_VARIABLE: "  ", REQUIRE_VARIABLE: "0"}).url is None
    assert "MUALIGN_TEST_POSTGRES_URL" in PostgresSetting(None, False).missing_reason()
    with pytest.raises(ValueError, match="MUALIGN_REQUIRE_POSTGRES must be 1, 0 or unset, got 'yes'"):
        PostgresSetting.from_environ({REQUIRE_VARIABLE: "yes"})
    with pytest.raises(ValueError, match="must be a PostgreSQL URL .* got 'sqlite:///x.sqlite'"):
        PostgresSetting.from_environ({POSTGRES_URL_VARIABLE: "sqlite:///x.sqlite"})


def test_without_a_server_postgresql_variants_skip(tmp_path):
    result = run_probe(tmp_path)
    assert result.returncode == 0, result.stdout
    assert "1 passed, 1 skipped" in result.stdout
    assert "SKIPPED" in result.stdout and "need MUALIGN_TEST_POSTGRES_URL" in result.stdout


def test_required_but_not_set_fails(tmp_path):
    result = run_probe(tmp_path, **{REQUIRE_VARIABLE: "1"})
    assert result.returncode == 1, result.stdout
    assert "1 passed, 1 error" in result.stdout
    assert "MUALIGN_REQUIRE_POSTGRES=1 but MUALIGN_TEST_POSTGRES_URL is not set" in result.stdout


def test_a_set_url_that_does_not_connect_fails(tmp_path):
    url = f"postgresql+psycopg://mualign:secret@127.0.0.1:{unused_port()}/mualign"
    result = run_probe(tmp_path, **{POSTGRES_URL_VARIABLE: url})
    assert result.returncode == 1, result.stdout
    assert "1 passed, 1 error" in result.stdout
    assert "cannot connect" in result.stdout and "secret" not in result.stdout  # the password stays hidden
