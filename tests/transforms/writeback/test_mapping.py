from __future__ import annotations

from pathlib import Path

import pytest

from transforms.writeback.dates import parse_pattern
from transforms.writeback.errors import MappingError
from transforms.writeback.mapping import (
    FieldMapping,
    Lookup,
    WriteMapping,
    load_mapping,
    mapping_from_dict,
    parse_mapping,
)

INSERT = "module: Leads\noperation: insert\nfields:\n"
FIELDS = "fields:\n  - {source: a, api_name: X}\n"
GOOD = """\
module: Contacts
operation: upsert
find_by: Email
ignore_empty: yes
key: contact_no
fields:
  - {source: last_name, api_name: Last_Name}
  - {source: email, api_name: Email}
  - {source: account, api_name: Account_Name, lookup: Account_Name}
  - {source: owner, api_name: Owner.id}
  - {source: dob, api_name: Date_of_Birth, format: dd/MM/yyyy}
  - source: status
    api_name: Lead_Status
    values: {1: Active, 2: Lost, true: New}
  - {api_name: Lead_Source, default: Trade Show}
  - {api_name: Opt_In, default: false}
"""


def test_yaml_mapping_loads_every_feature(tmp_path: Path) -> None:
    path = tmp_path / "contacts.yaml"
    path.write_text(GOOD)
    m = load_mapping(path)
    assert (m.module, m.operation, m.find_by, m.ignore_empty) == (
        "Contacts",
        "upsert",
        "Email",
        True,
    )
    assert m.key_column == "contact_no"
    account = m.field("Account_Name")
    owner = m.field("Owner")
    assert account is not None
    assert account.lookup == Lookup("Account_Name", "find_by")
    assert account.header == "Account_Name"
    assert owner is not None
    assert owner.lookup == Lookup("id", "header")
    assert owner.header == "Owner.id"
    status = m.field("Lead_Status")
    assert status is not None
    assert status.value_map == {"1": "Active", "2": "Lost", "true": "New"}
    source = m.field("Lead_Source")
    assert source is not None
    assert source.default_value == "Trade Show"
    assert source.source is None
    opt_in = m.field("Opt_In")
    assert opt_in is not None
    assert opt_in.default_value == "false"
    assert m.source_columns == (
        "last_name",
        "email",
        "account",
        "owner",
        "dob",
        "status",
        "contact_no",
    )


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (
            "module: Leads\noperation: merge\nfields:\n  - {source: a, api_name: Last_Name}\n",
            2,
            "operation",
        ),
        (
            "module: Leads\noperation: update\nfields:\n  - {source: a, api_name: Last_Name}\n",
            2,
            "find_by",
        ),
        (
            INSERT + "  - {source: a, api_nam: Last_Name}\n",
            4,
            "unknown key",
        ),
        (
            INSERT + "  - {source: a, api_name: X}\n  - {api_name: Y}\n",
            5,
            "default",
        ),
        (
            INSERT + "  - {source: d, api_name: D, format: yyyy-QQ}\n",
            4,
            "format",
        ),
        (
            INSERT + "  - {source: a, api_name: X}\n  - {source: b, api_name: X}\n",
            5,
            "twice",
        ),
        ("module: Leads\noperation: insert\nfields: [\n", 4, "YAML"),
        (
            "module: Leads\noperation: insert\nignore_empty: maybe\n" + FIELDS,
            3,
            "true or false",
        ),
        ("module: Leads\nmodule: Deals\n", 2, "twice"),
        ("operation: insert\nfields:\n  - {source: a, api_name: X}\n", 1, "module"),
        (
            INSERT + "  - {source: a, api_name: Acc.}\n",
            4,
            "Field.parent",
        ),
        (
            INSERT + "  - {source: s, api_name: S, values: {a: x, a: y}}\n",
            4,
            "repeats",
        ),
    ],
)
def test_mistakes_name_file_and_line(text: str, line: int, words: str) -> None:
    with pytest.raises(MappingError) as info:
        parse_mapping(text, origin="m.yaml")
    assert info.value.source == "m.yaml"
    assert info.value.line == line, str(info.value)
    assert words in str(info.value)
    assert str(info.value).startswith(f"m.yaml:{line}: ")


def test_missing_file_is_a_mapping_error(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="cannot read"):
        load_mapping(tmp_path / "nope.yaml")


def test_python_construction_validates() -> None:
    with pytest.raises(MappingError, match="find_by"):
        WriteMapping("Leads", "upsert", (FieldMapping("Last_Name", "a"),))
    with pytest.raises(MappingError, match="must be a mapped field"):
        WriteMapping("Leads", "update", (FieldMapping("Last_Name", "a"),), find_by="Email")
    with pytest.raises(MappingError, match="at most 200"):
        WriteMapping("Leads", "insert", tuple(FieldMapping(f"F{i}", f"c{i}") for i in range(201)))
    with pytest.raises(MappingError, match="Lookup"):
        FieldMapping("Account_Name.id", "a")
    with pytest.raises(MappingError, match="form"):
        Lookup("id", "dotted")  # type: ignore[arg-type]
    m = WriteMapping(
        "Leads", "update", (FieldMapping("id", "zid"), FieldMapping("Last_Name", "n")), find_by="id"
    )
    assert m.key_column == "zid"


def test_mapping_from_dict_round_trips() -> None:
    m = mapping_from_dict(
        {
            "module": "Leads",
            "operation": "insert",
            "fields": [{"source": "n", "api_name": "Last_Name"}],
        }
    )
    assert m.fields == (FieldMapping("Last_Name", "n"),)


def test_date_patterns() -> None:
    assert parse_pattern("yyyy-MM-dd").strftime == "%Y-%m-%d"
    p = parse_pattern("yyyy-MM-dd'T'HH:mm:ssXXX")
    assert (p.strftime, p.colon_offset, p.has_time) == ("%Y-%m-%dT%H:%M:%S%z", True, True)
    assert parse_pattern("MM/dd/yyyy hh:mm a").strftime == "%m/%d/%Y %I:%M %p"
    for bad in ("", "yyyy-QQ", "yyyy'T"):
        with pytest.raises(ValueError, match=r"format|pattern"):
            parse_pattern(bad)


def test_shipped_example_mapping_loads() -> None:
    example = (
        Path(__file__).parents[3] / "transforms" / "writeback" / "examples" / "candidates.yaml"
    )
    m = load_mapping(example)
    assert (m.module, m.operation, m.find_by, m.key_column) == (
        "Candidates",
        "upsert",
        "Email",
        "candidate_no",
    )
    status = m.field("Candidate_Status")
    assert status is not None
    assert status.value_map["R"] == "In Review"
