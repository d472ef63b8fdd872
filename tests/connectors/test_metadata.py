from __future__ import annotations

import threading

import pytest

from connectors.errors import UnexpectedResponseError
from connectors.metadata import MetadataClient
from connectors.products import CRM, RECRUIT
from tests.connectors.fakes import BASE, Call, FakeZoho, Reply
from tests.connectors.fakes import client as http_client

FIELDS = {
    "fields": [
        {"api_name": "Last_Name", "data_type": "text", "length": 80, "system_mandatory": True},
        {"api_name": "Annual_Revenue", "data_type": "currency", "decimal_place": 2},
        {
            "api_name": "Lead_Status",
            "data_type": "picklist",
            "pick_list_values": [{"actual_value": "New"}, {"actual_value": "Lost"}],
        },
        {
            "api_name": "Account_Name",
            "data_type": "lookup",
            "lookup": {"module": {"api_name": "Accounts"}},
        },
        {"api_name": "Owner", "data_type": "ownerlookup", "read_only": True},
        {"api_name": "Email", "data_type": "email", "unique": {"casesensitive": False}},
    ]
}


def test_fields_are_typed_and_cached_per_module() -> None:
    fake = FakeZoho()
    seen: list[list[str]] = []

    def handler(call: Call) -> Reply:
        seen.append(call.query["module"])
        return Reply(200, FIELDS)

    fake.route("GET", CRM.metadata_fields_path, handler)
    meta = MetadataClient(http_client(fake), CRM, lambda: BASE)
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        meta.fields("Leads")

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    specs = meta.fields("Leads")
    assert seen == [["Leads"]]  # fetched once for 9 callers
    by_name = meta.fields_by_name("Leads")
    assert [s.api_name for s in specs][:2] == ["Last_Name", "Annual_Revenue"]
    assert by_name["Last_Name"].mandatory
    assert by_name["Last_Name"].length == 80
    assert by_name["Annual_Revenue"].decimal_place == 2
    assert by_name["Lead_Status"].picklist_values == ("New", "Lost")
    assert by_name["Account_Name"].lookup_module == "Accounts"
    assert by_name["Owner"].read_only
    assert by_name["Email"].unique
    meta.fields("Contacts")
    assert seen == [["Leads"], ["Contacts"]]
    meta.clear_cache()
    meta.fields("Leads")
    assert len(seen) == 3


def test_recruit_path() -> None:
    fake = FakeZoho()
    fake.route("GET", "/recruit/v2/settings/fields", lambda c: Reply(200, FIELDS))
    assert len(MetadataClient(http_client(fake), RECRUIT, lambda: BASE).fields("Candidates")) == 6


@pytest.mark.parametrize("body", [{"data": []}, {"fields": [{"data_type": "text"}]}])
def test_malformed_metadata_is_unexpected(body: dict[str, object]) -> None:
    fake = FakeZoho()
    fake.route("GET", CRM.metadata_fields_path, lambda c: Reply(200, body))
    with pytest.raises(UnexpectedResponseError, match="Leads"):
        MetadataClient(http_client(fake), CRM, lambda: BASE).fields("Leads")
