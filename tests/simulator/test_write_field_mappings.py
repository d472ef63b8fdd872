"""``field_mappings`` the simulator refuses as Zoho does."""

from __future__ import annotations

from typing import Any

import pytest

from tests.simulator.writes import Writer, make_zip


@pytest.mark.parametrize(
    ("mappings", "extra", "code"),
    [
        ([{"api_name": "Nope", "index": 0}], {}, "INVALID_FIELD"),
        ([{"api_name": "Last_Name", "index": -1}], {}, "COLUMN_INDEX_NOT_FOUND"),
        ([{"api_name": "Last_Name", "index": 9}], {}, "COLUMN_INDEX_NOT_FOUND"),
        ([{"api_name": "Last_Name"}], {}, "MISSING_REQUIRED_KEY"),
        ([{"api_name": "Last_Name", "index": 0}], {}, "MANDATORY_FIELDS_NOT_MAPPED"),
        ([{"api_name": f"F{i}", "index": 0} for i in range(201)], {}, "HEADER_LIMIT_EXCEEDED"),
        ([{"api_name": "Last_Name", "index": 0}, {"api_name": "Company", "index": 1},
          {"api_name": "Follow_Up_Date", "index": 0, "format": "yyyy-QQ"}], {}, "INVALID_FORMAT"),
        ([{"api_name": "Last_Name", "index": 0}, {"api_name": "Company", "index": 1}],
         {"operation": "update"}, "MANDATORY_NOT_FOUND"),
        ([{"api_name": "Last_Name", "index": 0}, {"api_name": "Company", "index": 1}],
         {"find_by": "Company"}, "INVALID_DATA"),
        ([{"api_name": "Created_Time", "index": 0}], {}, "INVALID_FIELD"),
    ],
)  # fmt: skip
def test_field_mapping_errors(
    w: Writer, mappings: list[dict[str, Any]], extra: dict[str, Any], code: str
) -> None:
    file_id = w.upload(make_zip([["Last_Name", "Company"], ["A", "B"]]))
    resource = {"type": "data", "module": {"api_name": "Leads"}, "file_id": file_id,
                "field_mappings": mappings}  # fmt: skip
    operation = extra.pop("operation", "insert")
    resource.update(extra)
    response = w.create({"operation": operation, "resource": [resource]})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == code
