"""A reverse proxy on 127.0.0.1 that injects faults in front of a Prefect API.

A real Prefect server cannot be made busy on cue, so the tests put this proxy
between a client and the session's Prefect test server. Every request is sent on
to the server, unless its path ends with one of the proxy's ``paths`` and a fault
is queued. The faults, taken in order:

* ``"503"``, ``"500"`` or any other number: reply with that status, send nothing
  on, as a server whose database is locked does;
* ``"drop"``: close the connection without a reply, send nothing on;
* ``"drop-after"``: send the request on, then close the connection without a
  reply, as when the server committed and the reply was lost;
* ``"slow"``: wait ``slow_seconds``, then send the request on.

``always`` repeats one fault for every matching request, and every matching
request waits ``delay_seconds`` first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}
)


class FaultProxy(ThreadingHTTPServer):
    """The proxy server; see the module docstring for the faults."""

    daemon_threads = True

    def __init__(self, upstream: str, paths: tuple[str, ...]) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.upstream = upstream.rstrip("/")
        self.paths = paths
        self.faults: list[str] = []
        self.always: str | None = None
        self.slow_seconds = 1.0
        self.delay_seconds = 0.0
        # Every matching request: (path, fault or "" when sent on unchanged).
        self.matched: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.client = httpx.Client(trust_env=False, timeout=60)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def next_fault(self, path: str) -> str:
        """Return the fault for a request to ``path``; "" to send it on unchanged."""
        if not path.split("?", 1)[0].endswith(self.paths):
            return ""
        with self.lock:
            fault = self.always or (self.faults.pop(0) if self.faults else "")
            self.matched.append((path, fault))
        time.sleep(self.delay_seconds)
        return fault


class _ProxyHandler(BaseHTTPRequestHandler):
    server: FaultProxy
    protocol_version = "HTTP/1.1"

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fault = self.server.next_fault(self.path)

        if fault == "drop":
            self.close_connection = True
            return
        if fault.isdigit():
            data = b'{"exception_message": "Service Unavailable"}'
            self.send_response(int(fault))
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if fault == "slow":
            time.sleep(self.server.slow_seconds)

        headers = {
            name: value
            for name, value in self.headers.items()
            if name.lower() not in HOP_HEADERS
        }
        # The proxy's path carries the API prefix, as PREFECT_API_URL does.
        upstream = self.server.client.request(
            self.command,
            self.server.upstream + self.path.removeprefix("/api"),
            content=body,
            headers=headers,
        )
        if fault == "drop-after":
            self.close_connection = True
            return

        self.send_response(upstream.status_code)
        for name, value in upstream.headers.items():
            if name.lower() not in HOP_HEADERS | {"content-encoding"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(upstream.content)))
        self.end_headers()
        self.wfile.write(upstream.content)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Keep the test output quiet."""


@contextmanager
def fault_proxy(upstream: str, *paths: str) -> Iterator[FaultProxy]:
    """Run a ``FaultProxy`` in front of ``upstream`` (a Prefect API URL).

    Its API URL is ``proxy.url + "/api"``.
    """
    proxy = FaultProxy(upstream, paths)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
        proxy.client.close()
