"""Warehouse loaders over SQLAlchemy URLs: DuckDB (default), PostgreSQL, generic fallback.

``open_warehouse(url)`` picks the loader from the URL's dialect:

- ``duckdb:///path/to/file.duckdb`` (or ``duckdb:///:memory:``): `DuckDbWarehouse`, Arrow
  scanned natively; ``?memory_limit=1GB`` overrides DuckDB's memory cap (default 256MB:
  a bigger cap merges big updates faster, a smaller one keeps the process smaller);
- ``postgresql://``, ``postgresql+psycopg://``: `PostgresWarehouse`, COPY fast path;
- anything else SQLAlchemy can reach: `GenericWarehouse` (``DataFrame.to_sql``).

Every loader stages a page and merges it on ``id`` in one transaction (see
`transforms.warehouse.base`) and marks deleted records with ``_zoho_deleted_at``.
"""

from __future__ import annotations

import sqlalchemy as sa

from transforms.warehouse.base import LoadHooks, MergeResult, Warehouse

DEFAULT_WAREHOUSE_URL = "duckdb:///data/warehouse.duckdb"


def open_warehouse(url: str = DEFAULT_WAREHOUSE_URL) -> Warehouse:
    """Open the warehouse named by a SQLAlchemy ``url``; close it (or use ``with``) after."""
    parsed = sa.engine.make_url(url)
    backend = parsed.get_backend_name()
    if backend == "duckdb":
        from transforms.warehouse.duckdb import DEFAULT_MEMORY_LIMIT, DuckDbWarehouse

        limit = parsed.query.get("memory_limit", DEFAULT_MEMORY_LIMIT)
        if not isinstance(limit, str):
            raise ValueError("give memory_limit once, e.g. duckdb:///w.duckdb?memory_limit=1GB")
        return DuckDbWarehouse(parsed.database or ":memory:", memory_limit=limit)
    if backend == "postgresql":
        from transforms.warehouse.postgres import PostgresWarehouse

        return PostgresWarehouse(url)
    from transforms.warehouse.generic import GenericWarehouse

    return GenericWarehouse(url)


__all__ = ["DEFAULT_WAREHOUSE_URL", "LoadHooks", "MergeResult", "Warehouse", "open_warehouse"]
