from __future__ import annotations

import pytest

from connectors.criteria import (
    EMPTY,
    Condition,
    Group,
    all_of,
    any_of,
    criteria_to_json,
    iter_conditions,
    validate_criteria,
    where,
)
from connectors.errors import QueryValidationError
from connectors.fields import FieldSpec

INCOMPATIBLE = "FIELD_AND_COMPARATOR_IN_CRITERIA_NOT_COMPATIBLE"
FIELDS = {
    f.api_name: f
    for f in (
        FieldSpec("Lead_Source", "picklist"),
        FieldSpec("Annual_Revenue", "currency"),
        FieldSpec("Modified_Time", "datetime"),
        FieldSpec("Email_Opt_Out", "boolean"),
        FieldSpec("Owner", "ownerlookup"),
        FieldSpec("Description", "textarea"),
        FieldSpec("No_of_Employees", "integer"),
    )
}


def test_builder_produces_the_v8_json() -> None:
    crit = where("Lead_Source").is_in(["Web", "Ads"]) & where("Modified_Time").between(
        "2025-01-01T00:00:00+00:00", "2025-01-31T23:59:59+00:00"
    )
    assert criteria_to_json(crit) == {
        "group_operator": "and",
        "group": [
            {"field": {"api_name": "Lead_Source"}, "comparator": "in", "value": ["Web", "Ads"]},
            {
                "field": {"api_name": "Modified_Time"},
                "comparator": "between",
                "value": ["2025-01-01T00:00:00+00:00", "2025-01-31T23:59:59+00:00"],
            },
        ],
    }


def test_v2_form_puts_api_name_on_the_criterion() -> None:
    assert criteria_to_json(where("Rating").equals("Hot"), field_as_object=False) == {
        "api_name": "Rating",
        "comparator": "equal",
        "value": "Hot",
    }


def test_groups_nest_and_flatten() -> None:
    a, b, c = where("A").equals(1), where("B").equals(2), where("C").equals(3)
    assert all_of(all_of(a, b), c).items == (a, b, c)
    nested = a & (b | c)
    assert isinstance(nested.items[1], Group)
    assert nested.items[1].operator == "or"
    assert list(iter_conditions(any_of(a, nested))) == [a, a, b, c]
    assert Group("AND", (a, b)).operator == "and"  # upper case accepted, normalised


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: Condition("A", "like", "x"), "unknown comparator"),
        (lambda: Condition("A", "in", "x"), "needs a list"),
        (lambda: Condition("A", "between", ["x"]), "exactly 2"),
        (lambda: Condition("A", "equal", ["x", "y"]), "takes one value"),
        (lambda: Condition("", "equal", "x"), "needs a field"),
        (lambda: Group("xor", (where("A").equals(1), where("B").equals(2))), "'and' or 'or'"),
        (lambda: Group("and", (where("A").equals(1),)), "at least two"),
    ],
)
def test_malformed_conditions_are_refused(build: object, match: str) -> None:
    with pytest.raises(QueryValidationError, match=match):
        build()  # type: ignore[operator]


def test_at_most_25_conditions() -> None:
    ok = all_of(*(where(f"F{i}").equals(i) for i in range(25)))
    validate_criteria(ok)
    too_many = all_of(ok, where("F25").equals(25))
    with pytest.raises(QueryValidationError) as info:
        validate_criteria(too_many)
    assert info.value.code == "CRITERIA_LIMIT_EXCEEDED"
    assert info.value.details == {"max_limit": 25}
    assert "26 criteria" in str(info.value)


@pytest.mark.parametrize(
    "crit",
    [
        where("Lead_Source").starts_with("W"),
        where("Annual_Revenue").greater_equal(1000),
        where("Modified_Time").not_between("2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z"),
        where("Email_Opt_Out").equals(True),
        where("Owner").is_in(["4876876000000327001"]),
        where("Owner.last_name").equals("Boyle"),
        where("$converted").equals(False),
        where("No_of_Employees").is_empty(),
    ],
)
def test_comparators_valid_for_the_type_pass(crit: Condition) -> None:
    validate_criteria(crit, FIELDS)


@pytest.mark.parametrize(
    ("crit", "code"),
    [
        (where("Annual_Revenue").contains("1"), INCOMPATIBLE),
        (where("Lead_Source").greater_than("W"), INCOMPATIBLE),
        (where("Email_Opt_Out").not_equals(True), INCOMPATIBLE),
        (where("Owner").starts_with("48"), INCOMPATIBLE),
        (where("Modified_Time").contains("2025"), INCOMPATIBLE),
        (where("Description").contains("x"), "FIELD_IN_CRITERIA_NOT_SUPPORTED"),
        (where("Nope").equals("x"), "FIELD_IN_CRITERIA_NOT_AVAILABLE"),
        (where("Lead_Source.Name").equals("x"), "FIELD_IN_CRITERIA_NOT_SUPPORTED"),
    ],
)
def test_comparators_invalid_for_the_type_fail(crit: Condition, code: str) -> None:
    with pytest.raises(QueryValidationError) as info:
        validate_criteria(all_of(where("Lead_Source").equals("Web"), crit), FIELDS)
    assert info.value.code == code
    assert crit.field.split(".")[0] in str(info.value)


def test_empty_marker() -> None:
    assert where("X").is_empty().value == EMPTY == "${EMPTY}"
