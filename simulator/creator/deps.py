"""The dependency every Creator route uses: token, scope, environment, limits, faults.

``creator_call(scope, endpoint)`` authenticates the ``Authorization`` header for the data
centre in the path (401 / 1030 otherwise), checks the OAuth scope (401 / 2945), counts the call
in the endpoint's minute window (429 / 2955 past 50) and against the account's daily Developer
API allowance (HTTP 200 / 4000 once spent), applies ``delay`` faults and returns a
``CreatorCall``. Calls refused by a limit are not counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from simulator.config import OrgSpec
from simulator.creator import errors
from simulator.creator.state import CreatorAccount, CreatorState, creator_state
from simulator.deps import check_dc, inner_path, sim_state
from simulator.errors import ZohoApiError
from simulator.state import SimState

PREFIX = "/{dc}/api/creator/v2.1"
ENVIRONMENTS = ("development", "stage")


@dataclass(frozen=True)
class CreatorCall:
    sim: SimState
    creator: CreatorState
    org: OrgSpec
    account: CreatorAccount
    dc: str
    path: str  # below /{dc}/api, e.g. /creator/v2.1/data/jason18/order-desk/report/All_Orders


def creator_call(scope: str, endpoint: str, *, bulk: bool = False) -> Callable[..., CreatorCall]:
    """A dependency for one Creator endpoint needing ``ZohoCreator.{scope}``."""

    def dependency(request: Request, dc: str) -> CreatorCall:
        check_dc(dc)
        sim = sim_state(request)
        creator = creator_state(sim)
        try:
            org_key = sim.tokens.validate(request.headers.get("Authorization"), dc)
        except ZohoApiError:
            raise errors.invalid_token() from None
        org = sim.org(org_key)
        account = creator.account(org)
        if f"ZohoCreator.{scope}" not in creator.granted(org_key):
            raise errors.invalid_scope()
        environment = request.headers.get("environment")
        if environment is not None and environment not in ENVIRONMENTS:
            raise errors.invalid_input("environment", "use development or stage")
        config = creator.config
        if not creator.minute.take(f"{org_key}|{endpoint}", config.per_minute):
            raise errors.per_minute_limit()
        counted = not bulk or config.bulk_calls_count
        allowance = account.daily_allowance
        if counted and not creator.daily.take(org_key, org.utc_offset_minutes, allowance):
            raise errors.daily_limit()
        path = inner_path(request.url.path)
        delay = sim.faults.take("delay", path, org_key)
        if delay is not None:
            time.sleep(delay.seconds)
        return CreatorCall(sim, creator, org, account, dc, path)

    return dependency
