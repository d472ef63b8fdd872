"""Helpers for the Creator connector tests: a client on the simulator, fast polls and retries."""

from __future__ import annotations

from connectors.bulk_read import PollPolicy
from connectors.creator import CreatorClient
from connectors.creator_bulk import CreatorBulkReader
from connectors.credits import CreditMeter
from connectors.datacenters import Endpoints
from connectors.retry import RetryPolicy
from simulator.config import DEFAULT_ORGS, OrgSpec
from simulator.creator.state import CreatorState, creator_state
from simulator.testing import SimServer
from tests.connectors.simhelpers import FAST_POLL, FAST_RETRY, credentials

US = DEFAULT_ORGS[0]
OWNER = "jason18"
ORDERS = ("order-desk", "All_Orders")


def creator_client(
    sim: SimServer,
    org: OrgSpec = US,
    *,
    meter: CreditMeter | None = None,
    retry: RetryPolicy = FAST_RETRY,
) -> CreatorClient:
    endpoints = Endpoints.for_simulator(sim.base_url, org.dc)
    return CreatorClient.connect(credentials(org), endpoints=endpoints, meter=meter, retry=retry)


def bulk_reader(client: CreatorClient, poll: PollPolicy = FAST_POLL) -> CreatorBulkReader:
    return CreatorBulkReader(client, poll)


def sim_creator(sim: SimServer) -> CreatorState:
    state = creator_state(sim.state)
    state.configure(job_seconds=(0.0, 0.0))
    return state
