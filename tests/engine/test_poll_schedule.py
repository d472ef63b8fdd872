"""Poll times planned from the module's earlier job times: the arithmetic, then over the
simulator (no durations asserted: only that no poll comes before the history allows)."""

from __future__ import annotations

import random

import pytest

from engine.extracts import DirectSteps, ExportOptions, export_module
from engine.ledger import ExtractRecord, JobRecord, utcnow
from engine.poll_schedule import JobTime, comparable, plan_polls, planned_polls, poll_offsets
from engine.runtime import Runtime
from engine.steps import BulkPageStep, run_step
from engine.summary import PageOutcome
from simulator.testing import SimServer
from tests.engine.jobrows import job


def test_a_page_of_52_credits_plans_three_polls_within_five_percent() -> None:
    assert planned_polls(52) == 3  # 50 create + 1 status + 1 download; 5 % = 2.6 credits
    assert planned_polls(52, overhead=0.0) == 1
    assert planned_polls(10_000) == 6  # never more than the budgeted polls of a job


def test_polls_sit_at_quantiles_the_last_past_the_longest_job() -> None:
    offsets = poll_offsets([10.0, 20.0, 30.0, 40.0], 3)
    assert len(offsets) == 3
    assert offsets == sorted(offsets)
    assert 10.0 < offsets[0] < 25.0
    assert offsets[-1] == pytest.approx(40.0 + 30.0 / 4)  # widened by range / n
    assert poll_offsets([], 3) == []
    assert poll_offsets([20.0], 2) == pytest.approx([20.0, 30.0])  # one sample: +-50 %


def test_jobs_drawn_from_the_same_spread_are_mostly_seen_within_the_planned_polls() -> None:
    rng = random.Random(17)
    late, polls = 0, 0
    trials = 2_000
    for _ in range(trials):
        history = [rng.uniform(20.0, 120.0) for _ in range(5)]
        offsets = poll_offsets(history, 3)
        job = rng.uniform(20.0, 120.0)
        seen = next((i + 1 for i, t in enumerate(offsets) if t >= job), None)
        if seen is None:
            late += 1
        else:
            polls += seen
    assert late / trials < 0.1  # slower than any planned poll: rare
    assert polls / (trials - late) < 2.6  # fewer than the 3.6 the 5 % allows (1 + 2.6)


def test_a_small_last_page_does_not_plan_the_next_full_page() -> None:
    history = [JobTime(30.0, 200_000), JobTime(2.0, 15), JobTime(40.0, 200_000)]
    assert comparable(history) == [30.0, 40.0]
    assert comparable([JobTime(30.0, 200_000), JobTime(2.0, 15)]) == [30.0, 2.0]
    assert comparable([JobTime(5.0), JobTime(6.0)]) == [5.0, 6.0]  # sizes unknown: all


def test_a_module_s_first_job_is_planned_from_the_org_s_other_modules(
    sim: SimServer, rt: Runtime
) -> None:
    records = dict(sim.state.config.records, Contacts=12_000, Leads=12_000)
    sim.state.configure(records=records, per_page=4_000, job_seconds=(1.0, 1.0))
    full = ExportOptions(mode="full", capture_deletes=False)
    export_module(rt, "crm", "Contacts", full, DirectSteps(rt))  # the org's job times
    assert rt.ledger.recent_completed_jobs(rt.org, "crm", "Leads") == []

    watched = WatchedSteps(rt)
    summary = export_module(rt, "crm", "Leads", full, watched)

    assert summary.rows_loaded == 12_000
    first = min(watched.polls.items(), key=lambda item: item[0])[1]
    # without a plan the client's backoff asks after poll_interval_s (0.05 s here); planned
    # from Contacts' jobs of >= 0.5 s, the first poll waits at least half of that
    assert first[0][0] >= 0.25
    assert len(first) <= 3


class WatchedSteps(DirectSteps):
    """Direct steps that note when each status call came, in seconds after its job's creation."""

    def __init__(self, rt: Runtime) -> None:
        super().__init__(rt)
        self.polls: dict[str, list[tuple[float, str]]] = {}

    def page(self, extract: ExtractRecord, job: JobRecord, allow_split: bool) -> PageOutcome:
        outcome: PageOutcome = run_step(
            self.rt, BulkPageStep(extract, job, allow_split), on_poll=self._seen
        )
        return outcome

    def _seen(self, job: JobRecord, state: str, count: int) -> None:
        assert job.created_at is not None
        after = (utcnow() - job.created_at).total_seconds()
        self.polls.setdefault(job.job_key, []).append((after, state))


def test_a_module_s_next_export_polls_its_jobs_no_sooner_than_its_job_times_allow(
    sim: SimServer, rt: Runtime
) -> None:
    # every job takes at least 1 s; 12,000 records: bulk (over REST's break-even), 3 pages
    records = dict(sim.state.config.records, Leads=12_000)
    sim.state.configure(records=records, per_page=4_000, job_seconds=(1.0, 1.0))
    full = ExportOptions(mode="full", capture_deletes=False)
    export_module(rt, "crm", "Leads", full, DirectSteps(rt))  # the job times to plan from
    history = rt.ledger.recent_completed_jobs(rt.org, "crm", "Leads")
    assert len(history) == 3
    # a time is the middle of the interval the polls bracket its end in (engine.page_wait):
    # a job of 1 s is recorded as no less than half of it
    assert all(j.job_seconds is not None and j.job_seconds >= 0.5 for j in history)

    watched = WatchedSteps(rt)
    summary = export_module(rt, "crm", "Leads", full, watched)

    assert summary.rows_loaded == 12_000
    assert len(watched.polls) == summary.bulk_jobs_created == 3
    for polls in watched.polls.values():
        # planned from job times of >= 0.5 s, the first poll waits at least half of that
        assert polls[0][0] >= 0.25
        assert [state for _, state in polls].count("COMPLETED") == 1
    engine_polls = sum(len(p) for p in watched.polls.values())
    assert summary.credits == 3 * (50 + 1) + engine_polls  # create + download + each poll


def test_a_job_that_ended_during_downtime_plans_nothing() -> None:
    # page 1 was created, the process was killed and re-run 12 minutes later: the job's end
    # was not watched, so it has a completion time but no job time
    resumed = job(1, 720.0, job_seconds=None)
    assert plan_polls([resumed]) == []
    offsets = plan_polls([resumed, job(1, 30.0, extract_id="e0")])
    assert offsets == pytest.approx([25.0, 35.0, 45.0])  # one sample of 30 s: 15-45 s
