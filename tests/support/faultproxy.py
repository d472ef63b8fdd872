"""A fault-injecting HTTP proxy on loopback, and a "foreign host" that records what it gets.

``FaultProxy`` sits in front of a real server (normally the simulator) on 127.0.0.1 and
forwards every request unchanged (the ``Host`` header included, so URLs the server builds
from it name the proxy). A ``Rule`` picks requests by method, path glob and occurrence and
does one thing to them:

- ``drop_after``: forward the request, let the server act on it, then close the connection
  without answering: the client's "answer lost after Zoho acted" case;
- ``drop_before``: close the connection without forwarding (the server never sees it);
- ``delay``: wait ``seconds`` before forwarding;
- ``rewrite_json``: forward, then pass the decoded JSON answer through ``rewrite`` (e.g. to
  make a ``download_url`` point at a ``ForeignHost``).

``ForeignHost`` is another listener (127.0.0.2 when the machine routes it, else another port
of 127.0.0.1) that answers every request with a small valid zip and records each request's
method, path and whether it carried an ``Authorization`` header.

    with SimServer() as sim, FaultProxy(sim.base_url) as proxy:
        proxy.add(Rule("POST", "*/crm/bulk/v8/write", "drop_after"))
        client = sim_client(sim, endpoints=Endpoints.for_simulator(proxy.base_url, "us"))

Nothing here imports the project's code: other tests can use it in front of any server.
"""

from __future__ import annotations

import fnmatch
import http.client
import io
import json
import socket
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit

Action = Literal["drop_after", "drop_before", "delay", "rewrite_json"]
ACTIONS: tuple[str, ...] = ("drop_after", "drop_before", "delay", "rewrite_json")
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length"}
)


@dataclass
class Rule:
    """Do ``action`` to the ``nth`` .. ``nth + times - 1`` requests matching method + path."""

    method: str
    path: str
    action: Action
    nth: int = 1
    times: int = 1
    seconds: float = 0.0
    rewrite: Callable[[Any], Any] | None = None
    seen: int = field(default=0, init=False)
    fired: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown action {self.action!r}; use one of {ACTIONS}")
        if self.nth < 1 or self.times < 1:
            raise ValueError("nth and times must be >= 1")
        if self.action == "rewrite_json" and self.rewrite is None:
            raise ValueError("a rewrite_json rule needs rewrite=")

    def matches(self, method: str, path: str) -> bool:
        method_ok = self.method == "*" or self.method.upper() == method.upper()
        return method_ok and fnmatch.fnmatchcase(path, self.path)


@dataclass(frozen=True)
class Seen:
    """One request that reached a proxy or a foreign host."""

    method: str
    path: str
    authorization: bool
    outcome: str  # the HTTP status forwarded, or the action that replaced the answer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout) before the answer is expected here: stay quiet."""
        return


class _Listener:
    """A ``ThreadingHTTPServer`` on a free port in a background thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], host: str) -> None:
        self._server = _Server((host, 0), handler)
        self._server.owner = self  # type: ignore[attr-defined]
        address = self._server.server_address
        self.host, self.port = str(address[0]), int(address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.seen: list[Seen] = []
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    def start(self) -> _Listener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _any(self) -> None:
        proxy: FaultProxy = self.server.owner  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path
        rule = proxy.rule_for(self.command, path)
        auth = "Authorization" in self.headers
        if rule is not None and rule.action == "drop_before":
            proxy.record(Seen(self.command, path, auth, "drop_before"))
            self.close_connection = True
            return
        if rule is not None and rule.action == "delay":
            time.sleep(rule.seconds)
        status, reason, headers, answer = proxy.forward(self.command, self.path, self.headers, body)
        if rule is not None and rule.action == "drop_after":
            proxy.record(Seen(self.command, path, auth, "drop_after"))
            self.close_connection = True
            return
        if rule is not None and rule.action == "rewrite_json":
            assert rule.rewrite is not None
            answer = json.dumps(rule.rewrite(json.loads(answer))).encode()
        proxy.record(Seen(self.command, path, auth, str(status)))
        self.send_response(status, reason)
        for name, value in headers:
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any


class FaultProxy(_Listener):
    """Forwards to ``upstream`` (``http://host:port``), applying the first matching rule."""

    def __init__(self, upstream: str, host: str = "127.0.0.1") -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"upstream must be http://host:port, got {upstream!r}")
        super().__init__(_ProxyHandler, host)  # binds: only once the arguments are good
        self._upstream = (parts.hostname, parts.port)
        self.rules: list[Rule] = []

    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def rule_for(self, method: str, path: str) -> Rule | None:
        """The rule that fires for this request (counting occurrences), or None."""
        with self._lock:
            for rule in self.rules:
                if rule.matches(method, path):
                    rule.seen += 1
                    if rule.nth <= rule.seen < rule.nth + rule.times:
                        rule.fired += 1
                        return rule
        return None

    def forward(
        self, method: str, target: str, headers: Any, body: bytes
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(*self._upstream, timeout=60)
        try:
            out = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
            if body:
                out["Content-Length"] = str(len(body))
            conn.request(method, target, body=body or None, headers=out)
            response = conn.getresponse()
            return response.status, response.reason, response.getheaders(), response.read()
        finally:
            conn.close()

    def __enter__(self) -> FaultProxy:
        self.start()
        return self


class _ForeignHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _any(self) -> None:
        host: ForeignHost = self.server.owner  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        auth = "Authorization" in self.headers
        host.record(Seen(self.command, urlsplit(self.path).path, auth, "200"))
        payload = host.payload
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _any


class ForeignHost(_Listener):
    """A host that is not Zoho's: answers a valid one-CSV zip, records every request."""

    def __init__(self, host: str | None = None) -> None:
        super().__init__(_ForeignHandler, host or foreign_loopback())
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("result.csv", "id,Last_Name\n1,Stolen\n")
        self.payload = buffer.getvalue()

    @property
    def saw_token(self) -> bool:
        return any(s.authorization for s in self.seen)

    def __enter__(self) -> ForeignHost:
        self.start()
        return self


def foreign_loopback() -> str:
    """127.0.0.2 when this machine can bind it (Linux routes all of 127/8), else 127.0.0.1."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.2", 0))
    except OSError:
        return "127.0.0.1"
    return "127.0.0.2"
