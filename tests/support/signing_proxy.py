"""A minimal reverse proxy that signs every request in, as nginx + oauth2-proxy would.

Chromium does not send a page context's extra HTTP headers on the WebSocket handshake, and the
app reads the analyst's header from that handshake (``st.context.headers``), so a test of
``--user-header`` needs a real proxy in front of the server. This one forwards TCP connections
to the app and rewrites the head of each connection's first request: it drops whatever
``header`` the client sent (a browser must not be able to claim a name) and adds its own. The
first request is the only one that matters here: the WebSocket upgrade opens its own connection.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from contextlib import contextmanager


def _rewrite_head(head: bytes, header: str, value: str) -> bytes:
    lines = head.split(b"\r\n")
    name = header.lower().encode()
    kept = [line for line in lines[1:] if line.split(b":", 1)[0].strip().lower() != name]
    return b"\r\n".join([lines[0], f"{header}: {value}".encode(), *kept])


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


@contextmanager
def signing_proxy(upstream_port: int, header: str, value: str):
    """Serve ``http://127.0.0.1:PORT`` forwarding to ``upstream_port`` with ``header: value`` added."""
    loop = asyncio.new_event_loop()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    async def handle(client_reader, client_writer):
        try:
            head = await client_reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            client_writer.close()
            return
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        upstream_writer.write(_rewrite_head(head, header, value))
        await asyncio.gather(_pipe(client_reader, upstream_writer), _pipe(upstream_reader, client_writer))

    started = threading.Event()
    servers = []

    def run() -> None:  # its own thread: the caller's thread may run another loop (playwright's)
        asyncio.set_event_loop(loop)
        servers.append(loop.run_until_complete(asyncio.start_server(handle, sock=listener)))
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(timeout=10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(servers[0].close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
