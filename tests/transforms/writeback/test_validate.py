from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pyarrow as pa
import pytest

from connectors.fields import FieldSpec
from transforms.writeback.csv_builder import csv_bytes
from transforms.writeback.errors import InvalidRowsError, PreflightError
from transforms.writeback.mapping import FieldMapping, Lookup, WriteMapping
from transforms.writeback.validate import Preflight, PreflightPolicy, enforce_policy, preflight


def contacts(
    operation: str = "insert", find_by: str | None = None, **extra: FieldMapping
) -> WriteMapping:
    fields = [
        FieldMapping("Last_Name", "last"),
        FieldMapping("Email", "email"),
        *extra.values(),
    ]
    return WriteMapping("Contacts", operation, tuple(fields), find_by=find_by)  # type: ignore[arg-type]


def sent_rows(result: Preflight) -> list[dict[str, str]]:
    """The rows exactly as the CSV sent to Zoho holds them."""
    text = csv_bytes(result.rendered).decode()
    return list(csv.DictReader(io.StringIO(text, newline="")))


def issues_of(result) -> list[tuple[int, str, str]]:  # type: ignore[no-untyped-def]
    return [(r["row"], r["code"], r["api_name"]) for r in result.issues.to_pylist()]


def test_valid_rows_render_exactly_as_zoho_expects(contact_fields: tuple[FieldSpec, ...]) -> None:
    table = pa.table(
        {
            "last": ["Ng", "Ødegård"],
            "email": ["a@x.io", "b@x.io"],
            "tags": [["A", "C"], []],
            "amount": [0.1 + 0.2, 1234567.5],
            "exact": pa.array([Decimal("1.10"), None], pa.decimal128(10, 2)),
            "score": [7, None],
            "opt": [True, False],
            "dob": pa.array([dt.date(1990, 1, 31), None], pa.date32()),
            "call": pa.array([dt.datetime(2025, 3, 1, 4, 45), None], pa.timestamp("s", tz="UTC")),
            "status": ["A", "L"],
            "acc": ["4150868000000225013", None],
        }
    )
    mapping = contacts(
        a=FieldMapping("Interests", "tags"),
        b=FieldMapping("Amount", "amount"),
        c=FieldMapping("First_Name", "exact"),
        d=FieldMapping("Score", "score"),
        e=FieldMapping("Opt_In", "opt"),
        f=FieldMapping("Date_of_Birth", "dob", format="MM/dd/yyyy"),
        g=FieldMapping("Last_Call", "call"),
        h=FieldMapping("Lead_Status", "status", values=(("A", "Active"), ("L", "Lost"))),
        i=FieldMapping("Account_Name", "acc", lookup=Lookup("id", "header")),
        j=FieldMapping("Lead_Source", default_value="Web"),
    )
    result = preflight(table, mapping, contact_fields)
    assert issues_of(result) == []
    assert result.rendered.column_names[-1] == "Account_Name.id"
    sent = sent_rows(result)
    assert sent[0] == {
        "Last_Name": "Ng",
        "Email": "a@x.io",
        "Interests": "A;C",
        "Amount": "0.3",
        "First_Name": "1.10",
        "Score": "7",
        "Opt_In": "true",
        "Date_of_Birth": "01/31/1990",
        "Last_Call": "2025-03-01T04:45:00+00:00",
        "Lead_Status": "Active",
        "Account_Name.id": "4150868000000225013",
    }
    second = sent[1]
    assert second["Interests"] == ""
    assert second["Amount"] == "1234567.5"
    assert second["Opt_In"] == "false"
    assert second["Score"] == ""
    assert result.rendered_text().column("Score").to_pylist() == ["7", None]
    by_name = {m["api_name"]: m for m in result.field_mappings}
    assert by_name["Date_of_Birth"] == {
        "api_name": "Date_of_Birth",
        "index": 7,
        "format": "MM/dd/yyyy",
    }
    assert by_name["Last_Call"]["format"] == "yyyy-MM-dd'T'HH:mm:ssXXX"
    assert by_name["Account_Name"] == {"api_name": "Account_Name", "index": 10, "find_by": "id"}
    assert by_name["Lead_Source"] == {"api_name": "Lead_Source", "default_value": {"value": "Web"}}
    assert result.summary()["valid"] == 2
    assert result.summary()["write_credits"] == 0


def test_every_row_check_reports_code_field_and_row(contact_fields: tuple[FieldSpec, ...]) -> None:
    table = pa.table(
        {
            "last": ["ok", None, "x" * 21, "ok", "ok", "ok"],
            "email": ["a@x.io", "b@x.io", "c@x.io", "not-mail", "e@x.io", "f@x.io"],
            "status": ["Active", "Bogus", None, None, None, None],
            "tags": ["A;B", "A;Z", None, None, None, None],
            "amount": ["1.25", "1.255", "12345678901234567", "abc", None, None],
            "score": ["1", "1234567890", "1.5", None, None, None],
            "opt": ["true", "yes", None, None, None, None],
            "dob": ["2020-01-31", "31/01/2020", "2020-02-30", None, None, None],
            "acc": ["123", "Acme", None, None, None, None],
        }
    )
    mapping = contacts(
        s=FieldMapping("Lead_Status", "status"),
        t=FieldMapping("Interests", "tags"),
        a=FieldMapping("Amount", "amount"),
        c=FieldMapping("Score", "score"),
        o=FieldMapping("Opt_In", "opt"),
        d=FieldMapping("Date_of_Birth", "dob"),
        l=FieldMapping("Account_Name", "acc"),
    )
    result = preflight(table, mapping, contact_fields)
    found = set(issues_of(result))
    assert found == {
        (1, "MANDATORY_NOT_FOUND", "Last_Name"),
        (1, "INVALID_DATA", "Lead_Status"),
        (1, "INVALID_DATA", "Interests"),
        (1, "INVALID_DATA", "Amount"),
        (1, "INVALID_DATA", "Score"),
        (1, "INVALID_DATA", "Opt_In"),
        (1, "INVALID_DATA", "Date_of_Birth"),
        (1, "INVALID_DATA", "Account_Name"),
        (2, "LIMIT_EXCEEDED", "Last_Name"),
        (2, "INVALID_DATA", "Amount"),
        (2, "INVALID_DATA", "Score"),
        (2, "INVALID_DATA", "Date_of_Birth"),
        (3, "INVALID_DATA", "Email"),
        (3, "INVALID_DATA", "Amount"),
    }
    assert list(result.valid) == [True, False, False, False, True, True]
    messages = {(r["row"], r["api_name"]): r["message"] for r in result.issues.to_pylist()}
    assert messages[(1, "Date_of_Birth")] == "'31/01/2020' does not match format yyyy-MM-dd"
    assert "2 decimal places" in messages[(1, "Amount")]
    assert "longer than 20 characters" in messages[(2, "Last_Name")]


def test_unknown_picklist_values_can_be_allowed(contact_fields: tuple[FieldSpec, ...]) -> None:
    table = pa.table({"last": ["a"], "email": ["a@x.io"], "s": ["Brand new"], "t": ["A;New"]})
    mapping = contacts(s=FieldMapping("Lead_Status", "s"), t=FieldMapping("Interests", "t"))
    assert len(preflight(table, mapping, contact_fields).issues) == 2
    allowed = preflight(table, mapping, contact_fields, PreflightPolicy(unknown_picklist="allow"))
    assert len(allowed.issues) == 0


def test_duplicate_find_by_keys_keep_the_first(contact_fields: tuple[FieldSpec, ...]) -> None:
    table = pa.table(
        {"last": list("abcde"), "email": ["a@x.io", "B@x.io", "b@X.io", None, "a@x.io"]}
    )
    result = preflight(table, contacts("upsert", "Email"), contact_fields)
    assert issues_of(result) == [
        (2, "DUPLICATE_DATA", "Email"),
        (3, "MANDATORY_NOT_FOUND", "Email"),
        (4, "DUPLICATE_DATA", "Email"),
    ]
    assert result.keys.to_pylist() == ["a@x.io", "B@x.io", "b@X.io", None, "a@x.io"]


def test_update_needs_only_the_find_by_key(contact_fields: tuple[FieldSpec, ...]) -> None:
    mapping = WriteMapping(
        "Contacts",
        "update",
        (FieldMapping("Email", "email"), FieldMapping("First_Name", "f")),
        find_by="Email",
    )
    table = pa.table({"email": ["a@x.io", None], "f": [None, "x"]})
    result = preflight(table, mapping, contact_fields)
    assert issues_of(result) == [(1, "MANDATORY_NOT_FOUND", "Email")]


def test_default_fills_mandatory_cells(contact_fields: tuple[FieldSpec, ...]) -> None:
    mapping = WriteMapping(
        "Contacts",
        "insert",
        (
            FieldMapping("Last_Name", "last", default_value="Unknown"),
            FieldMapping("Email", "email"),
        ),
    )
    result = preflight(pa.table({"last": [None], "email": ["a@x.io"]}), mapping, contact_fields)
    assert issues_of(result) == []
    assert result.field_mappings[0] == {
        "api_name": "Last_Name",
        "index": 0,
        "default_value": {"value": "Unknown"},
    }


@pytest.mark.parametrize(
    ("mapping", "words"),
    [
        (
            WriteMapping("Contacts", "insert", (FieldMapping("Email", "email"),)),
            "MANDATORY_FIELDS_NOT_MAPPED: Last_Name",
        ),
        (contacts(x=FieldMapping("Nope", "email")), "INVALID_FIELD Nope"),
        (contacts(x=FieldMapping("Created_Time", "email")), "read-only"),
        (contacts(x=FieldMapping("Score", "email", format="yyyy-MM-dd")), "has a format"),
        (
            contacts(x=FieldMapping("Date_of_Birth", "email", format="yyyy-MM-dd HH:mm")),
            "has a time",
        ),
        (contacts(x=FieldMapping("Score", "email", lookup=Lookup("id"))), "has a lookup"),
        (contacts(x=FieldMapping("Score", "missing")), "source columns not in the input: missing"),
        (contacts(x=FieldMapping("Lead_Source", default_value="Nope")), "default of Lead_Source"),
    ],
)
def test_batch_faults_raise_before_anything_is_sent(
    contact_fields: tuple[FieldSpec, ...], mapping: WriteMapping, words: str
) -> None:
    with pytest.raises(PreflightError, match=words):
        preflight(pa.table({"last": ["a"], "email": ["a@x.io"]}), mapping, contact_fields)


def test_stop_policy_raises_with_the_first_issue(contact_fields: tuple[FieldSpec, ...]) -> None:
    result = preflight(
        pa.table({"last": ["a", None], "email": ["a@x.io", "b@x.io"]}), contacts(), contact_fields
    )
    enforce_policy(result, PreflightPolicy(on_invalid="send_valid"))
    with pytest.raises(
        InvalidRowsError, match=r"1 of 2 rows .* row 1 MANDATORY_NOT_FOUND-Last_Name"
    ):
        enforce_policy(result, PreflightPolicy(on_invalid="stop"))
    with pytest.raises(InvalidRowsError) as info:
        enforce_policy(result, PreflightPolicy(on_invalid="stop"))
    assert info.value.issues is result.issues


def test_floats_never_go_out_in_exponent_form() -> None:
    specs = [FieldSpec("Last_Name", "text"), FieldSpec("Budget", "double")]
    mapping = WriteMapping(
        "Leads", "insert", (FieldMapping("Last_Name", "n"), FieldMapping("Budget", "b"))
    )
    tiny = preflight(pa.table({"n": ["a", "b"], "b": [1e-7, 2.5]}), mapping, specs)
    assert [r["Budget"] for r in sent_rows(tiny)] == ["0.0000001", "2.5"]
    huge = preflight(pa.table({"n": ["a", "b"], "b": [1e15, 0.1 + 0.2]}), mapping, specs)
    assert [r["Budget"] for r in sent_rows(huge)] == ["1000000000000000", "0.3"]
    plain = preflight(pa.table({"n": ["a"], "b": [0.1 + 0.2]}), mapping, specs)
    assert plain.rendered.column("Budget").type == pa.float64()  # written by write_csv itself
    assert sent_rows(plain)[0]["Budget"] == "0.3"


def test_threaded_preflight_equals_single_threaded(contact_fields: tuple[FieldSpec, ...]) -> None:
    n = 20_000  # the size where columns start running on threads
    table = pa.table({
        "last": [f"L{i}" if i % 97 else None for i in range(n)],
        "email": [f"u{i}@x.io" if i % 89 else "bad" for i in range(n)],
        "tags": [["A", "B"] if i % 83 else ["Z"] for i in range(n)],
        "status": ["a" if i % 2 else "l" for i in range(n)],
        "score": list(range(n)),
    })  # fmt: skip
    mapping = WriteMapping("Contacts", "insert", (
        FieldMapping("Last_Name", "last"), FieldMapping("Email", "email"),
        FieldMapping("Interests", "tags"),
        FieldMapping("Lead_Status", "status", values=(("a", "Active"), ("l", "Lost"))),
        FieldMapping("Score", "score"),
    ))  # fmt: skip
    one = preflight(table, mapping, contact_fields, workers=1)
    two = preflight(table, mapping, contact_fields, workers=2)
    assert two.rendered.equals(one.rendered)
    assert two.rendered.column_names == ["Last_Name", "Email", "Interests", "Lead_Status", "Score"]
    assert (two.valid == one.valid).all()
    assert two.issues.equals(one.issues)
    assert one.issues.num_rows > 0
