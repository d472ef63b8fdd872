"""Write-back to Zoho through Bulk Write: mappings, pre-flight, CSV chunks, reconciliation.

Entry point for callers (flows, CLI): `write_table` (also the dry run), `resume_write`,
`retry_failed_rows`. Building blocks: `WriteMapping` / `load_mapping`, `preflight`,
`build_chunks`, `reconcile`. No network and no Prefect here: the transport is passed in
(``connectors.bulk_write.BulkWriteClient`` satisfies `BulkWriter`).
"""

from __future__ import annotations

from transforms.writeback.csv_builder import Chunk, build_chunks
from transforms.writeback.mapping import (
    ChildMapping,
    FieldMapping,
    Lookup,
    ParentChildMapping,
    WriteMapping,
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
