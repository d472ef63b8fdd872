"""Where a page walk stands: one protocol for every walk over Zoho's pages.

Modelled on dlt's ``rest_client/paginators.py``. A paginator reads each answer
(``update_state``), writes the next request (``update_request``) and says whether there is
another page (``has_next_page``); the caller owns the loop. The same objects drive
``BulkReadClient.iter_pages``, the REST walk of ``RestRecordsClient`` and the engine's
ledger-driven walk (a ledger ``JobRecord`` is a :class:`PageCursor` too, so the ledger row is
the paginator's persisted state).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

from connectors.bulk_query import BulkReadQuery
from connectors.errors import UnexpectedResponseError
from connectors.products import BulkPaging

Request = TypeVar("Request")


class PageCursor(Protocol):
    """What an answer says about the walk: a bulk ``JobResult``, a REST ``RecordPage``, a
    ledger ``JobRecord``."""

    @property
    def page(self) -> int: ...

    @property
    def more_records(self) -> bool | None: ...

    @property
    def next_page_token(self) -> str | None: ...


class Paginator(Protocol[Request]):
    """Reads answers, writes the next request, says whether there is one."""

    @property
    def has_next_page(self) -> bool: ...

    def update_state(self, answer: PageCursor) -> None: ...

    def update_request(self, request: Request) -> Request: ...


@dataclass
class BulkReadPaginator:
    """Bulk read pages: the next ``page_token`` (CRM) or the next page number (Recruit).

    A CRM answer with ``more_records`` but no token asks for the next page number.
    """

    paging: BulkPaging
    page: int = 1
    page_token: str | None = None
    has_next_page: bool = True

    def update_state(self, answer: PageCursor) -> None:
        self.has_next_page = bool(answer.more_records)
        self.page = answer.page + 1
        token = answer.next_page_token if self.paging is BulkPaging.PAGE_TOKEN else None
        self.page_token = token or None

    def update_request(self, request: BulkReadQuery) -> BulkReadQuery:
        return replace(request, page=self.page, page_token=self.page_token)


@dataclass
class RestPagePaginator:
    """REST Get Records pages: page numbers, then ``page_token`` once Zoho hands one out
    (CRM v8, past 2,000 records); Recruit pages by number only.

    Once the walk is on tokens, an answer with ``more_records`` but no token cannot be
    continued: :class:`UnexpectedResponseError` (``path`` names the call).
    """

    rest_page_token: bool
    path: str = ""
    page: int = 1
    token: str | None = None
    has_next_page: bool = True

    def update_state(self, answer: PageCursor) -> None:
        if not answer.more_records:
            self.has_next_page = False
            return
        if self.rest_page_token and answer.next_page_token:
            self.token = answer.next_page_token
        elif self.token is not None:
            raise UnexpectedResponseError(
                "more_records is true but the page-token walk got no next_page_token",
                method="GET",
                path=self.path,
            )
        self.page += 1

    def update_request(self, request: Mapping[str, Any]) -> dict[str, Any]:
        params = dict(request)
        if self.token is not None:
            params["page_token"] = self.token
        else:
            params["page"] = self.page
        return params


def next_bulk_query(
    query: BulkReadQuery, answer: PageCursor | None, paging: BulkPaging
) -> BulkReadQuery | None:
    """The query of the page after ``answer``'s, or None when it was the last page."""
    if answer is None:
        return None
    paginator = BulkReadPaginator(paging)
    paginator.update_state(answer)
    return paginator.update_request(query) if paginator.has_next_page else None
