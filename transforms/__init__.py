"""Pure data transformations: Zoho bulk CSVs to typed Arrow, Parquet and warehouse tables.

No network and no Prefect imports here. The entry point flows call per downloaded page is
`load_page`; `open_warehouse` opens the warehouse named by a SQLAlchemy URL.
"""

from __future__ import annotations

from transforms.drift import DriftReport
from transforms.pipeline import PageLoadResult, default_table_name, load_page
from transforms.warehouse import LoadHooks, MergeResult, Warehouse, open_warehouse

__all__ = [
    "DriftReport",
    "LoadHooks",
    "MergeResult",
    "PageLoadResult",
    "Warehouse",
    "default_table_name",
    "load_page",
    "open_warehouse",
]
