"""What a write mapping is: the typed model that `transforms.writeback.mapping` parses into.

`WriteMapping` (module, operation, ``find_by``, fields), `FieldMapping` (where one target
field's value comes from), `Lookup` (how a lookup field's parent is found), and for a
parent/child write `ParentChildMapping` / `ChildMapping`. Each checks its own invariants on
construction; mistakes raise `MappingError`. The YAML format is described in
`transforms.writeback.mapping`, which re-exports every name here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from transforms.writeback.dates import parse_pattern
from transforms.writeback.errors import MappingError

Operation = Literal["insert", "update", "upsert"]


LookupForm = Literal["find_by", "header"]


OPERATIONS: tuple[Operation, ...] = ("insert", "update", "upsert")


MAX_MAPPED_COLUMNS = 200


@dataclass(frozen=True)
class Lookup:
    """How a lookup field's parent record is found: by ``id`` or by a parent field."""

    by: str = "id"
    form: LookupForm = "find_by"

    def __post_init__(self) -> None:
        if not self.by or not isinstance(self.by, str):
            raise MappingError("lookup 'by' must name 'id' or a field of the parent module")
        if self.form not in ("find_by", "header"):
            raise MappingError(f"lookup form must be 'find_by' or 'header', not {self.form!r}")

    @property
    def by_id(self) -> bool:
        return self.by == "id"


@dataclass(frozen=True)
class FieldMapping:
    """One target field and where its value comes from."""

    api_name: str
    source: str | None = None
    lookup: Lookup | None = None
    format: str | None = None
    default_value: str | None = None
    values: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not self.api_name or not isinstance(self.api_name, str):
            raise MappingError("every field needs an api_name")
        if "." in self.api_name:
            raise MappingError(
                f"api_name {self.api_name!r}: give lookups as Lookup(by=..., form='header') "
                "or use load_mapping's 'Field.parent' shorthand"
            )
        if self.source is None and self.default_value is None:
            raise MappingError(f"field {self.api_name}: needs a 'source' column or a 'default'")
        if self.format is not None:
            try:
                parse_pattern(self.format)
            except ValueError as exc:
                raise MappingError(f"field {self.api_name}: bad format: {exc}") from None
        keys = [k for k, _ in self.values]
        if len(set(keys)) != len(keys):
            raise MappingError(f"field {self.api_name}: value map repeats a key")

    @property
    def header(self) -> str:
        """The CSV column header: ``api_name`` or ``api_name.parent_field`` (header form)."""
        if self.lookup is not None and self.lookup.form == "header":
            return f"{self.api_name}.{self.lookup.by}"
        return self.api_name

    @property
    def value_map(self) -> dict[str, str]:
        return dict(self.values)


@dataclass(frozen=True)
class WriteMapping:
    """Everything needed to turn a source table into bulk write jobs for one module."""

    module: str
    operation: Operation
    fields: tuple[FieldMapping, ...]
    find_by: str | None = None
    ignore_empty: bool = False
    key: str | None = None
    origin: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.module or not isinstance(self.module, str):
            raise MappingError("mapping needs a module api name", source=self.origin)
        if self.operation not in OPERATIONS:
            raise MappingError(
                f"operation must be one of {', '.join(OPERATIONS)}, not {self.operation!r}",
                source=self.origin,
            )
        if not self.fields:
            raise MappingError(f"mapping for {self.module} maps no fields", source=self.origin)
        names = [f.api_name for f in self.fields]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise MappingError(f"fields mapped twice: {', '.join(repeated)}", source=self.origin)
        if len(self.fields) > MAX_MAPPED_COLUMNS:
            raise MappingError(
                f"{len(self.fields)} fields mapped; Zoho accepts at most {MAX_MAPPED_COLUMNS}",
                source=self.origin,
            )
        if self.operation in ("update", "upsert") and not self.find_by:
            raise MappingError(
                f"operation {self.operation} needs find_by (a unique field or 'id')",
                source=self.origin,
            )
        if self.find_by:
            target = self.field(self.find_by)
            if target is None or target.source is None:
                raise MappingError(
                    f"find_by {self.find_by!r} must be a mapped field with a source column",
                    source=self.origin,
                )

    def field(self, api_name: str) -> FieldMapping | None:
        for f in self.fields:
            if f.api_name == api_name:
                return f
        return None

    @property
    def key_column(self) -> str | None:
        """The source column that names input rows in results (``key``, else find_by's)."""
        if self.key:
            return self.key
        if self.find_by:
            found = self.field(self.find_by)
            return found.source if found else None
        return None

    @property
    def source_columns(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for f in self.fields:
            if f.source is not None:
                seen.setdefault(f.source, None)
        if self.key:
            seen.setdefault(self.key, None)
        return tuple(seen)


@dataclass(frozen=True)
class ChildMapping:
    """A child module's mapping, the child source column holding its parent's key, and
    where its rows come from (``source``: as the write's own source; optional, a caller
    may give it instead).
    """

    mapping: WriteMapping
    parent_key: str
    source: str | None = None


@dataclass(frozen=True)
class ParentChildMapping:
    """A parent mapping, its key column, and its children (file order)."""

    parent: WriteMapping
    parent_key: str
    children: tuple[ChildMapping, ...]
