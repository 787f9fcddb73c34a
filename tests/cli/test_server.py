"""How the app is served (issue 13, items 7 and 8): the safe Streamlit settings reach every start, and
a request whose ``Host`` names another host (DNS rebinding) gets 403, checked on real servers with raw
HTTP requests and websocket upgrades."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from cli.main import main
from cli.server import (CONFIG_FILE, LAUNCHER, allowed_hosts, config_flags, host_allowed, host_name,
                        streamlit_command)
from tests.conftest import REPO

SERVER_START_S = 60

SAFE_SETTINGS = {("server", "address"): "127.0.0.1", ("browser", "gatherUsageStats"): False,
                 ("server", "fileWatcherType"): "none", ("client", "toolbarMode"): "minimal",
                 ("server", "headless"): True, ("server", "allowedHosts"): ["127.0.0.1", "localhost"]}


# ------------------------------------------------------------------------------ settings ---
def test_the_repository_config_holds_the_safe_defaults():
    with open(REPO / ".streamlit" / "config.toml", "rb") as handle:
        config = tomllib.load(handle)
    for (section, name), value in SAFE_SETTINGS.items():
        assert config[section][name] == value, f"{section}.{name}"


def _flag_values(command: list[str], flag: str) -> list[str]:
    return [command[i + 1] for i, word in enumerate(command) if word == flag]


def test_review_passes_every_setting_of_the_config_whatever_the_working_directory(monkeypatch, tiny_project,
                                                                                 tmp_path, capsys):
    commands = []
    monkeypatch.setattr(subprocess, "call", lambda command, **kwargs: commands.append((command, kwargs)) or 0)
    monkeypatch.chdir(tmp_path)  # no .streamlit/ here: the settings must come as flags
    assert main(["review", "--project", str(tiny_project), "--port", "8599"]) == 0
    (command, kwargs), = commands
    assert command[:5] == [sys.executable, "-m", "streamlit", "run", str(LAUNCHER)]
    for flag, values in config_flags(CONFIG_FILE).items():
        if flag != "--server.port":
            assert _flag_values(command, flag) == values, flag
    assert _flag_values(command, "--browser.gatherUsageStats") == ["false"]
    assert _flag_values(command, "--client.toolbarMode") == ["minimal"]
    assert _flag_values(command, "--server.allowedHosts") == ["127.0.0.1", "localhost"]
    assert "cwd" not in kwargs  # a relative --db names a file where the user is, as `review` checked it
    assert "answers requests addressed to 127.0.0.1, localhost" in capsys.readouterr().out


def test_allowed_hosts_add_the_address_and_the_proxy_names():
    assert allowed_hosts("127.0.0.1") == ["127.0.0.1", "localhost"]
    assert allowed_hosts("192.168.1.5") == ["127.0.0.1", "localhost", "192.168.1.5"]
    assert allowed_hosts("0.0.0.0", ["Review.Example.org."]) == ["127.0.0.1", "localhost", "review.example.org"]
    assert allowed_hosts("::") == ["127.0.0.1", "localhost"]
    command = streamlit_command(Path("p"), address="10.0.0.2", allowed=["review.example.org"],
                                user_header="X-Forwarded-User")
    assert _flag_values(command, "--server.allowedHosts") == ["127.0.0.1", "localhost", "10.0.0.2",
                                                                "review.example.org"]
    assert command[command.index("--"):][-2:] == ["--user-header", "X-Forwarded-User"]


@pytest.mark.parametrize(("header", "allowed"), [
    ("127.0.0.1:8501", True), ("localhost", True), ("LOCALHOST.:8501", True), ("[::1]:8501", True),
    ("attacker.example", False), ("attacker.example:8501", False), ("127.0.0.1.attacker.example", False),
    ("localhost@attacker.example", False), ("localhost/x", False), ("localhost:99999", False),
    ("localhost:http", False), ("", False), (None, False)])
def test_host_allowed(header, allowed):
    assert host_allowed(header, ["127.0.0.1", "localhost", "::1"]) is allowed


@pytest.mark.parametrize("text", ["https://review.example.org/", "review.example.org:443", "a b", "", "x/y"])
def test_an_allowed_host_is_a_bare_name(text):
    with pytest.raises(ValueError, match="not a host name"):
        host_name(text)


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--allowed-host", "https://review.example.org/", "is not a host name"),
    ("--user-header", "X-Forwarded-User: bob", "is not an HTTP header name")])
def test_review_refuses_a_bad_allowed_host_or_user_header(tiny_project, capsys, option, value, message):
    assert main(["review", "--project", str(tiny_project), option, value]) == 2
    assert message in capsys.readouterr().err


# ----------------------------------------------------------------------- real servers ---
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _server(command: list[str], port: int, log: Path):
    """A streamlit server from ``command`` (in its own process group), healthy on ``port``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MUALIGN_", "STREAMLIT_"))}
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=log.parent, stdout=out, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            assert process.poll() is None, f"streamlit exited early:\n{log.read_text()}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"streamlit not healthy after {SERVER_START_S} s:\n{log.read_text()}"
            time.sleep(0.2)  # polling a socket, not waiting for the page
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _status(port: int, path: str, host: str, *, websocket: bool = False) -> int:
    """The HTTP status of one raw request to 127.0.0.1:``port`` naming ``host`` in its Host header."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Connection: close"]
    if websocket:
        key = base64.b64encode(os.urandom(16)).decode()
        lines[-1:] = ["Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13",
                      f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Protocol: streamlit"]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        status_line = connection.makefile("rb").readline().decode("latin-1")
    return int(status_line.split()[1])


def test_review_answers_only_requests_naming_an_allowed_host(tiny_project, tmp_path):
    port = _free_port()
    command = streamlit_command(tiny_project, port=port, allowed=["review.example.org"])
    with _server(command, port, tmp_path / "streamlit.log"):
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "review.example.org"):
            assert _status(port, "/", host) == 200, host
            assert _status(port, "/_stcore/stream", host, websocket=True) == 101, host
        for host in (f"attacker.example:{port}", "attacker.example", f"localhost@attacker.example:{port}"):
            assert _status(port, "/", host) == 403, host
            assert _status(port, "/agreement", host) == 403, host
            assert _status(port, "/_stcore/health", host) == 403, host
            assert _status(port, "/_stcore/stream", host, websocket=True) == 403, host


def test_streamlit_run_app_py_refuses_a_rebound_websocket_by_the_config_alone(tiny_project, tmp_path):
    """``streamlit run app.py`` from another directory still reads the repository's config (beside app.py):
    127.0.0.1 only, and the websocket, which carries every datum, refused to another Host."""
    port = _free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"), "--server.port", str(port),
               "--", "--project", str(tiny_project)]
    with _server(command, port, tmp_path / "streamlit.log"):
        assert _status(port, "/_stcore/stream", f"127.0.0.1:{port}", websocket=True) == 101
        assert _status(port, "/_stcore/stream", "attacker.example", websocket=True) == 403
        with pytest.raises(OSError):  # not on another interface of this machine
            socket.create_connection((_other_address(), port), timeout=2).close()
    assert "Network URL" not in (tmp_path / "streamlit.log").read_text()


def _other_address() -> str:
    """An address of this machine other than loopback (where a server on every interface would answer)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
            address = probe.getsockname()[0]
        except OSError:
            address = "127.0.0.1"
    if address.startswith("127."):
        pytest.skip("this machine has no address besides loopback")
    return address
