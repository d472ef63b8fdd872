"""Run the simulator: ``SimServer`` (a background uvicorn thread, for tests and the demo) and
``serve`` (blocking, for ``zoho-etl sim serve`` and ``python -m simulator``).

    with SimServer() as sim:
        token_url = sim.url("us", "accounts") + "/oauth/v2/token"
        api = sim.url("us", "api")          # what the token's api_domain says
        sim.state.clock.advance(3600)       # in-process control
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import TracebackType

import uvicorn

from simulator.app import create_app
from simulator.config import DATA_CENTRES, SERVICES, SimConfig
from simulator.state import SimState

HOST = "127.0.0.1"
log = logging.getLogger(__name__)


#: a bound on the wait for the server thread, generous for a busy machine
STARTUP_TIMEOUT = 120.0


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class SimServer:
    """The simulator on 127.0.0.1 in a background thread; a context manager."""

    def __init__(self, config: SimConfig | None = None, port: int = 0) -> None:
        self.state = SimState(config)
        self._requested_port = port
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = port

    @property
    def base_url(self) -> str:
        if self._socket is None:
            raise RuntimeError("the simulator is not running; call start() first")
        return f"http://{HOST}:{self.port}"

    def url(self, dc: str, service: str) -> str:
        """Base URL of one host of one data centre, e.g. ``url("eu", "api")``."""
        if dc not in DATA_CENTRES:
            raise ValueError(f"unknown data centre {dc!r}; use one of {DATA_CENTRES}")
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}; use one of {SERVICES}")
        return f"{self.base_url}/{dc}/{service}"

    def reset(self) -> None:
        """Default orgs, data, config, clock; no faults, jobs, tokens or stats."""
        self.state.reset()

    def start(self) -> SimServer:
        if self._thread is not None:
            return self
        self._socket = _bind(self._requested_port)
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(
            create_app(self.state),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        sock = self._socket
        server = self._server
        self._thread = threading.Thread(
            target=lambda: server.run(sockets=[sock]), name="zoho-sim", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the simulator did not start within {STARTUP_TIMEOUT} s")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self.state.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(port: int = 8765, config: SimConfig | None = None) -> None:
    """Run the simulator in the foreground until interrupted (Ctrl-C / SIGTERM)."""
    state = SimState(config)
    try:
        uvicorn.run(create_app(state), host=HOST, port=port, log_level="warning", lifespan="off")
    finally:
        state.close()
