"""One recovery vocabulary for every package (the tree is in ``recovery.errors``)."""

from __future__ import annotations

from recovery.errors import (
    EtlError,
    PicklableByState,
    SkippableError,
    TerminalError,
    TransientError,
    is_transient,
    recovery_class,
)

__all__ = [
    "EtlError",
    "PicklableByState",
    "SkippableError",
    "TerminalError",
    "TransientError",
    "is_transient",
    "recovery_class",
]
