from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from connectors.credits import CallType
from connectors.errors import QueryValidationError, UnexpectedResponseError
from connectors.products import CRM, RECRUIT, Product
from connectors.rest_records import RestRecordsClient, http_datetime
from tests.connectors.fakes import BASE, Call, FakeZoho, Reply
from tests.connectors.fakes import client as http_client

RECORDS = [{"id": str(i), "Last_Name": f"N{i}"} for i in range(7)]


def paged(per_page: int, discrete_limit: int, token: bool) -> Any:
    """Pages by ``page`` up to ``discrete_limit`` records, then only by ``page_token``."""

    def handler(call: Call) -> Reply:
        if "page_token" in call.query:
            start = int(call.query["page_token"][0].removeprefix("t"))
        else:
            page = int(call.query.get("page", ["1"])[0])
            start = (page - 1) * per_page
            if start >= discrete_limit:
                return Reply(
                    400,
                    {
                        "status": "error",
                        "code": "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
                        "message": "use page_token",
                        "details": {},
                    },
                )
        chunk = RECORDS[start : start + per_page]
        more = start + per_page < len(RECORDS)
        info: dict[str, Any] = {
            "per_page": per_page,
            "count": len(chunk),
            "page": start // per_page + 1,
            "more_records": more,
        }
        if more and token:
            info["next_page_token"] = f"t{start + per_page}"
        return Reply(200, {"data": chunk, "info": info})

    return handler


def make(product: Product, handler: Any, path: str) -> tuple[FakeZoho, RestRecordsClient]:
    fake = FakeZoho()
    fake.route("GET", path, handler)
    return fake, RestRecordsClient(http_client(fake), product, lambda: BASE)


def test_crm_follows_page_tokens_past_the_discrete_limit() -> None:
    fake, client = make(CRM, paged(2, 2, token=True), "/crm/v8/Leads")
    since = datetime(2025, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    pages = list(
        client.iter_pages("Leads", fields=("Last_Name",), modified_since=since, per_page=2)
    )
    assert [len(p.records) for p in pages] == [2, 2, 2, 1]
    records = client.iter_records("Leads", fields=("Email",), per_page=2)
    assert [r["id"] for r in records] == [str(i) for i in range(7)]
    first, second = fake.calls[1], fake.calls[2]
    assert first.query == {"per_page": ["2"], "fields": ["Last_Name"], "page": ["1"]}
    assert first.headers["If-Modified-Since"] == "2025-01-01T12:00:00+05:30"
    assert second.query["page_token"] == ["t2"]
    assert "page" not in second.query


def test_recruit_pages_by_number() -> None:
    fake, client = make(RECRUIT, paged(3, 100, token=False), "/recruit/v2/Candidates")
    pages = list(client.iter_pages("Candidates", per_page=3))
    assert [p.page for p in pages] == [1, 2, 3]
    assert [c.query.get("page") for c in fake.calls[1:]] == [["1"], ["2"], ["3"]]
    assert client.http.meter.report().calls == {CallType.GET_RECORDS.value: 3}


def test_no_content_means_no_records() -> None:
    _, client = make(CRM, lambda c: Reply(204, raw=b""), "/crm/v8/Leads")
    assert list(client.iter_records("Leads", fields=("Email",))) == []


def test_deleted_records() -> None:
    deleted = [{"id": "9", "type": "recycle", "deleted_time": "2025-01-02T00:00:00+00:00"}]
    fake, client = make(
        CRM,
        lambda c: Reply(200, {"data": deleted, "info": {"more_records": False}}),
        "/crm/v8/Leads/deleted",
    )
    assert list(client.iter_deleted("Leads", kind="recycle")) == deleted
    assert fake.calls[-1].query["type"] == ["recycle"]


def test_max_pages_and_bad_answers() -> None:
    _, client = make(CRM, paged(2, 100, token=True), "/crm/v8/Leads")
    assert len(list(client.iter_pages("Leads", fields=("A",), per_page=2, max_pages=2))) == 2
    _, broken = make(CRM, lambda c: Reply(200, {"records": []}), "/crm/v8/Leads")
    with pytest.raises(UnexpectedResponseError, match="data"):
        list(broken.iter_pages("Leads", fields=("A",)))
    with pytest.raises(QueryValidationError, match="needs a field list"):
        list(client.iter_pages("Leads"))
    with pytest.raises(QueryValidationError, match="at most 50"):
        list(client.iter_pages("Leads", fields=tuple(f"F{i}" for i in range(51))))


def test_if_modified_since_needs_a_timezone() -> None:
    with pytest.raises(ValueError, match="timezone"):
        http_datetime(datetime(2025, 1, 1))
    assert http_datetime(datetime(2025, 1, 1, tzinfo=UTC)) == "2025-01-01T00:00:00+00:00"
