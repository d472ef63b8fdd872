"""Write-back building blocks: mappings, pre-flight, CSV chunks, reconciliation, sinks.

`WriteMapping` / `load_mapping` (one module) and `load_parent_child_mapping` (a parent and
its subforms), `preflight`, `build_chunks`, `reconcile`, and the result sinks. Pure
functions over Arrow tables: no network, no Prefect. The driver that sends chunks and
resumes a write (`write_table`, `resume_write`, `write_parent_child`) is
``engine.writeback``.
"""

from __future__ import annotations

from transforms.writeback.csv_builder import Chunk, build_chunks
from transforms.writeback.mapping import (
    ChildMapping,
    FieldMapping,
    Lookup,
    ParentChildMapping,
    WriteMapping,
    has_children,
    load_mapping,
    load_parent_child_mapping,
    mapping_from_dict,
    parse_mapping,
    parse_parent_child_mapping,
)
from transforms.writeback.reconcile import (
    RESULT_SCHEMA,
    apply_record_ids,
    parse_errors,
    reconcile,
    summarize,
    write_results_parquet,
)
from transforms.writeback.sinks import write_record_ids_sql, write_results_warehouse
from transforms.writeback.validate import Preflight, PreflightPolicy, preflight

__all__ = [
    "RESULT_SCHEMA",
    "ChildMapping",
    "Chunk",
    "FieldMapping",
    "Lookup",
    "ParentChildMapping",
    "Preflight",
    "PreflightPolicy",
    "WriteMapping",
    "apply_record_ids",
    "build_chunks",
    "has_children",
    "load_mapping",
    "load_parent_child_mapping",
    "mapping_from_dict",
    "parse_errors",
    "parse_mapping",
    "parse_parent_child_mapping",
    "preflight",
    "reconcile",
    "summarize",
    "write_record_ids_sql",
    "write_results_parquet",
    "write_results_warehouse",
]
