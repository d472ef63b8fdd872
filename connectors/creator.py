"""``CreatorClient``: Zoho Creator v2.1 over the shared HTTP core, one method per endpoint.

    client = CreatorClient(http, api_domain)          # api_domain: the token's, or the simulator's
    apps = client.applications()
    for page in client.iter_records("jason18", "order-desk", "All_Orders", criteria=...): ...
    summary = client.delete_records("jason18", "order-desk", "All_Orders", 'Status == "Closed"')

Every answer's numeric ``code`` is checked (the daily cap arrives as HTTP 200 / 4000) and
mapped by ``creator_errors.creator_error``. 429 and 5xx are retried by ``ZohoHttp``. A 401 / 1030
(token invalid or expired: a code the shared core does not know) refreshes the token once and
replays the call. Bulk read lives in ``connectors.creator_bulk``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests

from connectors.auth import OAuthCredentials, TokenManager
from connectors.creator_api import (
    APPLICATIONS_PATH,
    CREATOR_COSTS,
    CREATOR_DATA_CENTRES,
    DELETE_BATCH,
    FIELDS_PATH,
    FORMS_PATH,
    NO_FORMS,
    NO_RECORDS,
    NO_REPORTS,
    OWNER_APPLICATIONS_PATH,
    PAGE_SIZES,
    RECORD_FAILED,
    RECORDS_PATH,
    REPORTS_PATH,
)
from connectors.creator_errors import CreatorNoRecordsError, creator_error
from connectors.credits import CallType, CreditMeter
from connectors.datacenters import Endpoints
from connectors.errors import QueryValidationError, UnexpectedResponseError
from connectors.http import ZohoHttp, url_path
from connectors.responses import json_or_none
from connectors.retry import RetryPolicy

log = logging.getLogger("connectors.creator")

#: statuses whose Creator body this client reads itself (429 and 5xx stay with ZohoHttp)
CREATOR_STATUSES = frozenset({200, 201, 400, 401, 403, 404, 405})
FIELD_CONFIGS = ("quick_view", "detail_view", "custom", "all")


@dataclass(frozen=True)
class CreatorApplication:
    link_name: str
    name: str
    owner: str
    date_format: str
    time_zone: str


@dataclass(frozen=True)
class CreatorField:
    link_name: str
    display_name: str
    type: int
    choices: tuple[str, ...] = ()


@dataclass
class DeleteSummary:
    """What a criteria delete did: calls made, IDs deleted, per-record failures."""

    calls: int = 0
    deleted: list[str] = field(default_factory=list)
    failed: list[tuple[str, int, str]] = field(default_factory=list)  # (ID, code, message)
    nothing_matched: bool = False
    #: the last call's ``more_records`` (records past its 200 still match)
    more_records: bool = False


class CreatorClient:
    """One Creator account behind one ``ZohoHttp`` (token, meter, retries)."""

    def __init__(self, http: ZohoHttp, api_domain: str) -> None:
        if not api_domain.startswith(("http://", "https://")):
            raise ValueError(f"api_domain must be an http(s) URL, got {api_domain!r}")
        self.http = http
        self.api_domain = api_domain.rstrip("/")

    @classmethod
    def connect(
        cls,
        credentials: OAuthCredentials,
        *,
        dc: str = "us",
        endpoints: Endpoints | None = None,
        meter: CreditMeter | None = None,
        retry: RetryPolicy | None = None,
    ) -> CreatorClient:
        """A client for one account: tokens from the data centre's accounts server, calls to
        the token's ``api_domain``. ``meter`` defaults to Creator's costs with no budget (pass
        ``CreatorAllowance(...).meter(used_today)`` to stop before the daily cap)."""
        if endpoints is None:
            if dc.lower() not in CREATOR_DATA_CENTRES:
                known = ", ".join(sorted(CREATOR_DATA_CENTRES))
                raise ValueError(f"Zoho Creator is not known in data centre {dc!r}; known: {known}")
            endpoints = Endpoints.for_dc(dc)
        tokens = TokenManager(credentials, endpoints.accounts, retry=retry)
        http = ZohoHttp(
            tokens,
            meter or CreditMeter(CREATOR_COSTS),
            trusted_origins=endpoints.trusted_origins(),
            retry=retry,
        )
        return cls(http, endpoints.crm_api_for(tokens.api_domain))

    def url(self, template: str, **parts: str) -> str:
        quoted = {k: quote(v, safe="") for k, v in parts.items()}
        return self.api_domain + template.format(**quoted)

    # -- one call ---------------------------------------------------------------------
    def call(
        self, method: str, url: str, *, call_type: CallType, **kw: Any
    ) -> tuple[requests.Response, Any]:
        """Send a call and return it with its JSON body, or raise the error its code means."""
        headers = {"accept": "application/json", **kw.pop("headers", {})}
        response = self._send(method, url, call_type, headers, kw)
        payload = json_or_none(response)
        if response.status_code == 401 and _code(payload) == 1030 and self.http.tokens:
            log.info(
                "%s %s: Creator rejected the token (1030); refreshing once", method, url_path(url)
            )
            self.http.tokens.refresh_after_rejection(self.http.tokens.token())
            response = self._send(method, url, call_type, headers, kw)
            payload = json_or_none(response)
        error = creator_error(response.status_code, payload, method=method, path=url_path(url))
        if error is not None:
            raise error
        return response, payload

    def _send(
        self,
        method: str,
        url: str,
        call_type: CallType,
        headers: dict[str, str],
        kw: dict[str, Any],
    ) -> requests.Response:
        return self.http.request(
            method, url, call_type=call_type, headers=headers, ok_statuses=CREATOR_STATUSES, **kw
        )

    def _json(self, url: str, call_type: CallType, **kw: Any) -> Mapping[str, Any]:
        _, payload = self.call("GET", url, call_type=call_type, **kw)
        if not isinstance(payload, Mapping):
            raise UnexpectedResponseError("expected a JSON object", method="GET", path=url)
        return payload

    # -- meta ---------------------------------------------------------------------------
    def applications(self, owner: str | None = None) -> list[CreatorApplication]:
        url = (
            self.url(OWNER_APPLICATIONS_PATH, owner=owner) if owner else self.url(APPLICATIONS_PATH)
        )
        apps = self._json(url, CallType.METADATA).get("applications") or []
        return [
            CreatorApplication(
                link_name=str(a["link_name"]),
                name=str(a.get("application_name") or a["link_name"]),
                owner=str(a.get("workspace_name") or a.get("created_by") or owner or ""),
                date_format=str(a.get("date_format") or "dd-MMM-yyyy"),
                time_zone=str(a.get("time_zone") or "UTC"),
            )
            for a in apps
        ]

    def reports(self, owner: str, app: str) -> list[dict[str, Any]]:
        payload = self._json(self.url(REPORTS_PATH, owner=owner, app=app), CallType.METADATA)
        return [] if _code(payload) == NO_REPORTS else list(payload.get("reports") or [])

    def forms(self, owner: str, app: str) -> list[dict[str, Any]]:
        payload = self._json(self.url(FORMS_PATH, owner=owner, app=app), CallType.METADATA)
        return [] if _code(payload) == NO_FORMS else list(payload.get("forms") or [])

    def fields(self, owner: str, app: str, form: str) -> list[CreatorField]:
        url = self.url(FIELDS_PATH, owner=owner, app=app, form=form)
        return [
            CreatorField(
                link_name=str(f["link_name"]),
                display_name=str(f.get("display_name") or f["link_name"]),
                type=int(f.get("type") or 1),
                choices=tuple(str(c.get("value", c.get("key"))) for c in f.get("choices") or []),
            )
            for f in self._json(url, CallType.METADATA).get("fields") or []
        ]

    # -- Get Records --------------------------------------------------------------------
    def iter_records(
        self,
        owner: str,
        app: str,
        report: str,
        *,
        criteria: str | None = None,
        field_config: str = "detail_view",
        fields: Sequence[str] | None = None,
        max_records: int = 1000,
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of records, following the ``record_cursor`` header (params re-sent each time).
        No match (3100) is an empty iteration."""
        if max_records not in PAGE_SIZES:
            raise QueryValidationError(
                f"max_records must be one of {PAGE_SIZES}, got {max_records}"
            )
        if field_config not in FIELD_CONFIGS:
            raise QueryValidationError(f"field_config must be one of {FIELD_CONFIGS}")
        params: dict[str, str] = {"field_config": field_config, "max_records": str(max_records)}
        if fields:
            params.update(field_config="custom", fields=",".join(fields))
        if criteria is not None:
            params["criteria"] = criteria
        url = self.url(RECORDS_PATH, owner=owner, app=app, report=report)
        cursor: str | None = None
        while True:
            headers = {"record_cursor": cursor} if cursor else {}
            try:
                response, payload = self.call(
                    "GET", url, call_type=CallType.GET_RECORDS, params=params, headers=headers
                )
            except CreatorNoRecordsError:
                return
            yield list(payload.get("data") or [])
            cursor = response.headers.get("record_cursor")
            if not cursor:
                return

    # -- Delete Records -----------------------------------------------------------------
    def delete_records(
        self,
        owner: str,
        app: str,
        report: str,
        criteria: str,
        *,
        skip_workflow: Sequence[str] = (),
        max_calls: int | None = None,
    ) -> DeleteSummary:
        """Delete every record matching ``criteria``, 200 per call with
        ``process_until_limit=true``, until ``more_records`` is false or a call deletes nothing
        (records failing with 3001 match again on every pass). 3100 means nothing (more) to do."""
        if not criteria.strip():
            raise QueryValidationError("a Creator delete needs a criteria (all records: 'ID != 0')")
        url = self.url(RECORDS_PATH, owner=owner, app=app, report=report)
        body: dict[str, Any] = {"criteria": criteria}
        if skip_workflow:
            body["skip_workflow"] = list(skip_workflow)
        summary = DeleteSummary()
        while max_calls is None or summary.calls < max_calls:
            summary.calls += 1
            try:
                _, payload = self.call(
                    "DELETE",
                    url,
                    call_type=CallType.RECORD_WRITE,
                    params={"process_until_limit": "true"},
                    json=body,
                )
            except CreatorNoRecordsError:
                summary.nothing_matched = summary.calls == 1
                break
            deleted = _collect(payload, summary, url)
            summary.more_records = bool(payload.get("more_records", False))
            log.info(
                "DELETE %s: %d deleted, %d failed", url_path(url), deleted, len(summary.failed)
            )
            if deleted == 0 or not payload.get("more_records", False):
                break
        return summary


def _collect(payload: Mapping[str, Any], summary: DeleteSummary, url: str) -> int:
    results = payload.get("result")
    if not isinstance(results, list) or len(results) > DELETE_BATCH:
        raise UnexpectedResponseError(
            "a delete answer without a result list", method="DELETE", path=url
        )
    deleted = 0
    for entry in results:
        record_id = str((entry.get("data") or {}).get("ID", ""))
        code = _code(entry)
        if code == 3000:
            summary.deleted.append(record_id)
            deleted += 1
        elif record_id not in {failed[0] for failed in summary.failed}:
            reason = entry.get("error") or entry.get("message") or ""
            text = "; ".join(map(str, reason)) if isinstance(reason, list) else str(reason)
            summary.failed.append((record_id, code or RECORD_FAILED, text))
    return deleted


def _code(payload: Any) -> int | None:
    try:
        return int(payload["code"]) if isinstance(payload, Mapping) else None
    except (KeyError, TypeError, ValueError):
        return None


__all__ = ["NO_RECORDS", "CreatorApplication", "CreatorClient", "CreatorField", "DeleteSummary"]
