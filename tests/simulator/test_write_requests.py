"""Create-job requests the simulator refuses as Zoho does: body, files, parent/child, Recruit."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from simulator.testing import SimServer
from tests.simulator.conftest import ZohoCaller
from tests.simulator.writes import (
    DEAL_HEADER,
    DEAL_MAPPINGS,
    ITEM_HEADER,
    Writer,
    make_zip,
    multi_zip,
    parent_child_body,
)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"resource": []}, "MANDATORY_NOT_FOUND"),
        ({"operation": "merge", "resource": [{}]}, "INVALID_DATA"),
        ({"operation": "insert"}, "MANDATORY_NOT_FOUND"),
        ({"operation": "insert", "callback": {"url": "http://x", "method": "get"},
          "resource": [{}]}, "INVALID_CALLBACK_METHOD"),
        ({"operation": "insert", "resource": [{"module": {"api_name": "asdf"}, "file_id": "1"}]},
         "MODULE_NOT_AVAILABLE"),
        ({"operation": "insert", "resource": [{"module": {"api_name": "Leads"}, "file_id": "1"}]},
         "INVALID_FILE_ID"),
        ({"operation": "insert", "ignore_empty": True,
          "resource": [{"ignore_empty": False, "module": {"api_name": "Leads"}, "file_id": "1"}]},
         "COEXISTENCE_NOT_ALLOWED"),
    ],
)  # fmt: skip
def test_create_job_request_errors(w: Writer, body: dict[str, Any], code: str) -> None:
    response = w.create(body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == code
    assert response.json()["status"] == "error"


def test_file_limits(w: Writer, monkeypatch: pytest.MonkeyPatch) -> None:
    import simulator.write_requests as bw

    two = io.BytesIO()
    with zipfile.ZipFile(two, "w") as archive:
        archive.writestr("a.csv", "Last_Name,Company\nA,B\n")
        archive.writestr("b.csv", "Last_Name,Company\nA,B\n")
    monkeypatch.setattr(bw, "MAX_ROWS", 2)
    for data in (two.getvalue(), make_zip([["Last_Name", "Company"], *[["A", "B"]] * 3])):
        file_id = w.upload(data)
        response = w.create(
            {"operation": "insert",
             "resource": [{"module": {"api_name": "Leads"}, "file_id": file_id}]}
        )  # fmt: skip
        assert response.status_code == 400
        assert response.json()["code"] == "FILE_NOT_SUPPORTED"


def test_auto_mapping_semicolon_delimiter_and_failed_job(sim: SimServer, w: Writer) -> None:
    data = make_zip([["Last_Name", "Company"], ["Semi", "Colon Co"]], delimiter=";")
    file_id = w.upload(data)
    body = {
        "operation": "insert",
        "resource": [{"module": {"api_name": "Leads"}, "file_id": file_id}],
    }
    response = w.create(body)
    assert response.status_code == 201
    (row,) = w.results(str(response.json()["details"]["id"]))
    assert row["STATUS"] == "ADDED"
    sim.state.add_fault("job_failure", path="/crm/Leads")
    failing = w.create(body)
    detail = w.wait(str(failing.json()["details"]["id"]))
    assert detail["status"] == "FAILED"
    assert "result" not in detail
    assert detail["resource"][0]["message"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ("no_file_names", "MANDATORY_NOT_FOUND"),
        ("other_file_id", "INVALID_FILE_ID"),
        ("same_csv", "INVALID_DATA"),
        ("child_first", "INVALID_DATA"),
        ("not_a_subform", "INVALID_DATA"),
        ("no_parent_id", "MANDATORY_FIELDS_NOT_MAPPED"),
        ("bad_parent_column", "COLUMN_INDEX_NOT_FOUND"),
        ("missing_csv", "INVALID_DATA"),
    ],
)
def test_parent_child_request_errors(w: Writer, change: str, code: str) -> None:
    files = {"Deals.csv": [DEAL_HEADER, ["D1", "A", "Proposal", "2026-01-01"]],
             "Deal_Line_Items.csv": [ITEM_HEADER, ["D1", "W", "1", "1"]]}  # fmt: skip
    file_id = w.upload(multi_zip(files))
    body = parent_child_body(file_id, {"parent_column_index": 0})
    parent, child = body["resource"]
    if change == "no_file_names":
        del parent["file_names"], child["file_names"]
    elif change == "other_file_id":
        child["file_id"] = w.upload(multi_zip(files))
    elif change == "same_csv":
        child["file_names"] = ["Deals.csv"]
    elif change == "child_first":
        body["resource"] = [child, parent]
    elif change == "not_a_subform":
        child["module"] = {"api_name": "Contacts"}
    elif change == "no_parent_id":
        child["field_mappings"] = child["field_mappings"][1:]
    elif change == "bad_parent_column":
        child["field_mappings"][0]["parent_column_index"] = 9
    elif change == "missing_csv":
        child["file_names"] = ["Items.csv"]
    response = w.create(body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == code


def test_multi_csv_zip_needs_file_names(w: Writer) -> None:
    files = {"Deals.csv": [DEAL_HEADER, ["D1", "A", "Proposal", "2026-01-01"]],
             "Deal_Line_Items.csv": [ITEM_HEADER, ["D1", "W", "1", "1"]]}  # fmt: skip
    file_id = w.upload(multi_zip(files))
    resource = {"type": "data", "module": {"api_name": "Deals"}, "file_id": file_id,
                "field_mappings": DEAL_MAPPINGS}  # fmt: skip
    response = w.create({"operation": "insert", "resource": [resource]})
    assert response.status_code == 400
    assert response.json()["code"] == "FILE_NOT_SUPPORTED"
    # naming the CSV makes the same zip acceptable for a single-module import
    response = w.create({"operation": "insert",
                         "resource": [{**resource, "file_names": ["Deals.csv"]}]})  # fmt: skip
    assert response.status_code == 201, response.text


def test_recruit_takes_one_csv_per_zip(recruit: ZohoCaller) -> None:
    w = Writer(recruit)
    header = ["Last_Name", "First_Name", "Email"]
    files = {"Candidates.csv": [header, ["Ng", "Al", "al@ng.io"]],
             "Other.csv": [header, ["Li", "Bo", "bo@li.io"]]}  # fmt: skip
    file_id = w.upload(multi_zip(files))
    resource = {"type": "data", "module": "Candidates", "file_id": file_id,
                "file_names": ["Candidates.csv"]}  # fmt: skip
    for resources in ([resource], [resource, {**resource, "file_names": ["Other.csv"]}]):
        response = w.create({"operation": "insert", "resource": resources})
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "FILE_NOT_SUPPORTED"


def test_recruit_refuses_the_crm_v8_request_shapes(recruit: ZohoCaller, crm: ZohoCaller) -> None:
    w = Writer(recruit)
    rows = [["Last_Name", "Email"], ["Rao", "rao@x.io"]]
    file_id = w.upload(make_zip(rows))
    v2 = {"type": "data", "module": "Candidates", "file_id": file_id}
    object_module = w.create({"operation": "insert", "resource": [
        {**v2, "module": {"api_name": "Candidates"}}]})  # fmt: skip
    assert object_module.status_code == 400, object_module.text
    assert object_module.json()["code"] == "INVALID_DATA"
    assert object_module.json()["details"]["json_path"] == "$.resource[0].module"
    top_level = w.create({"operation": "insert", "ignore_empty": True, "resource": [v2]})
    assert top_level.status_code == 400, top_level.text
    assert top_level.json()["details"]["api_name"] == "ignore_empty"
    on_resource = w.create({"operation": "insert", "resource": [{**v2, "ignore_empty": True}]})
    assert on_resource.status_code == 201, on_resource.text
    # the CRM SDK's content host does not serve Recruit uploads
    wrong_host = recruit.session.post(
        f"{recruit.sim.base_url}/{recruit.org.dc}/content/recruit/v2/upload",
        headers={**recruit.headers, "feature": "bulk-write", "X-RECRUIT-ORG": recruit.org.zgid},
        files={"file": ("x.zip", make_zip(rows))},
    )
    assert wrong_host.status_code == 404, wrong_host.text
    assert wrong_host.json()["code"] == "INVALID_URL_PATTERN"
    # CRM v8 keeps its own shape
    assert Writer(crm).job([["Last_Name", "Company"], ["A", "B"]], ignore_empty=True)
