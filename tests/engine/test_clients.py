"""The clients of one run: the default status polling."""

from __future__ import annotations

from engine.settings import RunSettings


def test_default_polling_spends_five_status_calls_on_a_two_minute_job() -> None:
    # Status polls cost a credit each; Zoho bulk jobs take tens of seconds to minutes. The
    # defaults poll at 5, 15, 35, 75 and 135 s: a 120 s job costs 5 polls (1 s x 1.5 took 11).
    from connectors.bulk_read import PollPolicy
    from engine.clients import POLL_BACKOFF

    settings = RunSettings()
    policy = PollPolicy(
        initial=settings.poll_interval_s,
        factor=POLL_BACKOFF,
        max_interval=settings.poll_max_interval_s,
    )
    elapsed, polls = 0.0, []
    for interval in policy.intervals():
        elapsed += interval
        polls.append(elapsed)
        if elapsed >= 120:
            break
    assert polls == [5, 15, 35, 75, 135]
