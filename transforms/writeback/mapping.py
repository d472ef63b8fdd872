"""Declarative mappings from source columns to the fields of one Zoho module.

A mapping says which module to write, how (``insert`` / ``update`` / ``upsert``), which
field identifies existing records (``find_by``) and, per target field, where its value
comes from: a source column, a default, a value map (e.g. status codes to picklist
values), a date ``format`` and, for lookup fields, how the parent record is found (by
``id`` or by a parent field; sent as ``field_mappings[].find_by`` or in the
``Lookup.Field`` header form).

Build one in Python (`WriteMapping`, `FieldMapping`, `Lookup`) or load it from YAML with
`load_mapping`::

    module: Contacts
    operation: upsert
    find_by: Email
    ignore_empty: true
    key: contact_no            # optional: source column naming rows in the results
    fields:
      - {source: last_name, api_name: Last_Name}
      - {source: email, api_name: Email}
      - {source: account, api_name: Account_Name, lookup: Account_Name}
      - {source: owner_id, api_name: Owner.id}           # header form, by id
      - {source: dob, api_name: Date_of_Birth, format: yyyy-MM-dd}
      - {source: status, api_name: Lead_Status, values: {A: Active, L: Lost}}
      - {api_name: Lead_Source, default: Trade Show}

A parent/child write (a module and its subform rows, one job; see
``engine.writeback.parent_child``) is one file read by `load_parent_child_mapping`:
the parent's keys plus ``parent_key`` (the parent source column that children name) and
``children``, each a module mapping of its own plus ``parent_key`` (the child source
column holding the parent's key)::

    module: Deals
    operation: insert
    parent_key: deal_ref
    fields:
      - {source: name, api_name: Deal_Name}
    children:
      - module: Deal_Line_Items
        parent_key: deal_ref
        source: table:deal_items   # optional: where the child rows come from
        fields:
          - {source: product, api_name: Product_Name}

Mistakes raise `MappingError` naming the file and line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import yaml

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


# ---------------------------------------------------------------------------------- YAML


def load_mapping(path: str | Path) -> WriteMapping:
    """Load a YAML mapping file; errors name the file and the line of the mistake."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"cannot read mapping file: {exc.strerror}", source=path) from None
    return parse_mapping(text, origin=str(path))


def parse_mapping(text: str, origin: str = "<mapping>") -> WriteMapping:
    """Parse mapping YAML text (see the module docstring for the format)."""
    return _mapping_node(_root(text, origin), origin)


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


def load_parent_child_mapping(path: str | Path) -> ParentChildMapping:
    """Load a parent/child YAML mapping file (errors name the file and line)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"cannot read mapping file: {exc.strerror}", source=path) from None
    return parse_parent_child_mapping(text, origin=str(path))


def parse_parent_child_mapping(text: str, origin: str = "<mapping>") -> ParentChildMapping:
    """Parse parent/child mapping YAML text (see the module docstring)."""
    root = _root(text, origin)
    top = _Obj(root, origin)
    top.allow({"module", "operation", "find_by", "ignore_empty", "key", "fields", "parent_key",
               "children"})  # fmt: skip
    parent_key = cast("str", top.string("parent_key", required=True))
    children_node = top.require("children")
    if not isinstance(children_node, yaml.SequenceNode) or not children_node.value:
        raise _err(origin, children_node, "'children' must be a non-empty list")
    children: list[ChildMapping] = []
    for item in children_node.value:
        if not isinstance(item, yaml.MappingNode):
            raise _err(origin, item, "each child must be a YAML object")
        node = _Obj(item, origin)
        child_key = cast("str", node.string("parent_key", required=True))
        child_source = node.string("source")
        child = _mapping_node(item, origin, extra={"parent_key", "source"})
        if any(c.mapping.module == child.module for c in children):
            raise _err(origin, item, f"child module {child.module} is listed twice")
        children.append(ChildMapping(child, child_key, child_source))
    parent = _mapping_node(root, origin, extra={"parent_key", "children"})
    return ParentChildMapping(parent, parent_key, tuple(children))


def has_children(path: str | Path) -> bool:
    """Whether a mapping file is a parent/child mapping (it has a top-level ``children``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"cannot read mapping file: {exc.strerror}", source=path) from None
    root = _root(text, str(path))
    return any(isinstance(k, yaml.ScalarNode) and k.value == "children" for k, _ in root.value)


def _root(text: str, origin: str) -> yaml.MappingNode:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise MappingError(f"not valid YAML: {exc.problem}", source=origin, line=line) from None
    if not isinstance(root, yaml.MappingNode):
        raise MappingError("the mapping must be a YAML object", source=origin, line=1)
    return root


def _mapping_node(
    root: yaml.MappingNode, origin: str, extra: frozenset[str] | set[str] = frozenset()
) -> WriteMapping:
    top = _Obj(root, origin)
    top.allow({"module", "operation", "find_by", "ignore_empty", "key", "fields", *extra})
    fields_node = top.require("fields")
    if not isinstance(fields_node, yaml.SequenceNode):
        raise _err(origin, fields_node, "'fields' must be a list")
    fields: list[FieldMapping] = []
    for item in fields_node.value:
        built = _field(item, origin)
        if any(f.api_name == built.api_name for f in fields):
            raise _err(origin, item, f"field {built.api_name} is mapped twice")
        fields.append(built)
    module = top.string("module", required=True)
    operation = top.string("operation", required=True)
    find_by = top.string("find_by")
    ignore_empty = top.boolean("ignore_empty", False)
    key = top.string("key")
    try:
        return WriteMapping(
            module=cast("str", module),
            operation=cast("Operation", operation),
            fields=tuple(fields),
            find_by=find_by,
            ignore_empty=ignore_empty,
            key=key,
            origin=origin,
        )
    except MappingError as exc:
        node = top.nodes.get(_blame_key(exc.problem), root)
        raise _err(origin, node, exc.problem) from None


def _blame_key(problem: str) -> str:
    for key in ("operation", "find_by", "module"):
        if key in problem:
            return key
    return "fields"


def _field(node: yaml.Node, origin: str) -> FieldMapping:
    if not isinstance(node, yaml.MappingNode):
        raise _err(origin, node, "each entry of 'fields' must be an object")
    obj = _Obj(node, origin)
    obj.allow({"source", "api_name", "lookup", "format", "default", "values"})
    api_name = cast("str", obj.string("api_name", required=True))
    lookup: Lookup | None = None
    if "." in api_name:
        api_name, _, by = api_name.partition(".")
        if not api_name or not by:
            raise _err(origin, obj.nodes["api_name"], "lookup header form is 'Field.parent'")
        lookup = Lookup(by=by, form="header")
    if "lookup" in obj.nodes:
        if lookup is not None:
            raise _err(origin, obj.nodes["lookup"], "give the lookup once: 'Field.x' or lookup")
        lookup = _lookup(obj.nodes["lookup"], origin)
    values: tuple[tuple[str, str], ...] = ()
    if "values" in obj.nodes:
        values = _value_map(obj.nodes["values"], origin)
    default = obj.scalar_text("default")
    try:
        return FieldMapping(
            api_name=api_name,
            source=obj.string("source"),
            lookup=lookup,
            format=obj.string("format"),
            default_value=default,
            values=values,
        )
    except MappingError as exc:
        blame = "format" if "format" in exc.problem else "api_name"
        raise _err(origin, obj.nodes.get(blame, node), exc.problem) from None


def _lookup(node: yaml.Node, origin: str) -> Lookup:
    if isinstance(node, yaml.ScalarNode):
        return Lookup(by=str(node.value))
    if not isinstance(node, yaml.MappingNode):
        raise _err(origin, node, "lookup must be a parent field name or {by:, form:}")
    obj = _Obj(node, origin)
    obj.allow({"by", "form"})
    try:
        return Lookup(
            by=obj.string("by") or "id",
            form=cast("LookupForm", obj.string("form") or "find_by"),
        )
    except MappingError as exc:
        raise _err(origin, node, exc.problem) from None


def _value_map(node: yaml.Node, origin: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(node, yaml.MappingNode):
        raise _err(origin, node, "'values' must map source values to Zoho values")
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or not isinstance(value_node, yaml.ScalarNode):
            raise _err(origin, key_node, "value map entries must be plain values")
        key = _scalar_to_text(key_node)
        if key in seen:
            raise _err(origin, key_node, f"value map repeats the key {key!r}")
        seen.add(key)
        pairs.append((key, _scalar_to_text(value_node)))
    return tuple(pairs)


def _scalar_to_text(node: yaml.ScalarNode) -> str:
    """YAML scalars as the text Zoho sees (booleans lower-case, numbers as written)."""
    if node.tag.endswith(":bool"):
        return "true" if _scalar_bool(node) else "false"
    if node.tag.endswith(":null"):
        return ""
    return str(node.value)


def _scalar_bool(node: yaml.ScalarNode) -> bool | None:
    if not node.tag.endswith(":bool"):
        return None
    return str(node.value).lower() in ("true", "yes", "on", "y")


def _err(origin: str, node: yaml.Node, problem: str) -> MappingError:
    return MappingError(problem, source=origin, line=node.start_mark.line + 1)


class _Obj:
    """A YAML mapping node with line-aware accessors."""

    def __init__(self, node: yaml.MappingNode, origin: str) -> None:
        self.node = node
        self.origin = origin
        self.nodes: dict[str, yaml.Node] = {}
        self.key_nodes: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in self.nodes:
                raise _err(origin, key_node, f"key {key!r} given twice")
            self.nodes[key] = value_node
            self.key_nodes[key] = key_node

    def allow(self, keys: set[str]) -> None:
        for key, key_node in self.key_nodes.items():
            if key not in keys:
                allowed = ", ".join(sorted(keys))
                raise _err(self.origin, key_node, f"unknown key {key!r} (allowed: {allowed})")

    def require(self, key: str) -> yaml.Node:
        if key not in self.nodes:
            raise _err(self.origin, self.node, f"missing required key {key!r}")
        return self.nodes[key]

    def string(self, key: str, required: bool = False) -> str | None:
        if key not in self.nodes:
            if required:
                self.require(key)
            return None
        node = self.nodes[key]
        if not isinstance(node, yaml.ScalarNode) or not str(node.value):
            raise _err(self.origin, node, f"{key!r} must be a non-empty text value")
        return str(node.value)

    def scalar_text(self, key: str) -> str | None:
        if key not in self.nodes:
            return None
        node = self.nodes[key]
        if not isinstance(node, yaml.ScalarNode):
            raise _err(self.origin, node, f"{key!r} must be a plain value")
        return _scalar_to_text(node)

    def boolean(self, key: str, default: bool) -> bool:
        if key not in self.nodes:
            return default
        node = self.nodes[key]
        value = _scalar_bool(node) if isinstance(node, yaml.ScalarNode) else None
        if value is None:
            raise _err(self.origin, node, f"{key!r} must be true or false")
        return value


def mapping_from_dict(data: Mapping[str, Any], origin: str = "<dict>") -> WriteMapping:
    """Build a mapping from plain data (same keys as the YAML form)."""
    return parse_mapping(yaml.safe_dump(dict(data), sort_keys=False), origin=origin)
