"""A tiny threaded HTTP server on 127.0.0.1 that records requests and plays scripted faults.

Each stub subclasses :class:`StubServer` and implements ``route``; tests queue faults
per route name (a status with headers and a body, or a delay before the normal answer)
that are consumed one per matching request, after which the route behaves normally.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    route: str = ""

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, **headers: str) -> Reply:
        hdrs = {"Content-Type": "application/json", **headers}
        return cls(status, json.dumps(payload).encode(), hdrs)


@dataclass
class Fault:
    """What the next request to a route gets instead of (or before) the normal answer."""

    reply: Reply | None = None  # answer this instead of doing the work
    delay_s: float = 0.0  # sleep this long first (a client with a shorter timeout gives up)
    lag_s: float = 0.0  # do the work, then sleep this long before answering (a lost response)
    masked: Reply | None = None  # do the work, then answer this (a 5xx that still created)


class StubServer:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # -- lifecycle -------------------------------------------------------------------

    def __enter__(self) -> StubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # -- scripting and inspection ----------------------------------------------------

    def fail(self, route: str, *faults: Fault) -> None:
        with self.lock:
            self.faults[route].extend(faults)

    def calls(self, route: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.route == route]

    # -- to implement ----------------------------------------------------------------

    def route(self, method: str, path: str) -> str:
        """The route name of a request (used to pick faults), or '' for unknown."""
        raise NotImplementedError

    def answer(self, request: Recorded) -> Reply:
        raise NotImplementedError

    # -- dispatch --------------------------------------------------------------------

    def dispatch(self, request: Recorded) -> Reply:
        request.route = self.route(request.method, request.path)
        with self.lock:
            self.requests.append(request)
            queue = self.faults.get(request.route)
            fault = queue.popleft() if queue else None
        if fault and fault.delay_s:
            time.sleep(fault.delay_s)
        if fault and fault.reply:
            return fault.reply
        if not request.route:
            return Reply.json(404, {"detail": "Not found."})
        reply = self.answer(request)
        if fault and fault.lag_s:
            time.sleep(fault.lag_s)
        return fault.masked if fault and fault.masked else reply


def _handler(stub: StubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            recorded = Recorded(self.command, self.path, dict(self.headers.items()), body)
            reply = stub.dispatch(recorded)
            try:
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and left: that is the point of a delay fault

        do_GET = do_POST = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler
