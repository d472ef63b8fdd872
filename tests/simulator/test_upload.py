"""Bulk write upload host: headers, shapes and limits (docs §2.1, §3)."""

from __future__ import annotations

import io
import zipfile

import pytest
import requests

from tests.simulator.conftest import ZohoCaller


def tiny_zip() -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        archive.writestr("Leads.csv", "Last_Name,Company\nNg,Acme\n")
    return sink.getvalue()


def upload(
    caller: ZohoCaller,
    data: bytes,
    headers: dict[str, str] | None = None,
    part: str = "file",
) -> requests.Response:
    org_header = "X-CRM-ORG" if caller.product == "crm" else "X-RECRUIT-ORG"
    path = "content/crm/v8/upload" if caller.product == "crm" else "upload/recruit/v2/upload"
    default = {"feature": "bulk-write", org_header: caller.org.zgid}
    url = f"{caller.sim.base_url}/{caller.org.dc}/{path}"
    return caller.session.post(
        url,
        headers={**caller.headers, **(default if headers is None else headers)},
        files={part: ("data.zip", data, "application/zip")},
    )


@pytest.mark.parametrize("product", ["crm", "recruit"])
def test_upload_answers_a_bare_success(crm: ZohoCaller, recruit: ZohoCaller, product: str) -> None:
    caller = crm if product == "crm" else recruit
    response = upload(caller, tiny_zip())
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["code"], body["message"]) == (
        "success",
        "FILE_UPLOAD_SUCCESS",
        "file uploaded.",
    )
    file_id = body["details"]["file_id"]
    assert isinstance(file_id, str)
    assert len(file_id) == 19
    assert body["details"]["created_time"].endswith("-07:00")
    stored = caller.sim.state.uploads.get(file_id)
    assert stored is not None
    assert stored.product == product


@pytest.mark.parametrize(
    "headers",
    [
        {"X-CRM-ORG": "700000001"},
        {"feature": "bulk-write"},
        {"feature": "bulk-write", "X-CRM-ORG": "700000002"},
        {"feature": "bulk-write", "X-RECRUIT-ORG": "700000001"},
    ],
)
def test_bad_upload_headers_get_the_upload_host_error_shape(
    crm: ZohoCaller, headers: dict[str, str]
) -> None:
    response = upload(crm, tiny_zip(), headers)
    assert response.status_code == 400
    body = response.json()
    assert body["ERROR_CODE"] == 400
    assert body["ERROR_MESSAGE"] == "Bad Request"
    assert body["x-error"] == "check if headers [feature, X-CRM-ORG] are present and valid"
    assert set(body) == {"ERROR_CODE", "ERROR_MESSAGE", "x-error", "info", "x-info", "http_status"}


def test_recruit_needs_its_own_org_header(recruit: ZohoCaller) -> None:
    response = upload(recruit, tiny_zip(), {"feature": "bulk-write", "X-CRM-ORG": "700000001"})
    assert response.status_code == 400
    assert "X-RECRUIT-ORG" in response.json()["x-error"]


def test_wrong_feature_is_not_supported(crm: ZohoCaller) -> None:
    response = upload(crm, tiny_zip(), {"feature": "bulk-read", "X-CRM-ORG": "700000001"})
    assert response.status_code == 200
    assert response.json()["code"] == "NOT_SUPPORTED_FEATURE"
    assert response.json()["status"] == "error"


def test_only_zips_are_accepted(crm: ZohoCaller) -> None:
    response = upload(crm, b"Last_Name\nNg\n")
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == "INVALID_FILE_FORMAT"
    assert body["message"] == "invalid file format. only zip format is supported"
    assert "created_time" in body["details"]


@pytest.mark.parametrize(("product", "status"), [("crm", 413), ("recruit", 200)])
def test_over_25_mb_is_too_large(
    crm: ZohoCaller, recruit: ZohoCaller, product: str, status: int
) -> None:
    caller = crm if product == "crm" else recruit
    response = upload(caller, b"PK" + b"\0" * (25 * 1024 * 1024))
    assert response.status_code == status
    assert response.json()["code"] == "FILE_TOO_LARGE"


def test_missing_file_part_and_missing_token(crm: ZohoCaller) -> None:
    response = upload(crm, tiny_zip(), part="document")
    assert response.status_code == 400
    assert response.json()["code"] == "MANDATORY_NOT_FOUND"
    anonymous = requests.post(
        f"{crm.sim.base_url}/us/content/crm/v8/upload",
        headers={"feature": "bulk-write", "X-CRM-ORG": "700000001"},
        files={"file": ("a.zip", tiny_zip())},
        timeout=10,
    )
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "INVALID_TOKEN"
