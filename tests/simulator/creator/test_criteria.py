from __future__ import annotations

import pyarrow as pa
import pytest

from simulator.creator.criteria import (
    Both,
    Comparison,
    CriteriaError,
    FieldKinds,
    Literal,
    Not,
    check,
    evaluate,
    parse,
)

KINDS = FieldKinds(
    {
        "ID": "id",
        "Name": "text",
        "Amount": "number",
        "Due": "date",
        "Seen": "datetime",
        "Tags": "multi",
        "Flag": "decision",
        "Customer": "lookup",
    },
    "%d-%b-%Y",
    "%d-%b-%Y %H:%M:%S",
)
TABLE = pa.table(
    {
        "ID": ["100", "101", "102", "103"],
        "Name": ['Acme "North"', "Beta", None, "Acme South"],
        "Amount": ["250.43", "10.00", "999.99", None],
        "Due": ["14-Apr-2020", "01-Jan-2021", None, "27-Feb-2026"],
        "Seen": ["14-Apr-2020 10:00:00", "14-Apr-2020 09:00:00", None, "01-Jan-2026 00:00:00"],
        "Tags": ["Urgent,VIP", "VIP", None, "Bulk"],
        "Flag": ["true", "false", "false", "true"],
        "Customer": ["5001", "5002", None, "5001"],
    }
)


def rows(text: str) -> list[str]:
    node = parse(text)
    check(node, KINDS)
    return TABLE.filter(evaluate(node, TABLE, KINDS))["ID"].to_pylist()


def test_parse_builds_the_tree_with_precedence() -> None:
    node = parse('A == "x" || B == 1 && !(C != 2.5)')
    assert node == Both(
        "||",
        Comparison("A", "==", Literal("string", "x")),
        Both(
            "&&",
            Comparison("B", "==", Literal("number", "1")),
            Not(Comparison("C", "!=", Literal("number", "2.5"))),
        ),
    )


def test_comparisons_and_logic_select_the_right_rows() -> None:
    assert rows("Amount > 100") == ["100", "102"]
    assert rows('Amount == 250.43 || Name.startswith("Beta")') == ["100", "101"]
    assert rows('Name.contains("Acme") && !(Flag == false)') == ["100", "103"]
    assert rows('Name == "Acme \\"North\\""') == ["100"]
    assert rows("ID != 0") == ["100", "101", "102", "103"]
    assert rows("ID >= 102") == ["102", "103"]
    assert rows("Name == null") == ["102"]
    assert rows("Amount != null") == ["100", "101", "102"]
    assert rows('Tags == "VIP"') == ["100", "101"]
    assert rows('Tags != "VIP"') == ["102", "103"]
    assert rows("Customer == 5001") == ["100", "103"]


def test_dates_in_the_app_format_single_or_double_quoted() -> None:
    assert rows("Due < '01-Jan-2021'") == ["100"]
    assert rows('Due <= "01-Jan-2021"') == ["100", "101"]
    assert rows("Seen > '14-Apr-2020 09:30:00'") == ["100", "103"]
    assert rows("Seen >= '14-Apr-2020'") == ["100", "101", "103"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("Total=250.43", "unexpected '='"),
        ("", "empty"),
        ("Amount > ", "ends too early"),
        ("(Amount > 1", "ends too early"),
        ("Amount > 1)", "after a complete criteria"),
        ("Amount 1", "expected a comparison"),
        ('Name.equals("x")', "unknown method"),
        ("Nope == 1", "not a field"),
        ('Amount == "x"', "takes a number"),
        ("Due < '2020-04-14'", "not a date"),
        ("Flag == 1", "true or false"),
        ('Tags > "VIP"', "cannot be compared"),
        ("Name == 1", "string in double quotes"),
        ("ID == 1.5", "whole number"),
        ('Amount.contains("1")', "needs a text field"),
        ("Amount < null", "compared with null"),
    ],
)
def test_refuses_what_is_not_criteria(text: str, fragment: str) -> None:
    with pytest.raises(CriteriaError, match=fragment.replace("(", r"\(")):
        check(parse(text), KINDS)
