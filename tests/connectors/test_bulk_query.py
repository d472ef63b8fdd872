from __future__ import annotations

import json
import logging

import pytest

from connectors.bulk_query import (
    BulkReadQuery,
    bulk_read_selection,
    check_field_names,
    criteria_from_json,
)
from connectors.criteria import all_of, where
from connectors.errors import FatalError, QueryValidationError
from connectors.fields import FieldSpec
from connectors.products import CRM, RECRUIT
from simulator.testing import SimServer
from tests.connectors.simhelpers import sim_client


def test_query_bodies_per_product() -> None:
    q = BulkReadQuery(
        "Leads", fields=("Last_Name", "Email"), criteria=where("Rating").equals("Hot"), cvid="123"
    )
    assert q.to_body(CRM, callback_url="https://cb") == {
        "query": {
            "module": {"api_name": "Leads"},
            "page": 1,
            "fields": ["Last_Name", "Email"],
            "cvid": "123",
            "criteria": {"field": {"api_name": "Rating"}, "comparator": "equal", "value": "Hot"},
        },
        "callback": {"url": "https://cb", "method": "post"},
    }
    assert q.to_body(RECRUIT)["query"]["module"] == "Leads"
    assert q.to_body(RECRUIT)["query"]["criteria"]["api_name"] == "Rating"
    assert BulkReadQuery("Leads", page_token="abc").to_body(CRM) == {"query": {"page_token": "abc"}}
    assert BulkReadQuery("Events", file_type="ics").to_body(CRM)["file_type"] == "ics"


def test_query_state_round_trip() -> None:
    crit = all_of(where("A").is_in(["x", "y"]), where("B").equals(1) | where("C").equals(2))
    q = BulkReadQuery("Leads", fields=("A",), criteria=crit, page=3, page_token="t")
    again = BulkReadQuery.from_state(json.loads(json.dumps(q.to_state())))
    assert again == q
    assert criteria_from_json({"api_name": "A", "comparator": "equal", "value": 1}) == (
        where("A").equals(1)
    )


def test_client_side_validation() -> None:
    with pytest.raises(QueryValidationError, match="at most 200"):
        BulkReadQuery("Leads", fields=tuple(f"F{i}" for i in range(201))).validate(CRM)
    with pytest.raises(QueryValidationError, match="duplicate"):
        BulkReadQuery("Leads", fields=("A", "A"))
    with pytest.raises(QueryValidationError, match="ICS"):
        BulkReadQuery("Events", fields=("A",), file_type="ics")
    with pytest.raises(QueryValidationError, match="page"):
        BulkReadQuery("Leads", page=0)
    with pytest.raises(QueryValidationError, match="past the last page"):
        BulkReadQuery("Leads", page=501).validate(CRM)
    meta = {"Last_Name": FieldSpec("Last_Name", "text"), "Owner": FieldSpec("Owner", "ownerlookup")}
    BulkReadQuery("Leads", fields=("Last_Name", "Owner.last_name", "id", "$converted")).validate(
        CRM, meta
    )
    with pytest.raises(QueryValidationError, match="Nope"):
        BulkReadQuery("Leads", fields=("Nope",)).validate(CRM, meta)


@pytest.mark.parametrize(
    "name", ["Bad Name", 'x";DROP TABLE t;--', "1st", "a..b", "Owner.", "$", ""]
)
def test_a_field_that_is_not_an_api_name_is_refused_naming_module_and_field(name: str) -> None:
    with pytest.raises(QueryValidationError) as info:
        BulkReadQuery("Leads", fields=("Last_Name", name)).validate(CRM)
    assert isinstance(info.value, FatalError)
    assert info.value.code == "INVALID_FIELD_NAME"
    assert f"Leads: field {name!r}" in str(info.value)
    assert "\n" not in str(info.value)


def test_check_field_names_accepts_api_names_lookup_paths_and_pseudo_fields() -> None:
    check_field_names("Leads", ["Last_Name", "Owner.last_name", "$converted", "id", "X__c"])
    with pytest.raises(QueryValidationError, match="'Bad-Name'"):
        check_field_names("Leads", ["Last_Name", "Bad-Name"])


EXTERNAL = FieldSpec.from_api(
    {"api_name": "Ext_Id", "data_type": "text", "external": {"show": True, "type": "user"}}
)
PLAIN = FieldSpec.from_api({"api_name": "Name", "data_type": "text", "external": None})


def test_the_selection_leaves_out_external_fields_and_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert EXTERNAL.external
    assert not PLAIN.external
    with caplog.at_level(logging.INFO, logger="connectors.bulk_query"):
        selection = bulk_read_selection([PLAIN, EXTERNAL], "Accounts")
    assert [f.api_name for f in selection.fields] == ["Name"]
    assert list(selection.left_out) == ["Ext_Id"]
    assert "external field" in selection.left_out["Ext_Id"]
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("bulk read of Accounts leaves out 1 field(s) it cannot export: Ext_Id")
    assert bulk_read_selection([PLAIN]).left_out == {}


def test_asking_for_an_external_field_is_refused_before_any_job(sim: SimServer) -> None:
    client = sim_client(sim, "crm")
    try:
        query = BulkReadQuery("Accounts", fields=("Account_Name", "External_Account_Id"))
        with pytest.raises(QueryValidationError) as info:
            client.bulk_read.create_job(query, check_metadata=True)
        message = str(info.value)
        assert "Accounts field External_Account_Id cannot be exported by bulk read" in message
        assert "\n" not in message
        assert isinstance(info.value, FatalError)
        assert sim.state.stats.snapshot()["total_jobs"] == 0
    finally:
        client.close()
