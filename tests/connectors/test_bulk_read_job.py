"""A bulk read job's state: every spelling Zoho uses."""

from __future__ import annotations

import pytest

from connectors.bulk_read_job import JobState


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("ADDED", JobState.ADDED),
        ("QUEUED", JobState.QUEUED),
        ("IN PROGRESS", JobState.IN_PROGRESS),
        ("INPROGRESS", JobState.IN_PROGRESS),
        ("in_progress", JobState.IN_PROGRESS),
        ("COMPLETED", JobState.COMPLETED),
        ("FAILURE", JobState.FAILED),
        ("FAILED", JobState.FAILED),
        ("SOMETHING_NEW", JobState.IN_PROGRESS),
    ],
)
def test_every_state_spelling(raw: str, state: JobState) -> None:
    assert JobState.parse(raw) is state
