"""Records as Get Records v2.1 shows them (``zoho-creator-api.md`` §2).

Every value is a string (numbers ``"70.00"``, decision boxes ``"true"``), a multi-select a
list, a lookup ``{"<display field>": ..., "ID": ..., "zc_display_value": ...}``; empty values
are ``""`` (``[]`` for a multi-select).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from simulator.creator.store import INDEX, FormStore


def json_records(store: FormStore, table: pa.Table) -> list[dict[str, Any]]:
    names = [n for n in table.column_names if n != INDEX]
    columns: dict[str, list[Any]] = {}
    for name in names:
        values = table[name].combine_chunks()
        spec = store.form.field(name)
        texts = values.to_pylist()
        if spec is not None and spec.is_lookup:
            shown = store.display_values(name, values).to_pylist()
            parent_field = _parent_display_field(store, name)
            columns[name] = [
                {parent_field: d or "", "ID": i, "zc_display_value": d or ""} if i else ""
                for i, d in zip(texts, shown, strict=True)
            ]
        elif spec is not None and spec.kind == "multi":
            columns[name] = [t.split(",") if t else [] for t in texts]
        else:
            columns[name] = ["" if t is None else t for t in texts]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _parent_display_field(store: FormStore, name: str) -> str:
    spec = store.form.field(name)
    parent = store.values.app.form(spec.lookup_form or "") if spec is not None else None
    return parent.display_field if parent is not None else "zc_display_value"
