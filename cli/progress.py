"""Live progress of a run on stderr: one ``rich`` line per module on a terminal, plain lines else.

On a terminal each module shows its state, pages loaded / expected (``?`` while unknown:
``engine.page_estimate``), rows, rejects, credits and elapsed time; warnings from our loggers
print above the live lines through the same console, so the two never interleave. Not on a
terminal (CI, pipes, files) each event is one plain line. A forecast (a backfill's windows,
each with its method, estimated credits and reason) prints as it comes, before anything is
spent. The events come from ``engine.progress``.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import Progress, TaskID, TextColumn, TimeElapsedColumn

from engine.cancel import clear_cancel, request_cancel
from engine.progress import ProgressEvent, observe


@dataclass
class _Module:
    started: float
    task: TaskID | None = None
    method: str = ""
    pages: int = 0
    #: pages expected in all (None: unknown); set to ``pages`` when the module is done
    expected: int | None = None
    rows: int = 0
    rejects: int = 0
    credits: int = 0
    more: bool = False

    def pages_text(self) -> str:
        """``done/expected``, ``?`` when unknown (or short: more pages follow than expected);
        ``-`` for a REST read, which has no pages."""
        if self.method == "rest" and not self.pages:
            return "-"
        expected = self.expected
        if expected is not None and self.pages + (1 if self.more else 0) > expected:
            expected = None
        return f"{self.pages}/{'?' if expected is None else expected}"


class _OursOnly(logging.Filter):
    """Our own warnings only: Prefect's records (tracebacks included) go to its API."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(("prefect", "httpx", "uvicorn"))


class RunProgress:
    """An ``engine.progress`` observer that draws on ``console`` (stderr)."""

    def __init__(self, console: Console, what: str) -> None:
        self.console = console
        self.what = what
        self.live = console.is_terminal
        self._modules: dict[str, _Module] = {}
        self._lock = threading.Lock()
        self.progress = Progress(
            TextColumn("{task.description:<24}"),
            TextColumn("{task.fields[state]:<9}"),
            TextColumn("pages {task.fields[pages]:>7}"),
            TextColumn("rows {task.fields[rows]:>9,}"),
            TextColumn("rejects {task.fields[rejects]:>5,}"),
            TextColumn("credits {task.fields[credits]:>5,}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
            refresh_per_second=4,
        )

    def __call__(self, event: ProgressEvent) -> None:
        if event.kind == "forecast":  # before anything is spent: print it as it is
            for line in event.lines:
                self.console.print(line, markup=False, highlight=False, soft_wrap=True)
            return
        name = f"{event.product} {event.module}"
        with self._lock:
            module = self._modules.setdefault(name, _Module(started=time.monotonic()))
            if event.kind == "started":
                module.expected = event.pages_expected
                module.method = event.method
            elif event.kind == "page":
                module.pages += 1
                module.rows += event.rows
                module.rejects += event.rejects
                module.credits += event.credits
                module.more = event.more
            elif event.kind == "finished":
                module.rows, module.rejects = event.rows, event.rejects
                module.credits = event.credits
                module.more, module.expected = False, module.pages
            state = {"started": "running", "page": "running", "finished": "done"}[event.kind]
            if self.live:
                self._draw(name, module, state)
            else:
                self._line(name, module, event)

    def _draw(self, name: str, module: _Module, state: str) -> None:
        fields: dict[str, Any] = {
            "state": state,
            "pages": module.pages_text(),
            "rows": module.rows,
            "rejects": module.rejects,
            "credits": module.credits,
        }
        if module.task is None:
            module.task = self.progress.add_task(name, total=None, **fields)
        else:
            self.progress.update(module.task, **fields)
        if state == "done":
            self.progress.stop_task(module.task)

    def _line(self, name: str, module: _Module, event: ProgressEvent) -> None:
        elapsed = time.monotonic() - module.started
        if event.kind == "started":
            text = f"{name}: started ({event.method}, pages {module.pages_text()})"
        elif event.kind == "page":
            more = ", more to come" if event.more else ", last page"
            text = (
                f"{name}: page {module.pages_text()} loaded: {event.rows:,} rows, "
                f"{event.rejects:,} rejected, {event.credits} credits{more} ({elapsed:.1f} s)"
            )
        else:
            text = (
                f"{name}: done: pages {module.pages_text()}, {module.rows:,} rows, "
                f"{module.rejects:,} rejected, {module.credits} credits ({elapsed:.1f} s)"
            )
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)


@contextmanager
def stop_on_ctrl_c(console: Console) -> Iterator[None]:
    """The first Ctrl-C asks the engine to stop cleanly (``engine.cancel``); a second one
    interrupts at once. Outside the block Ctrl-C is Python's ``KeyboardInterrupt`` again."""

    def first(signum: int, frame: FrameType | None) -> None:
        request_cancel()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        console.print("stopping at the next wait or committed page (Ctrl-C again: at once)")

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    clear_cancel()
    previous = signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def live_progress(what: str, *, verbose: bool = False) -> Iterator[RunProgress]:
    """Observe the run in this block; our warnings go through the same console."""
    console = Console(stderr=True)
    watcher = RunProgress(console, what)
    handler = RichHandler(console=console, show_path=False, rich_tracebacks=False)
    handler.setLevel(logging.INFO if verbose else logging.WARNING)
    handler.addFilter(_OursOnly())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        if watcher.live:
            with stop_on_ctrl_c(console), watcher.progress, observe(watcher):
                yield watcher
        else:
            console.print(f"{what} ...", markup=False, highlight=False)
            with stop_on_ctrl_c(console), observe(watcher):
                yield watcher
    finally:
        root.removeHandler(handler)
