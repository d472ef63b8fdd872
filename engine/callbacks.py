"""Receive Zoho's bulk-read callbacks, so a page's wait ends when its job does.

Zoho POSTs ``{"data": [JobDetail]}`` to a job's ``callback.url`` when the job completes or
fails (``shared/docs/zoho-bulk-api.md`` §1.7; retries, headers and signatures are UNCERTAIN,
so nothing here relies on them). `CallbackReceiver` is a small HTTP server in the flow's
process: a callback only *wakes* the page waiting for that job id (a job this process
created, `CallbackReceiver.expect`), which then asks Zoho for the job's status as usual (one
status call, authenticated). A forged POST can at worst end a wait early: the status call
finds the job still running and polling carries on. A job created by an earlier, crashed
process is polled at once; a callback that never comes (lost, or Zoho cannot reach the URL)
leaves the page polling after ``RunSettings.callback_fallback_s``, as without callbacks.

Each create gets its own callback address, ``{CALLBACK_PATH}/{token}`` with a random token
(`CallbackReceiver.new_address`). When a create's answer is lost after sending, the callback
is the only way to learn whether Zoho made the job (Zoho documents no job listing): the
callback at that token names the job, which the page then adopts (`job_for`) instead of
creating a second one. The token is sent to Zoho only, so a forged callback cannot guess it.

The server must be reachable from Zoho: ``listen`` is the local ``host:port`` it binds
(port 0 picks a free one), ``public_url`` the address Zoho is given (default: the bound
address, which suits the simulator and a host Zoho can reach directly).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
from collections import OrderedDict, deque
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from engine.ledger import utcnow

log = logging.getLogger("engine.callbacks")
CALLBACK_PATH = "/zoho/bulk-read-callback"
#: a callback body is one job's details: a few KB
MAX_BODY_BYTES = 1 << 20
MAX_UNCLAIMED = 1024
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")


class CallbackReceiver:
    """An HTTP server that turns bulk-read callbacks into per-job events."""

    def __init__(self, listen: str, public_url: str | None = None) -> None:
        host, _, port = listen.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"callback listen address must be HOST:PORT, got {listen!r}")
        self._events: dict[str, threading.Event] = {}
        #: when the callback of an expected job came (its end: Zoho's status has no end time)
        self._ended_at: dict[str, datetime] = {}
        #: callbacks of jobs not (yet) expected: bounded, so forged posts cannot fill memory
        self._unclaimed: deque[str] = deque(maxlen=MAX_UNCLAIMED)
        #: callback address token -> the job ids its callbacks named (bounded, oldest out)
        self._by_token: OrderedDict[str, str] = OrderedDict()
        self._token_seen = threading.Condition()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, int(port)), _handler_for(self))
        self._server.daemon_threads = True
        bound_host, bound_port = self._server.server_address[:2]
        base = public_url.rstrip("/") if public_url else f"http://{bound_host!s}:{bound_port}"
        self.url = base + CALLBACK_PATH
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="zoho-callbacks", daemon=True
        )
        self._thread.start()

    def new_address(self) -> tuple[str, str]:
        """``(token, url)``: a callback address of its own for one create call."""
        token = secrets.token_urlsafe(18)
        return token, f"{self.url}/{token}"

    def job_for(self, token: str, timeout: float) -> str | None:
        """The id of the job whose callback came to ``token``'s address, waiting up to
        ``timeout`` s for it; None when none came (then Zoho most likely made no job)."""
        with self._token_seen:
            self._token_seen.wait_for(lambda: token in self._by_token, timeout)
            return self._by_token.get(token)

    def notify_token(self, token: str, job_ids: list[str]) -> None:
        """A callback came to ``token``'s address naming ``job_ids``."""
        if not job_ids:
            return
        with self._token_seen:
            self._by_token[token] = job_ids[0]
            while len(self._by_token) > MAX_UNCLAIMED:
                self._by_token.popitem(last=False)
            self._token_seen.notify_all()

    def expect(self, job_id: str) -> None:
        """A job was created with this receiver's URL: its callback will be waited for."""
        with self._lock:
            event = self._events.setdefault(job_id, threading.Event())
            if job_id in self._unclaimed:  # its callback beat the create call's response
                event.set()

    def wait_for(self, job_id: str, timeout: float) -> bool:
        """Block until Zoho said job ``job_id`` ended (True) or ``timeout`` s passed.

        A job this receiver does not expect (created by an earlier process, whose callback
        went there) returns False at once: poll it.
        """
        with self._lock:
            event = self._events.get(job_id)
        if event is None or not event.wait(timeout):
            return False
        with self._lock:
            self._events.pop(job_id, None)
        return True

    def ended_at(self, job_id: str) -> datetime | None:
        """When the callback of expected job ``job_id`` came (once; None if it did not)."""
        with self._lock:
            return self._ended_at.pop(job_id, None)

    def notify(self, job_id: str) -> None:
        """Job ``job_id`` ended (a callback came)."""
        with self._lock:
            event = self._events.get(job_id)
            if event is None:
                self._unclaimed.append(job_id)
            elif not event.is_set():
                self._ended_at[job_id] = utcnow()
        if event is not None:
            event.set()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def job_ids(body: bytes) -> list[str]:
    """The job ids of a callback body (``{"data": [{"id": ...}, ...]}``); [] if malformed."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return []
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        return []
    return [str(d["id"]) for d in data if isinstance(d, dict) and d.get("id") is not None]


def _content_length(value: str | None) -> int | None:
    """The header's byte count; None when absent or not a plain decimal number."""
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())


def _handler_for(receiver: CallbackReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            token = path[len(CALLBACK_PATH) + 1 :] if path.startswith(CALLBACK_PATH + "/") else ""
            if path != CALLBACK_PATH and not _TOKEN.fullmatch(token):
                self.send_error(HTTPStatus.NOT_FOUND)
                return
            length = _content_length(self.headers.get("Content-Length"))
            if length is None or not 0 < length <= MAX_BODY_BYTES:
                log.warning(
                    "callback refused: Content-Length %.40r is not a size in 1..%d",
                    self.headers.get("Content-Length"),
                    MAX_BODY_BYTES,
                )
                self.send_error(HTTPStatus.BAD_REQUEST)
                return
            ids = job_ids(self.rfile.read(length))
            for job_id in ids:
                receiver.notify(job_id)
            if token:
                receiver.notify_token(token, ids)
            self.send_response(HTTPStatus.OK if ids else HTTPStatus.BAD_REQUEST)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            log.debug("callback %s", format % args)

    return Handler
