"""How ``mualign review`` and ``mualign demo`` serve the app: the command line and the Host allowlist.

The server is ``streamlit run cli/streamlit_app.py``: that file wraps ``app.py`` in Streamlit's
ASGI app (``st.App``) with :class:`HostAllowlist` in front, so every HTTP request and websocket
upgrade whose ``Host`` header names another host gets 403 before Streamlit sees it. That stops
DNS rebinding: a web page on ``attacker.example`` whose name the attacker re-points at
127.0.0.1 reaches the port, but its requests still carry ``Host: attacker.example``.

The settings come from the repository's ``.streamlit/config.toml`` passed as command-line flags
(:func:`config_flags`), so they hold whatever the working directory and whatever a user's own
``~/.streamlit/config.toml`` says; ``--address`` and the allowlist are set from the command.

Nothing here imports Streamlit: the CLI builds the command without loading it.
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
CONFIG_FILE = REPO / ".streamlit" / "config.toml"
LAUNCHER = Path(__file__).resolve().parent / "streamlit_app.py"
LOCAL_HOSTS = ("127.0.0.1", "localhost")
#: ``--address`` values that mean every interface: they name no host a browser would use.
WILDCARD_ADDRESSES = ("", "0.0.0.0", "::")
_HOST_NAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?")
_HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


def host_name(text: str) -> str:
    """``text`` as an allowlist entry (``argparse`` type of ``--allowed-host``): a bare host name or IP.

    Raises ``ValueError`` for a URL, a port or a path, so ``--allowed-host https://x.org/`` is
    refused with a message instead of matching nothing.

    Examples
    --------
    >>> host_name("Review.Example.org."), host_name("[::1]")
    ('review.example.org', '::1')
    """
    text = text.strip()
    try:
        return str(ipaddress.ip_address(text[1:-1] if text.startswith("[") and text.endswith("]") else text))
    except ValueError:
        pass
    if not _HOST_NAME.fullmatch(text):
        raise ValueError(f"{text!r} is not a host name or IP address (give it without scheme, port or path)")
    return text.lower().rstrip(".")


def header_name(text: str) -> str:
    """``text`` as an HTTP header name (``argparse`` type of ``--user-header``)."""
    if not _HEADER_NAME.fullmatch(text.strip()):
        raise ValueError(f"{text!r} is not an HTTP header name (letters, digits and '-', e.g. X-Forwarded-User)")
    return text.strip()


def allowed_hosts(address: str, extra: Iterable[str] = ()) -> list[str]:
    """The host names requests may carry: 127.0.0.1, localhost, ``address`` and ``extra``, in that order.

    A wildcard ``address`` (0.0.0.0, ::) adds nothing: the names a team types for the machine
    are given with ``--allowed-host``.

    Examples
    --------
    >>> allowed_hosts("127.0.0.1"), allowed_hosts("0.0.0.0", ["review.example.org"])
    (['127.0.0.1', 'localhost'], ['127.0.0.1', 'localhost', 'review.example.org'])
    """
    names = list(LOCAL_HOSTS)
    if address.strip() not in WILDCARD_ADDRESSES:
        names.append(host_name(address))
    names += [host_name(name) for name in extra]
    return list(dict.fromkeys(names))


def host_allowed(host_header: str | None, allowed: Iterable[str]) -> bool:
    """Whether a request's ``Host`` header names one of ``allowed`` (any port; case and final dot ignored).

    A missing or malformed header (user info, a path, a bad port) is refused.

    Examples
    --------
    >>> host_allowed("LOCALHOST:8501", ["localhost"]), host_allowed("attacker.example", ["localhost"])
    (True, False)
    >>> host_allowed("[::1]:8501", ["::1"]), host_allowed("localhost@attacker.example", ["localhost"])
    (True, False)
    """
    if not host_header:
        return False
    try:
        parts = urlsplit(f"//{host_header}")
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        return False
    if parts.hostname is None or parts.username is not None or parts.path or parts.query or parts.fragment:
        return False
    return parts.hostname.rstrip(".") in {name.lower().rstrip(".") for name in allowed}


class HostAllowlist:
    """ASGI middleware: 403 for any HTTP request or websocket upgrade whose Host is not allowed.

    The allowlist is Streamlit's own ``server.allowedHosts`` option, read at each request, so
    Streamlit's websocket check and this one use one list; an empty list allows only
    :data:`LOCAL_HOSTS` (Streamlit would take it as "any host").
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        from streamlit import config

        allowed = config.get_option("server.allowedHosts") or LOCAL_HOSTS
        host = next((value.decode("latin-1") for name, value in scope["headers"] if name == b"host"), None)
        if host_allowed(host, allowed):
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # before accept: the server answers 403
        else:
            from starlette.responses import PlainTextResponse

            message = ("403 Forbidden: this mualign server answers only requests addressed to "
                       f"{', '.join(allowed)}. If you reach it under another name (a reverse proxy's), "
                       "start it with --allowed-host NAME.\n")
            await PlainTextResponse(message, status_code=403)(scope, receive, send)


def config_flags(config_file: Path = CONFIG_FILE) -> dict[str, list[str]]:
    """Each option of ``config_file`` as ``streamlit run`` flag values: ``{"--server.port": ["8501"]}``.

    A list option gives one value per item (``--server.allowedHosts a --server.allowedHosts b``).
    """
    with open(config_file, "rb") as handle:
        config = tomllib.load(handle)
    flags = {}
    for section, options in config.items():
        for name, value in options.items():
            values = value if isinstance(value, list) else [value]
            flags[f"--{section}.{name}"] = [str(v).lower() if isinstance(v, bool) else str(v) for v in values]
    return flags


def streamlit_command(project: Path, *, port: int = 8501, db: str | None = None, address: str = "127.0.0.1",
                      allowed: Iterable[str] = (), user_header: str | None = None,
                      config_file: Path = CONFIG_FILE) -> list[str]:
    """The ``streamlit run`` command line that serves ``project`` as ``mualign review`` does.

    ``allowed``: host names beyond 127.0.0.1, localhost and ``address`` (a reverse proxy's
    public name). ``user_header``: take the analyst's name from this request header, which a
    trusted proxy sets (``--user-header`` of ``mualign review``).
    """
    flags = config_flags(config_file)
    flags["--server.address"] = [address]
    flags["--server.port"] = [str(port)]
    flags["--server.allowedHosts"] = allowed_hosts(address, allowed)
    command = [sys.executable, "-m", "streamlit", "run", str(LAUNCHER)]
    for flag, values in flags.items():
        for value in values:
            command += [flag, value]
    command += ["--", "--project", str(Path(project).resolve())]
    if db:
        command += ["--db", db]
    if user_header:
        command += ["--user-header", header_name(user_header)]
    return command


def allowed_host_argument(text: str) -> str:
    """:func:`host_name` as an ``argparse`` type, so a bad ``--allowed-host`` exits 2 with the reason."""
    try:
        return host_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def user_header_argument(text: str) -> str:
    """:func:`header_name` as an ``argparse`` type (``--user-header``)."""
    try:
        return header_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
