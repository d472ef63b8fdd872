"""REST Get Records and deleted records, for small deltas where a 50-credit bulk job is waste.

``GET {base}/crm/v8/{module}?fields=...&per_page=200`` (``reference/002_*.txt``) answers
``{"data": [...], "info": {"page", "per_page", "count", "more_records", "next_page_token"}}``
or 204 when nothing matches. ``If-Modified-Since`` restricts it to records changed since a
time. CRM v8 needs ``page_token`` past 2,000 records (``info.next_page_token``); Recruit pages
by ``page`` only. ``GET .../{module}/deleted?type=all|recycle|permanent`` lists deletions in
the same envelope.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from connectors.credits import CallType
from connectors.errors import QueryValidationError, UnexpectedResponseError
from connectors.http import ZohoHttp
from connectors.paginators import RestPagePaginator
from connectors.products import Product

log = logging.getLogger("connectors.rest_records")

DeletedKind = Literal["all", "recycle", "permanent"]


@dataclass(frozen=True)
class RecordPage:
    """One page of REST records (or deleted-record entries)."""

    module: str
    page: int
    records: tuple[Mapping[str, Any], ...]
    more_records: bool
    next_page_token: str | None


def http_datetime(value: datetime) -> str:
    """ISO 8601 with offset, seconds precision (the ``If-Modified-Since`` form Zoho shows)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("If-Modified-Since needs a timezone-aware datetime")
    return value.isoformat(timespec="seconds")


class RestRecordsClient:
    """Get Records / deleted records of one org and product, page by page."""

    def __init__(self, http: ZohoHttp, product: Product, base_url: Callable[[], str]) -> None:
        self.http = http
        self.product = product
        self._base_url = base_url

    def iter_pages(
        self,
        module: str,
        *,
        fields: Sequence[str] = (),
        modified_since: datetime | None = None,
        cvid: str | None = None,
        per_page: int | None = None,
        max_pages: int | None = None,
    ) -> Iterator[RecordPage]:
        """Pages of ``module``'s records (only those modified since ``modified_since``).

        CRM v8 requires ``fields`` (at most 50 per call); Recruit returns every field.
        """
        if self.product.rest_fields_required and not fields:
            raise QueryValidationError(
                f"{self.product.label} Get Records needs a field list for {module}",
                code="REQUIRED_PARAM_MISSING",
                details={"param_name": "fields"},
            )
        if len(fields) > self.product.rest_max_fields:
            raise QueryValidationError(
                f"{len(fields)} fields requested for {module}; {self.product.label} Get Records "
                f"takes at most {self.product.rest_max_fields}",
                code="LIMIT_EXCEEDED",
                details={"max_limit": self.product.rest_max_fields},
            )
        params: dict[str, Any] = {"per_page": per_page or self.product.rest_per_page}
        if fields:
            params["fields"] = ",".join(fields)
        if cvid:
            params["cvid"] = cvid
        call_type = CallType.GET_RECORDS_CVID if cvid else CallType.GET_RECORDS
        path = self.product.records_path.format(module=module)
        yield from self._walk(module, path, params, modified_since, call_type, max_pages)

    def iter_records(self, module: str, **kw: Any) -> Iterator[Mapping[str, Any]]:
        for page in self.iter_pages(module, **kw):
            yield from page.records

    def iter_deleted_pages(
        self,
        module: str,
        *,
        kind: DeletedKind = "all",
        modified_since: datetime | None = None,
        per_page: int | None = None,
        max_pages: int | None = None,
    ) -> Iterator[RecordPage]:
        """Pages of deleted-record entries (``id``, ``deleted_time``, ``type``, ...)."""
        params: dict[str, Any] = {"type": kind, "per_page": per_page or self.product.rest_per_page}
        path = self.product.deleted_records_path.format(module=module)
        yield from self._walk(
            module, path, params, modified_since, CallType.DELETED_RECORDS, max_pages
        )

    def iter_deleted(self, module: str, **kw: Any) -> Iterator[Mapping[str, Any]]:
        for page in self.iter_deleted_pages(module, **kw):
            yield from page.records

    def _walk(
        self,
        module: str,
        path: str,
        base_params: Mapping[str, Any],
        modified_since: datetime | None,
        call_type: CallType,
        max_pages: int | None,
    ) -> Iterator[RecordPage]:
        headers = {}
        if modified_since is not None:
            headers["If-Modified-Since"] = http_datetime(modified_since)
        url = self._base_url() + path
        paginator = RestPagePaginator(self.product.rest_page_token, path=url)
        fetched = 0
        while paginator.has_next_page and (max_pages is None or fetched < max_pages):
            params = paginator.update_request(base_params)
            payload = self.http.request_json(
                "GET", url, call_type=call_type, params=params, headers=headers
            )
            fetched += 1
            page = _parse_page(module, payload, paginator.page, url)
            yield page
            paginator.update_state(page)


def _parse_page(module: str, payload: Any, page_number: int, url: str) -> RecordPage:
    if payload == {}:  # 204 No Content / 304 Not Modified: nothing (new) to return
        return RecordPage(module, page_number, (), False, None)
    data = payload.get("data") if isinstance(payload, Mapping) else None
    if not isinstance(data, list):
        raise UnexpectedResponseError(
            f"records of {module!r}: expected a 'data' list", method="GET", path=url
        )
    info = payload.get("info") if isinstance(payload.get("info"), Mapping) else {}
    more = info.get("more_records")
    return RecordPage(
        module=module,
        page=int(info.get("page") or page_number),
        records=tuple(r for r in data if isinstance(r, Mapping)),
        more_records=(more is True or str(more).lower() == "true"),
        next_page_token=info.get("next_page_token") or None,
    )
