"""Each Zoho module as one Delta Lake table (delta-rs): see `transforms.lake.table`."""

from __future__ import annotations

from transforms.lake.table import DEFAULT_VACUUM_RETENTION, LakeTable, PageCommit
from transforms.lake.types import lake_schema, lake_type, to_lake_table

__all__ = [
    "DEFAULT_VACUUM_RETENTION",
    "LakeTable",
    "PageCommit",
    "lake_schema",
    "lake_type",
    "to_lake_table",
]
