from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

from connectors.fields import FieldSpec
from engine.rest import csv_value, records_to_zip

FIELDS = (
    FieldSpec("Last_Name", "text"),
    FieldSpec("Owner", "ownerlookup"),
    FieldSpec("Tags", "multiselectpicklist"),
    FieldSpec("Email_Opt_Out", "boolean"),
    FieldSpec("Annual_Revenue", "currency"),
)


def test_rest_values_take_the_bulk_csv_form() -> None:
    assert csv_value({"id": "4876876000000327001", "name": "P. Boyle"}) == ("4876876000000327001")
    assert csv_value(["A", "B"]) == "A;B"
    assert csv_value(True) == "true"
    assert csv_value(None) == ""
    assert csv_value(0.1) == "0.1"
    assert csv_value(1234.5) == "1234.5"


def test_records_become_a_bulk_style_zip(tmp_path: Path) -> None:
    records = [
        {
            "id": "1",
            "Last_Name": 'Zoë "Q", line\nnext',
            "Owner": {"id": "9"},
            "Tags": ["x"],
            "Email_Opt_Out": False,
            "Annual_Revenue": 10.25,
        },
        {"id": "2", "Last_Name": "Plain"},
    ]
    path = tmp_path / "rest-x.zip"
    assert records_to_zip(records, FIELDS, path) == 2
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ["rest-x.csv"]
        rows = list(csv.reader(io.StringIO(zf.read("rest-x.csv").decode("utf-8"))))
    assert rows[0] == ["id", "Last_Name", "Owner", "Tags", "Email_Opt_Out", "Annual_Revenue"]
    assert rows[1] == ["1", 'Zoë "Q", line\nnext', "9", "x", "false", "10.25"]
    assert rows[2] == ["2", "Plain", "", "", "", ""]
