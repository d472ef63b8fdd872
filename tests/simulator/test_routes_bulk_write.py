"""The bulk write routes: a Recruit job, a job of another product or unknown is 404."""

from __future__ import annotations

from tests.simulator.conftest import ZohoCaller
from tests.simulator.writes import Writer


def test_recruit_write_and_unknown_job(recruit: ZohoCaller, w: Writer) -> None:
    r = Writer(recruit)
    rows = [["Last_Name", "Email", "Skill_Set"], ["Rao", "rao@x.io", "Python;SQL"]]
    (row,) = r.results(r.job(rows, module="Candidates"))
    assert row["STATUS"] == "ADDED"
    detail = r.wait(r.job(rows[:1], module="Candidates"))
    assert "/us/download/v2/crm/700000001/bulk-write/" in detail["result"]["download_url"]
    assert detail["resource"][0]["file"]["total_count"] == 0
    assert w.c.get(f"{w.write_url}/{detail['id']}").status_code == 404  # not a CRM job
    missing = w.c.get(f"{w.write_url}/4876876000005350999")
    assert missing.status_code == 404
    assert missing.json()["code"] == "RESOURCE_NOT_FOUND"
