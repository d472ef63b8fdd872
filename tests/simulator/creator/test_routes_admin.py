from __future__ import annotations

from simulator.testing import SimServer
from tests.simulator.creator.conftest import CreatorCaller


def test_admin_routes_drive_creator_from_another_process(
    sim: SimServer, creator: CreatorCaller
) -> None:
    admin = f"{sim.base_url}/_sim/creator"
    http = creator.session  # no token needed: the admin API is loopback-only
    config = http.patch(
        f"{admin}/config", json={"records": {"order-desk/Order": 10}, "job_seconds": [0, 0]}
    )
    assert config.status_code == 200
    assert config.json()["records"] == {"order-desk/Order": 10}
    assert http.patch(f"{admin}/config", json={"apps": []}).status_code == 400
    new = http.post(
        f"{admin}/records/us-enterprise/order-desk/Order", json={"values": {"Status": "Open"}}
    ).json()["ID"]
    store = creator.creator.form_store("us-enterprise", "order-desk", "Order")
    assert len(store) == 11
    update = http.patch(
        f"{admin}/records/us-enterprise/order-desk/Order/{new}", json={"values": {"Quantity": "7"}}
    )
    assert update.status_code == 200
    assert store.row(10)["Quantity"] == "7"
    bad = http.post(f"{admin}/records/us-enterprise/order-desk/Order", json={"values": {"X": "1"}})
    assert bad.status_code == 400
    locks = http.post(f"{admin}/locks/us-enterprise/order-desk/Order", json={"ids": [new]})
    assert locks.json() == {"locked": 1}
    assert store.locked == {new}
    creator.get(f"{creator.root}/meta/applications")
    calls = http.get(f"{admin}/calls/us-enterprise").json()
    assert calls == {"used": 1, "allowance": 3_000}
    revoked = http.post(
        f"{admin}/scopes/revoke", json={"org": "us-enterprise", "scope": "ZohoCreator.bulk.READ"}
    )
    assert "ZohoCreator.bulk.READ" not in revoked.json()["granted"]
