"""The CLI's own temporary Prefect server, which dies with the CLI.

With no ``PREFECT_API_URL``, Prefect starts a temporary server for the first flow run: a
child process that inherits the CLI's stdout and stderr and is stopped only by an
``atexit`` handler. A CLI killed with ``kill -9`` runs no handler: the server lives on and
holds the dead CLI's output open (``zoho-etl ... | tee log`` never ends).

`ensure_prefect_api` therefore starts that server itself, the same way Prefect does (uvicorn
with Prefect's app, UI off, on a free loopback port), but

- through a small launcher that asks Linux to SIGKILL it when the CLI dies
  (``prctl(PR_SET_PDEATHSIG)``, kept across ``exec``), and exits at once if the CLI is
  already gone;
- with stdin and stdout on ``/dev/null`` and stderr in ``$PREFECT_HOME/zoho-etl-server.log``
  (read back when it fails to start), never the CLI's own streams;

then points Prefect at it (``PREFECT_API_URL``) and stops it when the CLI exits normally.
When a Prefect API is configured (a ``prefect server start`` of your own, Prefect Cloud, a
test harness) the CLI uses it and starts nothing: a server the CLI does not own is never
stopped by it. Elsewhere than Linux, Prefect's own temporary server is used unchanged.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

log = logging.getLogger("cli.prefect_server")

#: Run by the server's launcher: die with the CLI (Linux), then become uvicorn.
_LAUNCHER = """\
import ctypes, os, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(1, signal.SIGKILL, 0, 0, 0) != 0:  # PR_SET_PDEATHSIG
    sys.exit("prctl(PR_SET_PDEATHSIG) failed")
if os.getppid() != int(sys.argv[1]):  # the CLI died before prctl took effect
    sys.exit(1)
os.execv(sys.executable, [sys.executable, "-m", "uvicorn", *sys.argv[2:]])
"""
#: the server must answer /health within this many seconds (a busy machine is slow)
STARTUP_TIMEOUT = 120.0


class TemporaryPrefectServer:
    """A Prefect API server on 127.0.0.1 owned by this process (see the module docstring)."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self, timeout: float = STARTUP_TIMEOUT) -> None:
        import prefect

        self.port = _free_port()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        app_dir = str(Path(prefect.__file__).resolve().parent.parent)
        args = [
            sys.executable, "-c", _LAUNCHER, str(os.getpid()),
            "--app-dir", app_dir, "--factory", "prefect.server.api.server:create_app",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--log-level", "error", "--lifespan", "on",
        ]  # fmt: skip
        env = {
            **os.environ,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
        }
        env.pop("PREFECT_API_URL", None)
        with open(self.log_path, "ab") as stderr:
            self.process = subprocess.Popen(  # noqa: S603 (our interpreter, fixed arguments)
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=env,
                start_new_session=True,  # Ctrl-C in the terminal stops the CLI, which stops us
            )
        log.info("temporary Prefect server on %s (pid %d)", self.api_url, self.process.pid)
        self._wait_healthy(timeout)

    def _wait_healthy(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        tail = self.log_path.read_text(errors="replace").strip().splitlines()[-1:]
        raise RuntimeError(
            f"the temporary Prefect server did not start within {timeout:.0f} s "
            f"({tail[0] if tail else 'no output'}; see {self.log_path})"
        )

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


_SERVER: TemporaryPrefectServer | None = None
_LOCK = threading.Lock()


def ensure_prefect_api() -> str | None:
    """Make sure flows have a Prefect API; the URL of a server started here, else None.

    Call from the main thread (the death signal is tied to the thread that starts the
    server) before the first flow runs.
    """
    global _SERVER
    from prefect.context import refresh_global_settings_context
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    if settings.api.url or not sys.platform.startswith("linux"):
        return None  # a server the CLI does not own, or Prefect's own elsewhere
    with _LOCK:
        if _SERVER is None:
            server = TemporaryPrefectServer(Path(settings.home) / "zoho-etl-server.log")
            server.start()
            atexit.register(stop_prefect_server)
            _SERVER = server
        os.environ["PREFECT_API_URL"] = _SERVER.api_url
    refresh_global_settings_context()
    return _SERVER.api_url


def stop_prefect_server() -> None:
    """Stop the server `ensure_prefect_api` started (at the CLI's exit)."""
    global _SERVER
    with _LOCK:
        server, _SERVER = _SERVER, None
    if server is not None:
        server.stop()
        if os.environ.get("PREFECT_API_URL") == server.api_url:
            del os.environ["PREFECT_API_URL"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def configure_prefect_env(argv: list[str]) -> None:
    """Prefect settings the CLI needs, set before Prefect is imported (user values win)."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    if not {"-v", "--verbose"} & set(argv):
        # one line per error: Prefect's console tracebacks stay out of stderr (its logs
        # still reach the Prefect API); -v/--verbose shows them
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    if argv[:1] == ["demo"]:
        # the demo prints its own summary; task-by-task logs would bury it
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def quiet_interpreter_teardown() -> None:
    """Silence stderr for the interpreter's final teardown (registered first, runs last).

    DuckDB's bindings (nanobind) report objects still referenced from Prefect's worker
    threads as "leaked" when the process exits: harmless, but dozens of lines after every
    command. Everything the command had to say has been printed by then.
    """
    sys.stderr.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
