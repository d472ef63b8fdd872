from __future__ import annotations

import socket
import threading

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError

from connectors.credits import CallType, CreditMeter
from connectors.errors import (
    ConnectFailedError,
    ConnectionDroppedError,
    CreditBudgetExceededError,
    FatalError,
    InvalidRequestError,
    OutcomeUnknownError,
    RateLimitedError,
    ServerError,
    TokenRejectedError,
    UnexpectedResponseError,
)
from connectors.http import ZohoHttp
from connectors.retry import RetryPolicy
from tests.connectors.fakes import BASE, Call, FakeZoho, Reply, client, error

URL = BASE + "/crm/v8/Leads"


def ok(call: Call) -> Reply:
    return Reply(
        200, {"data": [{"id": "1"}], "info": {}}, headers={"X-API-CREDITS-REMAINING": "4321"}
    )


def scripted(*replies: Reply) -> object:
    queue = list(replies)

    def handler(call: Call) -> Reply:
        return queue.pop(0) if queue else ok(call)

    return handler


def test_success_sends_the_token_and_meters_the_call() -> None:
    fake = FakeZoho()
    fake.route("GET", "/crm/v8/Leads", ok)
    http = client(fake)
    assert http.request_json("GET", URL, call_type=CallType.GET_RECORDS, params={"page": 1}) == {
        "data": [{"id": "1"}],
        "info": {},
    }
    call = fake.calls[-1]
    assert call.headers["Authorization"] == "Zoho-oauthtoken 1000.fake-access-1"
    assert call.query == {"page": ["1"]}
    report = http.meter.report()
    assert (report.used, report.server_remaining) == (1, 4321)


def test_429_and_5xx_are_retried_honouring_retry_after() -> None:
    fake = FakeZoho()
    fake.route(
        "GET",
        "/crm/v8/Leads",
        scripted(  # type: ignore[arg-type]
            error(429, "TOO_MANY_REQUESTS", **{"Retry-After": "0.25"}),
            error(503, "UNAVAILABLE"),
            error(500, "INTERNAL_ERROR"),
        ),
    )
    waits: list[float] = []
    http = client(fake, waits=waits)
    http.request("GET", URL, call_type=CallType.GET_RECORDS)
    assert fake.count("GET", "/crm/v8/Leads") == 4
    assert waits == [0.25, 0.02, 0.04]
    assert http.meter.used == 1  # refused calls are refunded


def test_retries_give_up_with_the_last_error() -> None:
    fake = FakeZoho()
    fake.route("GET", "/crm/v8/Leads", lambda c: error(502, "BAD_GATEWAY"))
    with pytest.raises(ServerError) as info:
        client(fake).request("GET", URL, call_type=CallType.GET_RECORDS)
    assert fake.count("GET", "/crm/v8/Leads") == 4
    assert info.value.http_status == 502
    assert info.value.path == "/crm/v8/Leads"


def test_rate_limit_without_retry_after_backs_off_exponentially() -> None:
    fake = FakeZoho()
    fake.route("GET", "/crm/v8/Leads", lambda c: error(429, "TOO_MANY_REQUESTS"))
    waits: list[float] = []
    with pytest.raises(RateLimitedError):
        client(fake, waits=waits).request("GET", URL, call_type=CallType.GET_RECORDS)
    assert waits == [0.01, 0.02, 0.04]


@pytest.mark.parametrize("status", [400, 403, 404, 405, 415])
def test_hopeless_4xx_are_sent_once(status: int) -> None:
    fake = FakeZoho()
    fake.route("GET", "/crm/v8/Leads", lambda c: error(status, "INVALID_REQUEST", "bad"))
    with pytest.raises(InvalidRequestError.__mro__[1]):  # FatalError
        client(fake).request("GET", URL + "?fields=Email", call_type=CallType.GET_RECORDS)
    assert fake.count("GET", "/crm/v8/Leads") == 1


def test_dropped_connections_are_retried_and_mapped() -> None:
    fake = FakeZoho()
    fake.route(
        "GET",
        "/crm/v8/Leads",
        scripted(  # type: ignore[arg-type]
            Reply(exc=requests.ConnectionError("reset")),
            Reply(exc=requests.ReadTimeout("slow")),
        ),
    )
    http = client(fake)
    http.request("GET", URL, call_type=CallType.GET_RECORDS)
    assert fake.count("GET", "/crm/v8/Leads") == 3
    fake.route("GET", "/crm/v8/Leads", lambda c: Reply(exc=requests.ConnectionError("down")))
    with pytest.raises(ConnectionDroppedError, match="connection failed") as info:
        http.request("GET", URL, call_type=CallType.GET_RECORDS)
    assert info.value.path == "/crm/v8/Leads"


def test_401_storm_refreshes_exactly_once_and_replays_each_call_once() -> None:
    fake = FakeZoho()
    rejected_together = threading.Barrier(16, timeout=10)

    def leads(call: Call) -> Reply:
        if fake.authorized(call):
            return ok(call)
        rejected_together.wait()  # all 16 calls are in flight with the stale token
        return error(401, "INVALID_TOKEN")

    fake.route("GET", "/crm/v8/Leads", ok)
    http = client(fake)
    http.request("GET", URL, call_type=CallType.GET_RECORDS)  # token 1 issued and used
    fake.route("GET", "/crm/v8/Leads", leads)
    fake.valid_tokens.clear()  # Zoho revokes/expires it server-side
    barrier = threading.Barrier(16)
    failures: list[BaseException] = []

    def worker() -> None:
        barrier.wait()
        try:
            http.request("GET", URL, call_type=CallType.GET_RECORDS)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert fake.tokens_issued == 2
    assert http.tokens is not None
    assert http.tokens.refresh_count == 2
    # 1 initial + 16 rejected + 16 replays
    assert fake.count("GET", "/crm/v8/Leads") == 33
    assert http.meter.used == 17


def test_a_token_rejected_again_after_refresh_is_fatal() -> None:
    fake = FakeZoho()
    fake.route("GET", "/crm/v8/Leads", lambda c: error(401, "INVALID_TOKEN", "invalid oauth token"))
    with pytest.raises(TokenRejectedError, match="again right after a refresh"):
        client(fake).request("GET", URL, call_type=CallType.GET_RECORDS)
    assert fake.count("GET", "/crm/v8/Leads") == 2
    assert fake.tokens_issued == 2


def test_budget_exhaustion_raises_before_sending() -> None:
    fake = FakeZoho()
    fake.route("POST", "/crm/bulk/v8/read", ok)
    http = client(fake, budget=60)
    http.request("POST", BASE + "/crm/bulk/v8/read", call_type=CallType.BULK_READ_CREATE)
    with pytest.raises(CreditBudgetExceededError) as info:
        http.request("POST", BASE + "/crm/bulk/v8/read", call_type=CallType.BULK_READ_CREATE)
    assert fake.count("POST", "/crm/bulk/v8/read") == 1
    assert (info.value.needed, info.value.available) == (50, 10)


def test_error_body_with_http_200_is_an_error() -> None:
    fake = FakeZoho()
    fake.route(
        "POST",
        "/crm/v8/upload",
        lambda c: Reply(
            200,
            {
                "status": "error",
                "code": "INVALID_FILE_FORMAT",
                "message": "only zip",
                "details": {},
            },
        ),
    )
    with pytest.raises(InvalidRequestError, match="INVALID_FILE_FORMAT"):
        client(fake).request("POST", BASE + "/crm/v8/upload", call_type=CallType.BULK_WRITE_UPLOAD)


def test_non_json_answer_to_request_json_is_unexpected() -> None:
    fake = FakeZoho()
    fake.route(
        "GET",
        "/crm/v8/Leads",
        lambda c: Reply(200, raw=b"<html>", headers={"Content-Type": "text/html"}),
    )
    with pytest.raises(UnexpectedResponseError, match="expected JSON"):
        client(fake).request_json("GET", URL, call_type=CallType.GET_RECORDS)


def test_upload_files_factory_is_called_per_attempt() -> None:
    fake = FakeZoho()
    fake.route("POST", "/crm/v8/upload", scripted(error(503, "X")))  # type: ignore[arg-type]
    opened: list[int] = []

    def files() -> dict[str, tuple[str, bytes]]:
        opened.append(1)
        return {"file": ("a.zip", b"PK")}

    client(fake).request(
        "POST", BASE + "/crm/v8/upload", call_type=CallType.BULK_WRITE_UPLOAD, files=files
    )
    assert len(opened) == 2


def test_wrapped_error_in_a_2xx_answer_is_an_error_but_records_are_not() -> None:
    fake = FakeZoho()
    wrapped = {
        "data": [
            {
                "status": "error",
                "code": "INVALID_DATA",
                "message": "bad field",
                "details": {"api_name": "X"},
            }
        ]
    }
    fake.route("POST", "/crm/bulk/v8/read", lambda c: Reply(201, wrapped))
    with pytest.raises(InvalidRequestError, match="INVALID_DATA") as info:
        client(fake).request(
            "POST", BASE + "/crm/bulk/v8/read", call_type=CallType.BULK_READ_CREATE
        )
    assert info.value.http_status == 201
    records = {"data": [{"id": "1", "code": "C-1", "message": "hello"}], "info": {}}
    fake.route("GET", "/crm/v8/Leads", lambda c: Reply(200, records))
    assert client(fake).request_json("GET", URL, call_type=CallType.GET_RECORDS) == records


def refused() -> requests.ConnectionError:
    reason = NewConnectionError(None, "Failed to establish a new connection: refused")  # type: ignore[arg-type]
    return requests.ConnectionError(MaxRetryError(None, "/x", reason))  # type: ignore[arg-type]


def test_a_post_whose_answer_is_lost_is_sent_once_and_metered() -> None:
    fake = FakeZoho()
    fake.route("POST", "/crm/bulk/v8/read", lambda c: Reply(exc=requests.ConnectionError("reset")))
    http = client(fake)
    with pytest.raises(OutcomeUnknownError) as info:
        http.request("POST", BASE + "/crm/bulk/v8/read", call_type=CallType.BULK_READ_CREATE)
    assert fake.count("POST", "/crm/bulk/v8/read") == 1
    assert isinstance(info.value, FatalError)
    assert http.meter.report().used == 50  # Zoho may have charged it: counted


def test_a_post_that_never_left_or_was_refused_by_zoho_is_sent_again() -> None:
    fake = FakeZoho()
    fake.route(
        "POST",
        "/crm/bulk/v8/read",
        scripted(  # type: ignore[arg-type]
            Reply(exc=refused()),
            Reply(exc=requests.ConnectTimeout("connect")),
            error(429, "TOO_MANY_REQUESTS"),
        ),
    )
    http = client(fake)
    http.request("POST", BASE + "/crm/bulk/v8/read", call_type=CallType.BULK_READ_CREATE)
    assert fake.count("POST", "/crm/bulk/v8/read") == 4
    assert http.meter.report().used == 50  # only the answered call is charged


def test_a_get_whose_answer_is_lost_is_retried() -> None:
    fake = FakeZoho()
    fake.route(
        "GET",
        "/crm/v8/Leads",
        scripted(Reply(exc=requests.ConnectionError("reset")), Reply(exc=requests.ReadTimeout())),  # type: ignore[arg-type]
    )
    http = client(fake)
    http.request("GET", URL, call_type=CallType.GET_RECORDS)
    assert fake.count("GET", "/crm/v8/Leads") == 3
    assert http.meter.report().used == 3  # both lost answers may have been charged


def test_request_json_resending_counts_the_unanswered_sends() -> None:
    fake = FakeZoho()
    fake.route(
        "POST",
        "/crm/v8/upload",
        scripted(  # type: ignore[arg-type]
            Reply(exc=requests.ConnectionError("reset")),
            Reply(exc=requests.ReadTimeout("slow")),
            Reply(200, {"details": {"file_id": "9"}}),
        ),
    )
    http = client(fake)
    sent = http.request_json_resending(
        "POST", BASE + "/crm/v8/upload", call_type=CallType.BULK_WRITE_UPLOAD
    )
    assert (sent.payload, sent.unanswered) == ({"details": {"file_id": "9"}}, 2)
    fake.route("POST", "/crm/v8/upload", lambda c: Reply(exc=requests.ReadTimeout("slow")))
    with pytest.raises(OutcomeUnknownError) as info:
        http.request_json_resending(
            "POST", BASE + "/crm/v8/upload", call_type=CallType.BULK_WRITE_UPLOAD
        )
    assert info.value.attempts == 4  # the policy's max_attempts, each one counted


def test_a_real_refused_connection_counts_as_never_sent() -> None:
    with socket.socket() as probe:  # a port nobody listens on any more
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    policy = RetryPolicy(max_attempts=3, initial_wait=0, jitter=0, sleep=lambda _: None)
    http = ZohoHttp(None, CreditMeter(), trusted_origins=(closed,), retry=policy)
    with pytest.raises(ConnectFailedError):  # not OutcomeUnknownError: safe to send again
        http.request("POST", closed + "/crm/bulk/v8/read", call_type=CallType.BULK_READ_CREATE)
    assert http.meter.report().used == 0
    http.close()
