"""Parent/child writes without a network: zip layout, job body, pre-flight links, failures."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pytest

from connectors.fields import FieldSpec
from engine.writeback.parent_child import ChildWrite, write_parent_child
from transforms.writeback import FieldMapping, WriteMapping, parse_parent_child_mapping
from transforms.writeback.errors import InvalidRowsError, MappingError, PreflightError
from transforms.writeback.validate import PreflightPolicy

DEAL_FIELDS = (
    FieldSpec("Deal_Name", "text", mandatory=True),
    FieldSpec("Stage", "picklist", picklist_values=("Open", "Won")),
)
ITEM_FIELDS = (
    FieldSpec("Parent_Id", "lookup", lookup_module="Deals", mandatory=True),
    FieldSpec("Product_Name", "text", mandatory=True),
    FieldSpec("Quantity", "integer"),
)
DEALS = WriteMapping(
    "Deals", "insert", (FieldMapping("Deal_Name", "name"), FieldMapping("Stage", "stage")),
    key="ref",
)  # fmt: skip
ITEMS = WriteMapping(
    "Deal_Line_Items", "insert",
    (FieldMapping("Product_Name", "product"), FieldMapping("Quantity", "qty")),
)  # fmt: skip


def deals() -> pa.Table:
    return pa.table({"ref": ["a", "b", "c"], "name": ["A", "B", None],
                     "stage": ["Open", "Won", "Open"]})  # fmt: skip


def items(refs: list[str | None] | None = None) -> pa.Table:
    refs = refs if refs is not None else ["a", "a", "b", "c", "x"]
    return pa.table({"deal": refs, "product": [f"P{i}" for i in range(len(refs))],
                     "qty": list(range(len(refs)))})  # fmt: skip


class ParentChildWriter:
    """Answers one parent/child job: every CSV row is ADDED with a made-up id."""

    def __init__(self, status: str = "COMPLETED") -> None:
        self.status = status
        self.zip: bytes = b""
        self.body: Mapping[str, Any] = {}

    def upload(self, zip_bytes: bytes, filename: str) -> str:
        self.zip = zip_bytes
        return "file-1"

    def create_job(self, body: Mapping[str, Any]) -> str:
        self.body = body
        return "77"

    def wait_for_job(self, job_id: str) -> Mapping[str, Any]:
        return {"id": job_id, "status": self.status,
                "resource": [{"module": {"api_name": r["module"]["api_name"]},
                              "file": {"total_count": 1}} for r in self.body["resource"]],
                "result": {"download_url": "https://download.example/77.zip"}}  # fmt: skip

    def csvs(self) -> dict[str, list[list[str]]]:
        with zipfile.ZipFile(io.BytesIO(self.zip)) as zf:
            return {n: list(csv.reader(io.StringIO(zf.read(n).decode()))) for n in zf.namelist()}

    def download_result(self, download_url: str) -> bytes:
        sink = io.BytesIO()
        with zipfile.ZipFile(sink, "w") as zf:
            for name, rows in self.csvs().items():
                out = io.StringIO()
                w = csv.writer(out)
                w.writerow([*rows[0][:3], "STATUS", "RECORD_ID", "ERRORS"])
                for n, row in enumerate(rows[1:]):
                    w.writerow([*row[:3], "ADDED", f"{len(name)}00{n}", ""])
                zf.writestr(f"{name.removesuffix('.csv')}-{name}", out.getvalue())
        return sink.getvalue()


def child(table: pa.Table | None = None, mapping: WriteMapping = ITEMS) -> ChildWrite:
    return ChildWrite(items() if table is None else table, mapping, ITEM_FIELDS, "deal")


def test_one_zip_one_job_parent_first_children_linked() -> None:
    writer = ParentChildWriter()
    report = write_parent_child(deals(), DEALS, DEAL_FIELDS, [child()], writer, parent_key="ref")
    csvs = writer.csvs()
    assert list(csvs) == ["Deals.csv", "Deal_Line_Items.csv"]
    assert csvs["Deals.csv"] == [["_parent_key", "Deal_Name", "Stage"], ["a", "A", "Open"],
                                 ["b", "B", "Won"]]  # fmt: skip
    assert csvs["Deal_Line_Items.csv"] == [["_parent_key", "Product_Name", "Quantity"],
                                           ["a", "P0", "0"], ["a", "P1", "1"],
                                           ["b", "P2", "2"]]  # fmt: skip
    parent, item = writer.body["resource"]
    assert (parent["file_id"], item["file_id"]) == ("file-1", "file-1")
    assert (parent["file_names"], item["file_names"]) == (["Deals.csv"], ["Deal_Line_Items.csv"])
    assert parent["field_mappings"] == [{"api_name": "Deal_Name", "index": 1},
                                        {"api_name": "Stage", "index": 2}]  # fmt: skip
    assert item["field_mappings"][0] == {"api_name": "Parent_Id", "index": 0,
                                         "parent_column_index": 0}  # fmt: skip
    assert report.counts["Deals"] == {"rows": 3, "added": 2, "updated": 0, "skipped": 0,
                                      "failed": 0, "rejected": 1}  # fmt: skip
    assert report.counts["Deal_Line_Items"]["added"] == 3
    assert report.counts["Deal_Line_Items"]["rejected"] == 2  # its parent "c" and "x" unsent
    assert report.credits_estimate == 500
    results = report.results["Deal_Line_Items"]
    assert results.column("status").to_pylist() == ["ADDED"] * 3 + ["REJECTED"] * 2


def test_dry_run_sends_nothing_and_counts_per_module() -> None:
    report = write_parent_child(deals(), DEALS, DEAL_FIELDS, [child()], parent_key="ref",
                                dry_run=True)  # fmt: skip
    assert report.job_id is None
    assert report.zipped_bytes > 0
    assert report.counts == {"Deals": {"rows": 3, "valid": 2, "rejected": 1},
                             "Deal_Line_Items": {"rows": 5, "valid": 3, "rejected": 2}}  # fmt: skip
    messages = report.issues["Deal_Line_Items"].column("message").to_pylist()
    assert messages == ["parent key 'c' names no parent row that is sent",
                        "parent key 'x' names no parent row that is sent"]  # fmt: skip


def test_failed_job_fails_every_sent_row_of_every_module() -> None:
    writer = ParentChildWriter(status="FAILED")
    report = write_parent_child(deals(), DEALS, DEAL_FIELDS, [child()], writer, parent_key="ref")
    assert report.failure is not None
    assert report.counts["Deals"]["failed"] == 2
    assert report.counts["Deal_Line_Items"]["failed"] == 3


def test_policy_stop_raises_before_sending() -> None:
    writer = ParentChildWriter()
    with pytest.raises(InvalidRowsError):
        write_parent_child(deals(), DEALS, DEAL_FIELDS, [child()], writer, parent_key="ref",
                           policy=PreflightPolicy(on_invalid="stop"))  # fmt: skip
    assert writer.zip == b""


@pytest.mark.parametrize(
    ("kw", "why"),
    [
        ({"parent": deals().set_column(0, "ref", pa.array(["a", "a", "b"]))}, "repeat"),
        ({"mapping": WriteMapping("Deal_Line_Items", "insert", (
            FieldMapping("Product_Name", "product"), FieldMapping("Parent_Id", "deal")))},
         "parent link"),
        ({"fields": ITEM_FIELDS[1:]}, "not a subform"),
        ({"parent_key": "nope"}, "link column 'nope'"),
    ],
)  # fmt: skip
def test_batch_faults(kw: dict[str, Any], why: str) -> None:
    parent = kw.get("parent", deals())
    kid = ChildWrite(items(), kw.get("mapping", ITEMS), kw.get("fields", ITEM_FIELDS), "deal")
    with pytest.raises(PreflightError, match=why):
        write_parent_child(parent, DEALS, DEAL_FIELDS, [kid], ParentChildWriter(),
                           parent_key=kw.get("parent_key", "ref"))  # fmt: skip


PARENT_CHILD_YAML = """\
module: Deals
operation: insert
key: ref
parent_key: ref
fields:
  - {source: name, api_name: Deal_Name}
  - {source: stage, api_name: Stage}
children:
  - module: Deal_Line_Items
    operation: insert
    parent_key: deal
    fields:
      - {source: product, api_name: Product_Name}
      - {source: qty, api_name: Quantity}
"""


def test_mapping_file_with_children_drives_a_write() -> None:
    loaded = parse_parent_child_mapping(PARENT_CHILD_YAML, origin="deals.yaml")
    assert loaded.parent == DEALS
    assert loaded.parent_key == "ref"
    (kid,) = loaded.children
    assert (kid.mapping, kid.parent_key) == (ITEMS, "deal")
    writer = ParentChildWriter()
    report = write_parent_child(
        deals(), loaded.parent, DEAL_FIELDS,
        [ChildWrite(items(), kid.mapping, ITEM_FIELDS, kid.parent_key)],
        writer, parent_key=loaded.parent_key,
    )  # fmt: skip
    assert report.counts["Deal_Line_Items"]["added"] == 3


@pytest.mark.parametrize(
    ("text", "line", "why"),
    [
        (PARENT_CHILD_YAML.replace("    parent_key: deal\n", ""), 9, "parent_key"),
        (PARENT_CHILD_YAML.replace("children:", "kids:"), 8, "unknown key 'kids'"),
        (PARENT_CHILD_YAML.replace("      - {source: qty", "      - {sorce: qty"), 14, "sorce"),
    ],
)
def test_mapping_file_mistakes_name_the_line(text: str, line: int, why: str) -> None:
    with pytest.raises(MappingError, match=why) as caught:
        parse_parent_child_mapping(text, origin="deals.yaml")
    assert caught.value.line == line
    assert "deals.yaml" in str(caught.value)


def test_more_than_200_children_on_one_parent_are_rejected_before_sending() -> None:
    refs: list[str | None] = [*(["a"] * 201), *(["b"] * 200)]
    writer = ParentChildWriter()
    report = write_parent_child(deals(), DEALS, DEAL_FIELDS, [child(items(refs))], writer,
                                parent_key="ref")  # fmt: skip
    sent = writer.csvs()
    assert [r[0] for r in sent["Deals.csv"][1:]] == ["b"]
    assert {r[0] for r in sent["Deal_Line_Items.csv"][1:]} == {"b"}
    assert len(sent["Deal_Line_Items.csv"]) == 1 + 200
    parents = report.results["Deals"]
    assert parents.column("status").to_pylist() == ["REJECTED", "ADDED", "REJECTED"]
    too_many = (
        "parent key 'a' has 201 Deal_Line_Items rows; Zoho takes at most 200 per parent, "
        "so neither the parent nor its children are sent"
    )
    assert parents.column("message")[0].as_py() == f"Deal_Line_Items: {too_many}"
    kids = report.results["Deal_Line_Items"]
    assert kids.column("status").to_pylist() == ["REJECTED"] * 201 + ["ADDED"] * 200
    assert set(kids.column("message").to_pylist()[:201]) == {f"Parent_Id: {too_many}"}
    assert report.counts["Deal_Line_Items"]["rejected"] == 201
