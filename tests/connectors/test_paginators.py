from __future__ import annotations

from dataclasses import dataclass

import pytest

from connectors.bulk_query import BulkReadQuery
from connectors.bulk_read import JobResult
from connectors.errors import UnexpectedResponseError
from connectors.paginators import BulkReadPaginator, RestPagePaginator, next_bulk_query
from connectors.products import BulkPaging
from connectors.rest_records import RecordPage


def result(page: int, more: bool, token: str | None = None) -> JobResult:
    return JobResult(
        page=page, count=10, more_records=more, download_url="/x", next_page_token=token
    )


def test_crm_follows_the_token_chain_and_keeps_the_query() -> None:
    p = BulkReadPaginator(BulkPaging.PAGE_TOKEN)
    query = BulkReadQuery("Leads", fields=("Id", "Last_Name"))
    p.update_state(result(1, True, "t2"))
    second = p.update_request(query)
    assert (second.page, second.page_token, second.fields) == (2, "t2", ("Id", "Last_Name"))
    p.update_state(result(2, True, "t3"))
    third = p.update_request(second)
    assert (third.page, third.page_token, p.has_next_page) == (3, "t3", True)
    p.update_state(result(3, False))
    assert not p.has_next_page


def test_recruit_pages_by_number_even_when_a_token_comes_back() -> None:
    p = BulkReadPaginator(BulkPaging.PAGE)
    p.update_state(result(1, True, "ignored"))
    nxt = p.update_request(BulkReadQuery("Candidates"))
    assert (nxt.page, nxt.page_token) == (2, None)


def test_crm_answer_without_a_token_asks_for_the_next_page_number() -> None:
    query = BulkReadQuery("Leads", page=3, page_token="t3")
    nxt = next_bulk_query(query, result(3, True, None), BulkPaging.PAGE_TOKEN)
    assert nxt is not None
    assert (nxt.page, nxt.page_token) == (4, None)


def test_last_page_and_missing_result_end_the_walk() -> None:
    query = BulkReadQuery("Leads")
    assert next_bulk_query(query, result(5, False, "stale"), BulkPaging.PAGE_TOKEN) is None
    assert next_bulk_query(query, None, BulkPaging.PAGE_TOKEN) is None


@dataclass(frozen=True)
class Row:
    """Any record with the cursor's three fields is a cursor (the ledger's ``JobRecord`` is)."""

    page: int
    more_records: bool | None
    next_page_token: str | None


def test_an_unknown_more_records_means_no_next_page() -> None:
    p = BulkReadPaginator(BulkPaging.PAGE_TOKEN)
    p.update_state(Row(page=1, more_records=None, next_page_token="t2"))
    assert not p.has_next_page


def rest_page(page: int, more: bool, token: str | None = None) -> RecordPage:
    return RecordPage("Leads", page, (), more, token)


def test_rest_walk_numbers_pages_then_switches_to_tokens() -> None:
    p = RestPagePaginator(rest_page_token=True, path="/crm/v8/Leads")
    base = {"per_page": 200}
    assert p.update_request(base) == {"per_page": 200, "page": 1}
    p.update_state(rest_page(1, True))
    assert p.update_request(base) == {"per_page": 200, "page": 2}
    p.update_state(rest_page(2, True, "tok"))
    assert p.update_request(base) == {"per_page": 200, "page_token": "tok"}
    assert base == {"per_page": 200}  # the caller's parameters are not changed
    p.update_state(rest_page(3, False))
    assert not p.has_next_page


def test_rest_token_walk_without_a_token_is_an_unexpected_answer() -> None:
    p = RestPagePaginator(rest_page_token=True, path="/crm/v8/Leads")
    p.update_state(rest_page(1, True, "tok"))
    with pytest.raises(UnexpectedResponseError, match="no next_page_token"):
        p.update_state(rest_page(2, True, None))


def test_recruit_rest_walk_ignores_tokens() -> None:
    p = RestPagePaginator(rest_page_token=False)
    p.update_state(rest_page(1, True, "tok"))
    assert p.update_request({}) == {"page": 2}
