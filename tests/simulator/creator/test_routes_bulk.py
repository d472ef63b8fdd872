from __future__ import annotations

from simulator.creator.state import PROSE_STATUS
from simulator.testing import SimServer
from tests.simulator.creator.conftest import ORDERS, CreatorCaller


def test_job_lifecycle_and_csv_layout(creator: CreatorCaller) -> None:
    created = creator.create_job({"fields": ["Order_Name", "Tags", "Customer", "Due_Date"]})
    assert created["status"] == "In-progress"
    assert created["operation"] == "read"
    assert created["created_by"] == "jason18"
    running = creator.get(f"{creator.bulk_url()}/{created['id']}/result")
    assert running.status_code == 400  # not completed yet
    details = creator.finish(created["id"])
    assert details["status"] == "Completed"
    result = details["result"]
    assert result["count"] == 2_500
    assert "record_cursor" not in result
    assert result["download_url"] == (
        f"/creator/v2.1/bulk/jason18/{ORDERS}/read/{created['id']}/result"
    )
    lines, response = creator.download_rows(created["id"])
    assert "recordCursor" not in response.headers
    assert lines[0] == '"ID","Order_Name","Tags","Customer","Due_Date"'
    assert len(lines) == 2_501
    multi = next(line for line in lines[1:] if '","' in line and "," in line.split('","')[2])
    assert multi  # a multi-select joined with "," inside one quoted cell
    assert "Name " in lines[1]  # the lookup as its display value


def test_chain_by_cursor_reads_each_record_once(sim: SimServer, creator: CreatorCaller) -> None:
    creator.creator.configure(records={"order-desk/Order": 250_000})
    first = creator.create_job({"fields": ["Order_Name"], "max_records": 100_000})
    ids: list[str] = []
    job_id, jobs = first["id"], 0
    while True:
        details = creator.finish(job_id)
        lines, response = creator.download_rows(job_id)
        ids += [line.split(",")[0] for line in lines[1:]]
        jobs += 1
        cursor = response.headers.get("recordCursor")
        assert cursor == details["result"].get("record_cursor")
        if cursor is None:
            break
        job_id = creator.create_job({"record_cursor": cursor})["id"]
    assert jobs == 3
    assert len(ids) == len(set(ids)) == 250_000


def test_next_job_from_the_cursor_only_and_expiry(creator: CreatorCaller) -> None:
    creator.creator.configure(records={"order-desk/Order": 100_500})
    job = creator.create_job({})
    cursor = creator.finish(job["id"])["result"]["record_cursor"]
    mixed = creator.post(
        creator.bulk_url(), json={"query": {"record_cursor": cursor, "max_records": 100_000}}
    )
    assert mixed.status_code == 400
    other_report = creator.post(
        creator.bulk_url("order-desk/report/All_Customers"),
        json={"query": {"record_cursor": cursor}},
    )
    assert other_report.status_code == 400
    creator.sim.state.clock.advance(15 * 60)
    expired = creator.post(creator.bulk_url(), json={"query": {"record_cursor": cursor}})
    assert (expired.status_code, expired.json()["code"]) == (400, 2930)
    assert "expired" in expired.json()["message"]


def test_max_records_bounds_and_unknown_fields(creator: CreatorCaller) -> None:
    for size in (99_000, 201_000, 150_500, "150000"):
        response = creator.post(creator.bulk_url(), json={"query": {"max_records": size}})
        assert response.status_code == 400, size
    assert creator.post(creator.bulk_url(), json={"query": {"fields": ["Nope"]}}).status_code == 400
    assert creator.post(creator.bulk_url(), json={"query": {"page": 2}}).status_code == 400
    assert creator.post(creator.bulk_url(), data="not json").json()["code"] == 3020


def test_results_are_kept_24_hours(creator: CreatorCaller) -> None:
    job = creator.create_job({})
    creator.finish(job["id"])
    creator.advance(86_400)
    response = creator.get(f"{creator.bulk_url()}/{job['id']}")
    assert response.status_code == 404
    assert creator.get(f"{creator.bulk_url()}/{job['id']}/result").status_code == 404


def test_create_and_download_throttles(creator: CreatorCaller) -> None:
    for _ in range(5):
        creator.create_job({})
    refused = creator.post(creator.bulk_url(), json={"query": {}})
    assert (refused.status_code, refused.json()["code"]) == (429, 2955)
    creator.sim.state.clock.advance(61)
    job = creator.create_job({})
    creator.finish(job["id"])
    codes = [creator.get(f"{creator.bulk_url()}/{job['id']}/result").status_code for _ in range(11)]
    assert codes == [200] * 10 + [429]


def test_failure_fault_spelling_and_legacy_url(creator: CreatorCaller) -> None:
    creator.creator.configure(status_spelling=dict(PROSE_STATUS), legacy_download_url=True)
    creator.sim.state.add_fault("job_failure", path="/creator/v2.1/bulk/*")
    failed = creator.create_job({})
    assert failed["status"] == "IN PROGRESS"
    assert creator.finish(failed["id"]) == {**failed, "status": "FAILED"}
    job = creator.create_job({})
    details = creator.finish(job["id"])
    assert details["status"] == "COMPLETED"
    assert details["result"]["download_url"].startswith("/api/bulk/v2.1/jason18/")


def test_bulk_scopes(creator: CreatorCaller) -> None:
    creator.creator.revoke_scope("us-enterprise", "ZohoCreator.bulk.CREATE")
    refused = creator.post(creator.bulk_url(), json={"query": {}})
    assert (refused.status_code, refused.json()["code"]) == (401, 2945)


def test_a_job_reads_only_what_its_criteria_selects(creator: CreatorCaller) -> None:
    job = creator.create_job({"fields": ["Status"], "criteria": 'Status == "Open" && ID != null'})
    count = creator.finish(job["id"])["result"]["count"]
    lines, _ = creator.download_rows(job["id"])
    assert 0 < count == len(lines) - 1 < 2_500
    assert {line.split(",")[1] for line in lines[1:]} == {'"Open"'}
    bad = creator.post(creator.bulk_url(), json={"query": {"criteria": "Status = 'Open'"}})
    assert (bad.status_code, bad.json()["code"]) == (400, 2930)
