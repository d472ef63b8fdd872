"""Processing of a simulated write job: the callback, parent/child links."""

from __future__ import annotations

from typing import Any

from tests.simulator.writes import (
    DEAL_HEADER,
    ITEM_HEADER,
    Writer,
    make_zip,
    multi_zip,
    parent_child_body,
    result_csvs,
)


def test_callback_receives_the_finished_job(w: Writer) -> None:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received: list[dict[str, Any]] = []
    arrived = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()
            arrived.set()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        file_id = w.upload(make_zip([["Last_Name", "Company"], ["Cb", "Co"]]))
        url = f"http://127.0.0.1:{server.server_address[1]}/cb"
        response = w.create(
            {"operation": "insert", "callback": {"url": url, "method": "post"},
             "resource": [{"module": {"api_name": "Leads"}, "file_id": file_id}]}
        )  # fmt: skip
        assert response.status_code == 201
        assert arrived.wait(10)
        (payload,) = received
        assert payload["id"] == response.json()["details"]["id"]
        assert payload["status"] == "COMPLETED"
        assert payload["callback"] == {"url": url, "method": "post"}
        assert payload["result"]["download_url"].startswith(w.c.sim.base_url)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_parent_child_import_links_children_to_parents_of_the_same_job(w: Writer) -> None:
    files = {
        "Deals.csv": [DEAL_HEADER,
                      ["D1", "Alpha deal", "Qualification", "2026-03-01"],
                      ["D2", "Beta deal", "Proposal", "2026-04-01"],
                      ["D3", "", "Proposal", "2026-04-01"]],  # no Deal_Name: fails
        "Deal_Line_Items.csv": [ITEM_HEADER,
                                ["D1", "Widget", "2", "10.50"],
                                ["D1", "Gadget", "1", "99"],
                                ["D2", "Widget", "5", "10.5"],
                                ["D3", "Orphan", "1", "1"],     # its parent failed
                                ["D9", "Nowhere", "1", "1"],    # no such parent row
                                ["", "No link", "1", "1"]],
    }  # fmt: skip
    file_id = w.upload(multi_zip(files))
    response = w.create(parent_child_body(file_id, {"parent_column_index": 0}))
    assert response.status_code == 201, response.text
    detail = w.wait(str(response.json()["details"]["id"]))
    assert detail["status"] == "COMPLETED", detail
    files_of = {r["module"]["api_name"]: r["file"] for r in detail["resource"]}
    assert files_of["Deals"] == {
        "status": "COMPLETED",
        "name": "Deals.csv",
        "added_count": 2,
        "skipped_count": 0,
        "updated_count": 0,
        "total_count": 3,
    }
    assert files_of["Deal_Line_Items"]["name"] == "Deal_Line_Items.csv"
    assert (files_of["Deal_Line_Items"]["added_count"],
            files_of["Deal_Line_Items"]["total_count"]) == (3, 6)  # fmt: skip
    items_echo = detail["resource"][1]["field_mappings"][0]
    assert (items_echo["api_name"], items_echo["parent_column_index"]) == ("Parent_Id", 0)
    results = result_csvs(w, detail)
    assert sorted(results) == ["Deal_Line_Items-Deal_Line_Items.csv", "Deals-Deals.csv"]
    deals = results["Deals-Deals.csv"]
    assert [d["STATUS"] for d in deals] == ["ADDED", "ADDED", "UNPROCESSED"]
    assert deals[2]["ERRORS"] == "MANDATORY_NOT_FOUND-Deal_Name"
    items = results["Deal_Line_Items-Deal_Line_Items.csv"]
    assert list(items[0]) == ["Deal_Ref", "Product_Name", "Quantity", "STATUS", "RECORD_ID",
                              "ERRORS"]  # fmt: skip
    assert [i["Deal_Ref"] for i in items] == ["D1", "D1", "D2", "D3", "D9", ""]  # as uploaded
    assert [i["STATUS"] for i in items] == ["ADDED"] * 3 + ["UNPROCESSED"] * 3
    assert [i["ERRORS"] for i in items[3:]] == [
        "INVALID_DATA-Deal_Ref",
        "INVALID_DATA-Deal_Ref",
        "MANDATORY_NOT_FOUND-Parent_Id",
    ]
    # a later bulk read of the subform returns the child rows linked to their new parents
    read = w.c.read_all(
        {
            "module": {"api_name": "Deal_Line_Items"},
            "fields": ["Parent_Id", "Product_Name", "Quantity", "Unit_Price"],
        }
    )
    parent_of = {"D1": deals[0]["RECORD_ID"], "D2": deals[1]["RECORD_ID"]}
    got = sorted((r["Parent_Id"], r["Product_Name"], r["Quantity"], r["Unit_Price"])
                 for r in read)  # fmt: skip
    assert got == sorted([(parent_of["D1"], "Widget", "2", "10.50"),
                          (parent_of["D1"], "Gadget", "1", "99.00"),
                          (parent_of["D2"], "Widget", "5", "10.50")])  # fmt: skip
    assert {r["id"] for r in read} == {i["RECORD_ID"] for i in items[:3]}


def test_parent_child_upsert_links_by_record_id(w: Writer) -> None:
    existing = w.c.read_all(
        {
            "module": {"api_name": "Deals"},
            "fields": ["Deal_Name"],
            "criteria": {
                "field": {"api_name": "Deal_Name"},
                "comparator": "not_equal",
                "value": "x",
            },
        }
    )[0]
    files = {
        "Deals.csv": [["Ref", "id", "Deal_Name", "Stage", "Closing_Date"],
                      ["E", existing["id"], "Renamed deal", "Proposal", "2026-05-01"]],
        "Deal_Line_Items.csv": [ITEM_HEADER, [existing["id"], "Service", "3", "7"]],
    }  # fmt: skip
    file_id = w.upload(multi_zip(files))
    body = parent_child_body(file_id, {"find_by": "id"}, operation="upsert")
    body["resource"][0]["find_by"] = "id"
    body["resource"][0]["field_mappings"] = [
        {"api_name": "id", "index": 1}, {"api_name": "Deal_Name", "index": 2},
        {"api_name": "Stage", "index": 3},
        {"api_name": "Closing_Date", "index": 4, "format": "yyyy-MM-dd"},
    ]  # fmt: skip
    response = w.create(body)
    assert response.status_code == 201, response.text
    detail = w.wait(str(response.json()["details"]["id"]))
    counts = [(r["file"]["updated_count"], r["file"]["added_count"]) for r in detail["resource"]]
    assert counts == [(1, 0), (0, 1)]
    read = w.c.read_all({"module": {"api_name": "Deal_Line_Items"},
                         "fields": ["Parent_Id", "Product_Name"]})  # fmt: skip
    assert [(r["Parent_Id"], r["Product_Name"]) for r in read] == [(existing["id"], "Service")]
