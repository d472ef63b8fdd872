"""The environment of a write-back CLI child process in crash tests."""

from __future__ import annotations

import os


def cli_env(failpoint: str | None, **extra: str) -> dict[str, str]:
    """This process's environment with fast polls, quiet Prefect and ``failpoint`` armed."""
    env = {k: v for k, v in os.environ.items() if k != "ZOHO_ETL_FAILPOINTS"}
    env.update(PREFECT_LOGGING_LEVEL="WARNING", ZOHO_ETL_POLL_INTERVAL="0.05", **extra)
    if failpoint:
        env["ZOHO_ETL_FAILPOINTS"] = failpoint
    return env
