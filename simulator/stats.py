"""Counters that tests and benchmarks read: calls, jobs, polls, downloads, credits, tokens."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class SimStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()  # "POST /{dc}/api/crm/bulk/v8/read"
        self.jobs_created: Counter[str] = Counter()  # "us-enterprise/crm/Leads"
        self.polls: Counter[str] = Counter()  # job id -> status calls
        self.downloads: Counter[str] = Counter()  # job id -> download calls (incl. refused)
        self.credits_used: Counter[str] = Counter()  # org key -> credits
        self.tokens_issued: Counter[str] = Counter()  # org key -> access tokens
        self.errors: Counter[str] = Counter()  # Zoho error code -> count
        self.callbacks: Counter[str] = Counter()  # job id -> callbacks delivered

    def count(self, counter: Counter[str], key: str, amount: int = 1) -> None:
        with self._lock:
            counter[key] += amount

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": dict(self.calls),
                "jobs_created": dict(self.jobs_created),
                "polls": dict(self.polls),
                "downloads": dict(self.downloads),
                "credits_used": dict(self.credits_used),
                "tokens_issued": dict(self.tokens_issued),
                "errors": dict(self.errors),
                "callbacks": dict(self.callbacks),
                "total_calls": sum(self.calls.values()),
                "total_jobs": sum(self.jobs_created.values()),
            }
