"""Bulk-write helpers of the simulator tests: a ``Writer`` over HTTP, zips, parent/child bodies."""

from __future__ import annotations

import csv
import io
import time
import zipfile
from typing import TYPE_CHECKING, Any

import requests

if TYPE_CHECKING:
    from tests.simulator.conftest import ZohoCaller


def make_zip(rows: list[list[str]], name: str = "Leads.csv", delimiter: str = ",") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(rows)
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        archive.writestr(name, out.getvalue())
    return sink.getvalue()


class Writer:
    def __init__(self, caller: ZohoCaller) -> None:
        self.c = caller
        dc = caller.org.dc
        if caller.product == "crm":
            self.upload_url = f"{caller.sim.base_url}/{dc}/content/crm/v8/upload"
            self.write_url = f"{caller.api}/crm/bulk/v8/write"
            self.org_header = "X-CRM-ORG"
        else:
            self.upload_url = f"{caller.sim.base_url}/{dc}/upload/recruit/v2/upload"
            self.write_url = f"{caller.host}/recruit/bulk/v2/write"
            self.org_header = "X-RECRUIT-ORG"

    def upload(self, data: bytes) -> str:
        response = self.c.session.post(
            self.upload_url,
            headers={**self.c.headers, "feature": "bulk-write", self.org_header: self.c.org.zgid},
            files={"file": ("x.zip", data)},
        )
        assert response.status_code == 200, response.text
        return str(response.json()["details"]["file_id"])

    def module_ref(self, module: str) -> Any:
        """CRM v8 names a module as an object, Recruit v2 as a string."""
        return {"api_name": module} if self.c.product == "crm" else module

    def create(self, body: dict[str, Any]) -> requests.Response:
        return self.c.post(self.write_url, json=body)

    def job(
        self,
        rows: list[list[str]],
        module: str = "Leads",
        operation: str = "insert",
        mappings: list[dict[str, Any]] | None = None,
        **resource: Any,
    ) -> str:
        file_id = self.upload(make_zip(rows))
        res: dict[str, Any] = {
            "type": "data",
            "module": self.module_ref(module),
            "file_id": file_id,
        }
        if mappings is not None:
            res["field_mappings"] = mappings
        ignore_empty = resource.pop("ignore_empty", None)
        res.update(resource)
        body: dict[str, Any] = {"operation": operation, "resource": [res]}
        if ignore_empty is not None and self.c.product == "crm":
            body["ignore_empty"] = ignore_empty  # CRM v8: top level
        elif ignore_empty is not None:
            res["ignore_empty"] = ignore_empty  # Recruit v2: on the resource
        response = self.create(body)
        assert response.status_code == 201, response.text
        return str(response.json()["details"]["id"])

    def details(self, job_id: str) -> dict[str, Any]:
        response = self.c.get(f"{self.write_url}/{job_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def wait(self, job_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + 120  # a generous wait, not a timing assert
        while True:
            detail = self.details(job_id)
            if detail["status"] in ("COMPLETED", "FAILED"):
                return detail
            assert time.monotonic() < deadline
            time.sleep(0.05)

    def results(self, job_id: str) -> list[dict[str, str]]:
        detail = self.wait(job_id)
        assert detail["status"] == "COMPLETED", detail
        response = self.c.get(detail["result"]["download_url"])
        assert response.status_code == 200, response.text
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            (name,) = archive.namelist()
            text = archive.read(name).decode()
        return list(csv.DictReader(io.StringIO(text, newline="")))


LEAD_HEADER = ["Last_Name", "Company", "Email", "Lead_Status", "Product_Interest", "Email_Opt_Out"]


DEAL_HEADER = ["Ref", "Deal_Name", "Stage", "Closing_Date"]


ITEM_HEADER = ["Deal_Ref", "Product_Name", "Quantity", "Unit_Price"]


DEAL_MAPPINGS = [
    {"api_name": "Deal_Name", "index": 1},
    {"api_name": "Stage", "index": 2},
    {"api_name": "Closing_Date", "index": 3, "format": "yyyy-MM-dd"},
]


def csv_text(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def multi_zip(files: dict[str, list[list[str]]]) -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        for name, rows in files.items():
            archive.writestr(name, csv_text(rows))
    return sink.getvalue()


def parent_child_body(
    file_id: str, item_link: dict[str, Any], operation: str = "insert"
) -> dict[str, Any]:
    return {
        "operation": operation,
        "resource": [
            {"type": "data", "module": {"api_name": "Deals"}, "file_id": file_id,
             "file_names": ["Deals.csv"], "field_mappings": DEAL_MAPPINGS},
            {"type": "data", "module": {"api_name": "Deal_Line_Items"}, "file_id": file_id,
             "file_names": ["Deal_Line_Items.csv"],
             "field_mappings": [{"api_name": "Parent_Id", "index": 0, **item_link},
                                {"api_name": "Product_Name", "index": 1},
                                {"api_name": "Quantity", "index": 2},
                                {"api_name": "Unit_Price", "index": 3}]},
        ],
    }  # fmt: skip


def result_csvs(w: Writer, detail: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    response = w.c.get(detail["result"]["download_url"])
    assert response.status_code == 200, response.text
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return {
            n: list(csv.DictReader(io.StringIO(archive.read(n).decode(), newline="")))
            for n in archive.namelist()
        }
