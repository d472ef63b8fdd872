from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from simulator.criteria import parse_criteria
from simulator.default_modules import DEFAULT_SCHEMAS
from simulator.errors import InvalidQueryError
from simulator.testing import SimServer
from tests.simulator.conftest import ZohoCaller

LEADS = DEFAULT_SCHEMAS[("crm", "Leads")]
FIELDS = ["Lead_Source", "Annual_Revenue", "Modified_Time", "Follow_Up_Date", "Email_Opt_Out",
          "Owner", "Owner.last_name", "Product_Interest", "Last_Name", "Lead_Score"]  # fmt: skip


def _c(field: str, comparator: str, value: Any) -> dict[str, Any]:
    return {"field": {"api_name": field}, "comparator": comparator, "value": value}


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _num(text: str) -> float:
    return float(text) if text else float("inf")


A, B, C = "2024-01-01T00:00:00+05:30", "2024-03-31T23:59:59-07:00", "2025-01-01T00:00:00Z"
Row = dict[str, str]
CASES: list[tuple[dict[str, Any], Callable[[Row], bool]]] = [
    (_c("Lead_Source", "equal", "Web"), lambda r: r["Lead_Source"] == "Web"),
    (_c("Lead_Source", "not_equal", "Web"), lambda r: r["Lead_Source"] != "Web"),
    (_c("Lead_Source", "in", ["Web", "Chat"]), lambda r: r["Lead_Source"] in ("Web", "Chat")),
    (_c("Lead_Source", "not_in", ["Web", "Chat"]),
     lambda r: r["Lead_Source"] not in ("Web", "Chat")),
    (_c("Lead_Source", "equal", "${EMPTY}"), lambda r: r["Lead_Source"] == ""),
    (_c("Lead_Source", "not_equal", "${EMPTY}"), lambda r: r["Lead_Source"] != ""),
    (_c("Last_Name", "starts_with", "ko"), lambda r: r["Last_Name"].lower().startswith("ko")),
    (_c("Last_Name", "ends_with", "SKI"), lambda r: r["Last_Name"].lower().endswith("ski")),
    (_c("Last_Name", "contains", "ü"), lambda r: "ü" in r["Last_Name"].lower()),
    (_c("Last_Name", "not_contains", "a"), lambda r: "a" not in r["Last_Name"].lower()),
    (_c("Product_Interest", "equal", "Desk"), lambda r: "Desk" in r["Product_Interest"].split(";")),
    (_c("Annual_Revenue", "greater_than", 5_000_000),
     lambda r: r["Annual_Revenue"] != "" and float(r["Annual_Revenue"]) > 5_000_000),
    (_c("Annual_Revenue", "less_equal", "1000000.5"),
     lambda r: r["Annual_Revenue"] != "" and float(r["Annual_Revenue"]) <= 1_000_000.5),
    (_c("Lead_Score", "in", [1, 2, 3]), lambda r: r["Lead_Score"] in ("1", "2", "3")),
    (_c("Modified_Time", "greater_equal", "2025-06-01T00:00:00+00:00"),
     lambda r: _t(r["Modified_Time"]) >= _t("2025-06-01T00:00:00+00:00")),
    (_c("Modified_Time", "between", [A, B]), lambda r: _t(A) <= _t(r["Modified_Time"]) <= _t(B)),
    (_c("Modified_Time", "not_between", [A, C]),
     lambda r: not _t(A) <= _t(r["Modified_Time"]) <= _t(C)),
    (_c("Follow_Up_Date", "less_than", "2023-06-01"),
     lambda r: r["Follow_Up_Date"] != "" and r["Follow_Up_Date"] < "2023-06-01"),
    (_c("Email_Opt_Out", "equal", True), lambda r: r["Email_Opt_Out"] == "true"),
    (_c("id", "greater_than", "4876876020000001000"), lambda r: int(r["id"]) > 4876876020000001000),
    (_c("id", "in", ["4876876020000000007", 4876876020000000008]),
     lambda r: r["id"] in ("4876876020000000007", "4876876020000000008")),
    (_c("Owner", "equal", "4876876000000327001"), lambda r: r["Owner"] == "4876876000000327001"),
    (_c("Owner.last_name", "equal", "Boyle"), lambda r: r["Owner.last_name"] == "Boyle"),
    ({"group_operator": "or", "group": [
        _c("Lead_Source", "equal", "Web"),
        {"group_operator": "AND", "group": [
            _c("Email_Opt_Out", "equal", "false"),
            _c("Annual_Revenue", "less_than", 100_000)]}]},
     lambda r: r["Lead_Source"] == "Web"
     or (r["Email_Opt_Out"] == "false" and _num(r["Annual_Revenue"]) < 100_000)),
]  # fmt: skip


@pytest.fixture
def all_leads(crm: ZohoCaller) -> list[Row]:
    return crm.read_all({"module": {"api_name": "Leads"}, "fields": FIELDS})


def test_every_comparator_selects_the_right_records(
    sim: SimServer, crm: ZohoCaller, all_leads: list[Row]
) -> None:
    sim.state.configure(job_seconds=(0.0, 0.0), downloads_per_minute=1000)
    for criteria, expected in CASES:
        query = {"module": {"api_name": "Leads"}, "fields": ["Last_Name"], "criteria": criteria}
        got = {r["id"] for r in crm.read_all(query)}
        want = {r["id"] for r in all_leads if expected(r)}
        assert got == want, criteria
        assert 0 < len(want) < len(all_leads), f"criteria should select a real subset: {criteria}"


def test_criteria_are_echoed_with_field_objects(crm: ZohoCaller) -> None:
    criteria = {"group_operator": "AND", "group": [
        {"api_name": "Lead_Source", "comparator": "equal", "value": "Web"},
        _c("Email_Opt_Out", "equal", True)]}  # fmt: skip
    job_id = crm.create_ok({"module": {"api_name": "Leads"}, "criteria": criteria})
    echoed = crm.details(job_id)["query"]["criteria"]
    assert echoed["group_operator"] == "and"
    assert echoed["group"][0]["field"]["api_name"] == "Lead_Source"


@pytest.mark.parametrize(
    ("criteria", "code"),
    [
        (_c("Nope", "equal", "x"), "FIELD_IN_CRITERIA_NOT_AVAILABLE"),
        (_c("Description", "contains", "x"), "FIELD_IN_CRITERIA_NOT_SUPPORTED"),
        (_c("Annual_Revenue", "contains", "1"),
         "FIELD_AND_COMPARATOR_IN_CRITERIA_NOT_COMPATIBLE"),
        (_c("Email_Opt_Out", "not_equal", True), "FIELD_AND_COMPARATOR_IN_CRITERIA_NOT_COMPATIBLE"),
        (_c("Owner", "starts_with", "48"), "FIELD_AND_COMPARATOR_IN_CRITERIA_NOT_COMPATIBLE"),
        (_c("Lead_Source", "between", ["a", "b"]),
         "FIELD_AND_COMPARATOR_IN_CRITERIA_NOT_COMPATIBLE"),
        (_c("Lead_Source", "like", "x"), "INVALID_CRITERIA"),
        (_c("Lead_Source", "in", "Web"), "COMPARATOR_AND_VALUE_IN_CRITERIA_NOT_COMPATIBLE"),
        (_c("Lead_Source", "equal", ["Web"]), "COMPARATOR_AND_VALUE_IN_CRITERIA_NOT_COMPATIBLE"),
        (_c("Modified_Time", "between", ["2024-01-01T00:00:00Z"]),
         "COMPARATOR_AND_VALUE_IN_CRITERIA_NOT_COMPATIBLE"),
        (_c("Annual_Revenue", "equal", "lots"), "FIELD_AND_VALUE_IN_CRITERIA_NOT_COMPATIBLE"),
        (_c("Modified_Time", "equal", "2024-01-01"), "FIELD_AND_VALUE_IN_CRITERIA_NOT_COMPATIBLE"),
        (_c("Modified_Time", "equal", "2024-01-01T00:00:00.123+00:00"),
         "FIELD_AND_VALUE_IN_CRITERIA_NOT_COMPATIBLE"),
        (_c("Follow_Up_Date", "equal", "2024-13-01"), "FIELD_AND_VALUE_IN_CRITERIA_NOT_COMPATIBLE"),
        (_c("Owner", "equal", "Patricia"), "FIELD_AND_VALUE_IN_CRITERIA_NOT_COMPATIBLE"),
        (_c("id", "equal", "12.5"), "FIELD_AND_VALUE_IN_CRITERIA_NOT_COMPATIBLE"),
        (_c("id", "equal", "1" * 20), "FIELD_AND_VALUE_IN_CRITERIA_NOT_COMPATIBLE"),
        (_c("Lead_Source", "equal", "x" * 256), "FIELD_AND_VALUE_IN_CRITERIA_NOT_COMPATIBLE"),
        (_c("Lead_Source", "in", []), "VALUE_IN_CRITERIA_NOT_SUPPORTED"),
        ({"group_operator": "xor", "group": [_c("Lead_Source", "equal", "Web")]},
         "GROUP_OPERATOR_NOT_SUPPORTED"),
        ({"group": [_c("Lead_Source", "equal", "Web"), _c("Lead_Source", "equal", "Chat")]},
         "AMBIGUOUS_GROUP_IN_CRITERIA"),
        ({**_c("Lead_Source", "equal", "Web"), "group": []}, "AMBIGUOUS_CRITERIA"),
        ({"comparator": "equal"}, "INVALID_CRITERIA"),
        ({"group_operator": "and", "group": []}, "INVALID_CRITERIA"),
        ("Lead_Source = Web", "INVALID_CRITERIA"),
    ],
)  # fmt: skip
def test_invalid_criteria_over_http(crm: ZohoCaller, criteria: Any, code: str) -> None:
    response = crm.create({"module": {"api_name": "Leads"}, "criteria": criteria})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == code


def test_comparator_error_lists_the_supported_ones(crm: ZohoCaller) -> None:
    response = crm.create(
        {"module": {"api_name": "Leads"}, "criteria": _c("Email_Opt_Out", "in", [True])}
    )
    assert response.json()["details"] == {
        "comparator": "in",
        "api_name": "Email_Opt_Out",
        "supported": ["equal"],
    }


def test_more_than_25_criteria(crm: ZohoCaller) -> None:
    group = [_c("Lead_Score", "not_equal", i) for i in range(26)]
    response = crm.create(
        {"module": {"api_name": "Leads"}, "criteria": {"group_operator": "and", "group": group}}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "CRITERIA_LIMIT_EXCEEDED"
    assert response.json()["details"] == {"max_limit": 25}
    ok = crm.create(
        {"module": {"api_name": "Leads"},
         "criteria": {"group_operator": "and", "group": group[:25]}}
    )  # fmt: skip
    assert ok.status_code == 201


def test_nested_groups_count_every_leaf() -> None:
    leaf = _c("Lead_Score", "equal", 1)
    nested = {"group_operator": "or", "group": [
        {"group_operator": "and", "group": [leaf] * 13},
        {"group_operator": "and", "group": [leaf] * 13}]}  # fmt: skip
    with pytest.raises(InvalidQueryError) as error:
        parse_criteria(nested, LEADS, lambda _m: None)
    assert error.value.code == "CRITERIA_LIMIT_EXCEEDED"


def test_dotted_criteria_on_a_lookup_parent(crm: ZohoCaller) -> None:
    contacts = crm.read_all(
        {"module": {"api_name": "Contacts"}, "fields": ["Account_Name.Industry"],
         "criteria": _c("Account_Name.Industry", "equal", "Retail")}
    )  # fmt: skip
    assert contacts
    assert {c["Account_Name.Industry"] for c in contacts} == {"Retail"}
    bad = crm.create(
        {"module": {"api_name": "Contacts"}, "criteria": _c("Account_Name.Nope", "equal", "x")}
    )
    assert bad.json()["code"] == "FIELD_IN_CRITERIA_NOT_AVAILABLE"
