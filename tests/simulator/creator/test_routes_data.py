from __future__ import annotations

from typing import Any

from simulator.testing import SimServer
from tests.simulator.creator.conftest import CreatorCaller


def _page(creator: CreatorCaller, **params: Any) -> tuple[list[dict[str, Any]], str | None]:
    headers = params.pop("headers", {})
    response = creator.get(creator.data(), params=params, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["code"] == 3000
    return response.json()["data"], response.headers.get("record_cursor")


def test_values_look_like_zoho_v21(creator: CreatorCaller) -> None:
    data, _ = _page(creator, field_config="all")
    record = data[0]
    assert record["ID"].isdigit()
    assert len(record["ID"]) == 19
    assert record["Amount"].count(".") == 1
    assert isinstance(record["Amount"], str)
    assert record["Expedited"] in ("true", "false")
    assert isinstance(record["Tags"], list)
    assert record["Tags"]
    assert set(record["Customer"]) == {"Name", "ID", "zc_display_value"}
    assert record["Customer"]["Name"] == record["Customer"]["zc_display_value"]
    day, month, year = record["Due_Date"].split("-")  # dd-MMM-yyyy
    assert len(day) == 2
    assert month.isalpha()
    assert len(year) == 4
    assert len(record["Modified_Time"].split(" ")) == 2
    quick, _ = _page(creator)
    assert set(quick[0]) == {"ID", "Order_Name", "Status", "Amount", "Due_Date", "Customer"}


def test_record_cursor_walks_every_record_once(sim: SimServer, creator: CreatorCaller) -> None:
    creator.creator.configure(records={"order-desk/Order": 2_300})
    ids: list[str] = []
    cursor: str | None = None
    calls = 0
    while True:
        headers = {"record_cursor": cursor} if cursor else {}
        data, cursor = _page(creator, max_records=1000, headers=headers)
        calls += 1
        ids += [d["ID"] for d in data]
        if cursor is None:
            break
    assert calls == 3
    assert len(ids) == len(set(ids)) == 2_300


def test_criteria_and_custom_fields(creator: CreatorCaller) -> None:
    data, _ = _page(
        creator,
        criteria="Status == \"Closed\" && Quantity < 100 && Due_Date >= '01-Jan-2024'",
        field_config="custom",
        fields="Status,Quantity,Due_Date",
        max_records=500,
    )
    assert data
    assert all(d["Status"] == "Closed" and int(d["Quantity"]) < 100 for d in data)
    assert all(set(d) == {"ID", "Status", "Quantity", "Due_Date"} for d in data)


def test_refuses_v2_paging_bad_sizes_and_bad_inputs(creator: CreatorCaller) -> None:
    refused = {
        "from=1&limit=200": "from",
        "limit=200": "limit",
        "max_records=300": "max_records",
        "field_config=everything": "field_config",
        "fields=Status": "fields",
        "field_config=custom": "fields",
        "criteria=Total=250.43": "criteria",
    }
    for query, key in refused.items():
        response = creator.get(f"{creator.data()}?{query}")
        assert response.status_code == 400, query
        assert f"'{key}'" in response.json()["message"], query
    response = creator.get(creator.data(), headers={"accept": "application/json, text/plain, */*"})
    assert response.status_code == 400
    response = creator.get(creator.data(), headers={"record_cursor": "made-up"})
    assert response.status_code == 400


def test_no_match_is_3100(creator: CreatorCaller) -> None:
    response = creator.get(creator.data(), params={"criteria": "ID == 1"})
    assert (response.status_code, response.json()["code"]) == (404, 3100)


def test_csv_accept_answers_csv(creator: CreatorCaller) -> None:
    response = creator.get(creator.data(), headers={"accept": "text/csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text.splitlines()[0].startswith('"ID","Order_Name"')


def test_delete_needs_a_body_and_a_criteria(creator: CreatorCaller) -> None:
    response = creator.delete()
    assert (response.status_code, response.json()["code"]) == (400, 3020)
    response = creator.delete(json={"criteria": "  "})
    assert (response.status_code, response.json()["code"]) == (404, 1000)
    response = creator.delete(json={"criteria": "Total=250.43"})
    assert response.status_code == 400
    response = creator.delete(json={"criteria": "ID != 0", "skip_workflow": ["nope"]})
    assert response.status_code == 400


def test_delete_more_than_200_needs_process_until_limit(creator: CreatorCaller) -> None:
    response = creator.delete(json={"criteria": "ID != 0"})
    assert (response.status_code, response.json()["code"]) == (200, 3960)
    response = creator.get(creator.data(), params={"criteria": "ID != 0"})
    assert response.status_code == 200  # nothing was deleted


def test_delete_loop_with_locked_records(creator: CreatorCaller) -> None:
    store = creator.creator.form_store("us-enterprise", "order-desk", "Order")
    base = store.values.base_id
    criteria = f"ID >= {base + 1000} && ID < {base + 2050}"  # 1,050 records
    locked = [str(base + 1000 + k) for k in (0, 7, 500)]
    creator.creator.lock_records("us-enterprise", "order-desk", "Order", locked)
    deleted: list[str] = []
    failed: list[str] = []
    answers = []
    while True:
        response = creator.delete(
            params={"process_until_limit": "true"}, json={"criteria": criteria}
        )
        assert response.status_code == 200
        body = response.json()
        answers.append(body)
        assert body["code"] == 3000
        assert len(body["result"]) <= 200
        deleted += [r["data"]["ID"] for r in body["result"] if r["code"] == 3000]
        failed += [r["data"]["ID"] for r in body["result"] if r["code"] == 3001]
        if not body["more_records"]:
            break
    assert len(answers) == 6
    assert len(deleted) == len(set(deleted)) == 1_047
    assert set(failed) == set(locked)
    assert len(store) == 2_500 - 1_047
    again = creator.delete(params={"process_until_limit": "true"}, json={"criteria": criteria})
    assert [r["code"] for r in again.json()["result"]] == [3001, 3001, 3001]
    store.locked.clear()
    creator.delete(params={"process_until_limit": "true"}, json={"criteria": criteria})
    done = creator.delete(params={"process_until_limit": "true"}, json={"criteria": criteria})
    assert (done.status_code, done.json()["code"]) == (404, 3100)


def test_updates_move_modified_time_for_incremental_criteria(creator: CreatorCaller) -> None:
    store = creator.creator.form_store("us-enterprise", "order-desk", "Order")
    record_id = str(store.values.base_id + 42)
    creator.creator.update_record(
        "us-enterprise", "order-desk", "Order", record_id, {"Status": "Closed"}
    )
    new = creator.creator.insert_record(
        "us-enterprise", "order-desk", "Order", {"Order_Name": "New"}
    )
    changed = store.row(42)["Modified_Time"]
    assert changed is not None
    data, _ = _page(
        creator, criteria=f"Modified_Time >= '{changed}'", field_config="custom", fields="Status"
    )
    assert {d["ID"] for d in data} == {record_id, new}


def test_a_records_cursor_expires(creator: CreatorCaller) -> None:
    _, cursor = _page(creator)
    assert cursor is not None
    creator.advance(15 * 60 + 1)
    response = creator.get(creator.data(), headers={"record_cursor": cursor})
    assert (response.status_code, response.json()["code"]) == (400, 2930)
