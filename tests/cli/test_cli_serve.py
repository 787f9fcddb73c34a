"""``mualign review`` serves on 127.0.0.1 unless ``--address`` names another address."""

from __future__ import annotations

import subprocess

import pytest

from cli.main import main


@pytest.mark.parametrize(("extra", "address"), [([], "127.0.0.1"), (["--address", "0.0.0.0"], "0.0.0.0")])
def test_review_binds_the_address_asked_for(monkeypatch, tiny_project, capsys, extra, address):
    commands = []
    monkeypatch.setattr(subprocess, "call", lambda command, **kwargs: commands.append(command) or 0)
    assert main(["review", "--project", str(tiny_project), "--port", "8599", *extra]) == 0
    (command,) = commands
    assert command[command.index("--server.address") + 1] == address
    assert command[command.index("--server.port") + 1] == "8599"
    assert f"http://{address}:8599/" in capsys.readouterr().out
