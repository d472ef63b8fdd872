from __future__ import annotations

from dataclasses import replace

from connectors.products import BulkPaging
from engine.page_jobs import next_page_query
from tests.engine.jobrows import job


def test_the_ledger_row_is_the_paginators_state() -> None:
    done = job(2, 3.0, query={"module": "Leads", "page": 2, "page_token": "t2"})
    done = replace(done, more_records=True, next_page_token="t3")
    nxt = next_page_query(done, BulkPaging.PAGE_TOKEN)
    assert (nxt.module, nxt.page, nxt.page_token) == ("Leads", 3, "t3")
    assert next_page_query(done, BulkPaging.PAGE).page_token is None
