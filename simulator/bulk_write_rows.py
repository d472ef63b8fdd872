"""Bulk write processing: apply one uploaded CSV to a ``RecordStore``, row by row.

Follows docs/zoho-bulk-api.md §2.2-§2.6. For every row the processor reads the mapped
cells (``default_value`` fills empty ones), converts them to the stored form (dates and
datetimes from the mapping's ``format`` to ISO 8601, booleans ``true``/``false``,
multi-select values ``;``-joined, decimals to the field's places, lookups resolved by id
or by a parent field), then decides by ``operation`` and ``find_by``:

- insert: ``ADDED`` (``SKIPPED`` when ``find_by`` matches an existing record);
- update: ``UPDATED``; no match is ``UNPROCESSED`` with ``RESOURCE_NOT_FOUND-<find_by>``;
- upsert: ``UPDATED`` when matched, else ``ADDED``.

Per-row errors make the row ``UNPROCESSED``, joined as Zoho does:
``MANDATORY_NOT_FOUND-Company,Last_Name:DUPLICATE_DATA-Email``. Codes used:
``MANDATORY_NOT_FOUND`` (empty mandatory or find_by cell), ``INVALID_DATA`` (bad type,
date, e-mail, boolean, unresolvable lookup), ``DUPLICATE_DATA`` (a unique field's value
already taken), ``LIMIT_EXCEEDED`` (text or digits over the field's limit),
``RESOURCE_NOT_FOUND`` (update without a match), ``NOT_APPROVED`` / ``BLOCKED_RECORD``
(target record marked so by the admin API), ``CANNOT_PROCESS`` (a row whose column count
differs from the header).

Unknown picklist values are accepted (Zoho adds them to the picklist, §2.3).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from simulator.generator import User
from simulator.schema import DEFAULT_LENGTHS, FieldDef, ModuleSchema
from simulator.store import RecordStore

ADDED, UPDATED, SKIPPED, UNPROCESSED = "ADDED", "UPDATED", "SKIPPED", "UNPROCESSED"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_INTEGER = re.compile(r"^[+-]?(\d+)$")
_DECIMAL = re.compile(r"^[+-]?(\d+)(?:\.(\d+))?$")
_JAVA_TOKENS = {
    "yyyy": "%Y", "yy": "%y", "MMMM": "%B", "MMM": "%b", "MM": "%m", "dd": "%d",
    "HH": "%H", "hh": "%I", "mm": "%M", "ss": "%S", "a": "%p", "Z": "%z", "XXX": "%z",
}  # fmt: skip
_JAVA_TOKEN = re.compile(r"'[^']*'|([A-Za-z])\1*|[^A-Za-z']+")
INTEGER_DIGITS = {"integer": 9, "bigint": 19}
DECIMAL_DIGITS = 16


def java_to_strptime(pattern: str) -> str:
    """``yyyy-MM-dd'T'HH:mm:ssXXX`` -> ``%Y-%m-%dT%H:%M:%S%z``; ValueError if unsupported."""
    out: list[str] = []
    consumed = 0
    for match in _JAVA_TOKEN.finditer(pattern):
        token = match.group(0)
        consumed += len(token)
        if token.startswith("'"):
            out.append(token[1:-1] or "'")
        elif token[0].isalpha():
            if token not in _JAVA_TOKENS:
                raise ValueError(token)
            out.append(_JAVA_TOKENS[token])
        else:
            out.append(token)
    if consumed != len(pattern) or not pattern:
        raise ValueError(pattern)
    return "".join(out)


@dataclass(frozen=True)
class ColumnMap:
    """One validated ``field_mappings`` entry (or an auto-mapped header)."""

    api_name: str
    index: int | None
    header: str
    format: str | None = None
    find_by: str | None = None
    default: str | None = None


@dataclass
class RowResult:
    status: str
    record_id: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)
    #: the existing record a SKIPPED row matched (not in the result file)
    matched_id: str = ""

    @property
    def linked_id(self) -> str:
        """The record this row stands for: added, updated or matched ("" when it failed)."""
        return self.record_id or self.matched_id

    def error_text(self) -> str:
        return ":".join(
            f"{code}-{','.join(cols)}" if cols else code for code, cols in self.errors.items()
        )


@dataclass
class WriteCounts:
    added: int = 0
    updated: int = 0
    skipped: int = 0
    unprocessed: int = 0


class RowProcessor:
    """Applies rows of one job to one store (single-threaded per job)."""

    def __init__(
        self,
        store: RecordStore,
        parent_store: Callable[[str], RecordStore | None],
        operation: str,
        find_by: str | None,
        ignore_empty: bool,
        columns: Sequence[ColumnMap],
        width: int,
        utc_offset_minutes: int,
        blocked: Mapping[str, str],
    ) -> None:
        self.store = store
        self.schema: ModuleSchema = store.schema
        self.parent_store = parent_store
        self.operation = operation
        self.find_by = find_by
        self.ignore_empty = ignore_empty
        self.columns = list(columns)
        self.width = width
        self.tz = timezone(timedelta(minutes=utc_offset_minutes))
        self.blocked = blocked
        self.users: list[User] = store.users
        self._indexes: dict[tuple[str, str], dict[str, str]] = {}
        self.counts = WriteCounts()

    # -- indexes --------------------------------------------------------------------
    def _index(self, store: RecordStore, field_name: str) -> dict[str, str]:
        """value (normalised) -> record id, built once per job and kept current."""
        key = (store.module, field_name)
        if key not in self._indexes:
            index: dict[str, str] = {}
            for chunk in store.iter_chunks([field_name]):
                ids = chunk["id"].to_pylist()
                for value, record_id in zip(chunk[field_name].to_pylist(), ids, strict=True):
                    if value:
                        index.setdefault(_norm(value), record_id)
            self._indexes[key] = index
        return self._indexes[key]

    def _match(self, key: str) -> str | None:
        assert self.find_by is not None
        if self.find_by == "id":
            return key if self.store.index_of(key) is not None else None
        return self._index(self.store, self.find_by).get(_norm(key))

    # -- one row --------------------------------------------------------------------
    def process(self, row: Sequence[str]) -> RowResult:
        result = self._process(row)
        if result.status == ADDED:
            self.counts.added += 1
        elif result.status == UPDATED:
            self.counts.updated += 1
        elif result.status == SKIPPED:
            self.counts.skipped += 1
        else:
            self.counts.unprocessed += 1
        return result

    def _process(self, row: Sequence[str]) -> RowResult:
        if len(row) != self.width:
            return RowResult(UNPROCESSED, errors={"CANNOT_PROCESS": []})
        errors: dict[str, list[str]] = {}
        values: dict[str, str | None] = {}
        key: str | None = None
        for col in self.columns:
            raw = row[col.index] if col.index is not None else ""
            if raw == "" and col.default is not None:
                raw = col.default
            if col.api_name == "id":
                key = raw or None
                continue
            if raw == "":
                values[col.api_name] = None
                continue
            spec = self.schema.field(col.api_name)
            assert spec is not None
            converted, code = self._convert(spec, col, raw)
            if code is not None:
                errors.setdefault(code, []).append(col.header)
            else:
                values[col.api_name] = converted
        if self.find_by and self.find_by != "id":
            key = values.get(self.find_by)
        existing: str | None = None
        if self.find_by:
            if key:
                existing = self._match(key)
            elif self.operation in ("update", "upsert") and not _has(errors, self.find_by):
                errors.setdefault("MANDATORY_NOT_FOUND", []).append(self.find_by)
        action = self._action(existing, key, errors)
        if action == SKIPPED:
            return RowResult(SKIPPED, matched_id=existing or "")
        if action == ADDED:
            # a field whose cell was already reported (under its column header) is not missing
            reported = {c.api_name for c in self.columns if _has(errors, c.header)}
            for spec in self.schema.fields:
                missing = spec.mandatory and not spec.read_only and not values.get(spec.api_name)
                if missing and spec.api_name not in reported and not _has(errors, spec.api_name):
                    errors.setdefault("MANDATORY_NOT_FOUND", []).append(spec.api_name)
        if existing is not None and existing in self.blocked:
            errors.setdefault(self.blocked[existing], []).append(self.find_by or "id")
        self._check_unique(values, existing, errors)
        if errors:
            return RowResult(UNPROCESSED, errors=errors)
        if action == ADDED:
            record_id = self.store.insert({k: v for k, v in values.items() if v is not None})
            self._remember(values, record_id, None)
            return RowResult(ADDED, record_id)
        assert existing is not None
        changes = {k: v for k, v in values.items() if v is not None or not self.ignore_empty}
        before = self.store.get(existing) if self._unique_fields() else None
        self.store.update(existing, changes)
        self._remember(values, existing, before)
        return RowResult(UPDATED, existing)

    def _action(self, existing: str | None, key: str | None, errors: dict[str, list[str]]) -> str:
        if self.operation == "insert":
            return SKIPPED if existing is not None and not errors else ADDED
        if self.operation == "update":
            if existing is None and key and not errors:
                errors.setdefault("RESOURCE_NOT_FOUND", []).append(self.find_by or "id")
            return UPDATED
        return UPDATED if existing is not None else ADDED

    def _unique_fields(self) -> list[FieldDef]:
        return [f for f in self.schema.fields if f.unique]

    def _check_unique(
        self, values: Mapping[str, str | None], existing: str | None, errors: dict[str, list[str]]
    ) -> None:
        for spec in self._unique_fields():
            value = values.get(spec.api_name)
            if not value or _has(errors, spec.api_name):
                continue
            owner = self._index(self.store, spec.api_name).get(_norm(value))
            if owner is not None and owner != existing:
                errors.setdefault("DUPLICATE_DATA", []).append(spec.api_name)

    def _remember(
        self,
        values: Mapping[str, str | None],
        record_id: str,
        before: Mapping[str, str | None] | None,
    ) -> None:
        for (module, name), index in self._indexes.items():
            if module != self.store.module or name not in values:
                continue
            old = before.get(name) if before else None
            if old and index.get(_norm(old)) == record_id:
                del index[_norm(old)]
            new = values[name]
            if new:
                index[_norm(new)] = record_id

    # -- conversions ----------------------------------------------------------------
    def _convert(self, spec: FieldDef, col: ColumnMap, raw: str) -> tuple[str | None, str | None]:
        kind = spec.data_type
        if kind == "lookup":
            return self._lookup(spec, col, raw.strip())
        if kind == "ownerlookup":
            return self._owner(col, raw.strip())
        if kind in INTEGER_DIGITS:
            match = _INTEGER.match(raw.strip())
            if match is None:
                return None, "INVALID_DATA"
            if len(match.group(1)) > INTEGER_DIGITS[kind]:
                return None, "LIMIT_EXCEEDED"
            return str(int(raw)), None
        if kind in ("double", "currency", "percent"):
            return _decimal(raw.strip(), spec.decimal_place)
        if kind == "boolean":
            lowered = raw.strip().lower()
            return (lowered, None) if lowered in ("true", "false") else (None, "INVALID_DATA")
        if kind == "date":
            return self._date(raw.strip(), col.format, with_time=False)
        if kind == "datetime":
            return self._date(raw.strip(), col.format, with_time=True)
        if kind == "multiselectpicklist":
            parts = [p.strip() for p in raw.split(";") if p.strip()]
            return ";".join(parts), None
        if kind == "email" and _EMAIL.match(raw.strip()) is None:
            return None, "INVALID_DATA"
        limit = DEFAULT_LENGTHS.get(kind)
        if limit is not None and len(raw) > limit:
            return None, "LIMIT_EXCEEDED"
        return raw, None

    def _lookup(self, spec: FieldDef, col: ColumnMap, raw: str) -> tuple[str | None, str | None]:
        parent = self.parent_store(spec.lookup or "")
        if parent is None:
            return None, "INVALID_DATA"
        by = col.find_by or "id"
        if by == "id":
            return (raw, None) if parent.index_of(raw) is not None else (None, "INVALID_DATA")
        found = self._index(parent, by).get(_norm(raw))
        return (found, None) if found is not None else (None, "INVALID_DATA")

    def _owner(self, col: ColumnMap, raw: str) -> tuple[str | None, str | None]:
        by = col.find_by or "id"
        for user in self.users:
            if by == "id" and user.id == raw:
                return user.id, None
            if by == "email" and user.email.lower() == raw.lower():
                return user.id, None
            if by in ("full_name", "name") and user.full_name == raw:
                return user.id, None
        return None, "INVALID_DATA"

    def _date(self, raw: str, fmt: str | None, with_time: bool) -> tuple[str | None, str | None]:
        parsed = _parse_date(raw, fmt, with_time)
        if parsed is None:
            return None, "INVALID_DATA"
        if not with_time:
            value = parsed.date() if isinstance(parsed, datetime) else parsed
            return value.isoformat(), None
        assert isinstance(parsed, datetime)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=self.tz)
        return parsed.isoformat(), None


def _parse_date(raw: str, fmt: str | None, with_time: bool) -> datetime | date | None:
    """Parse with the mapping's format; without one accept Zoho's default and ISO 8601."""
    if fmt is not None:
        try:
            return datetime.strptime(raw, java_to_strptime(fmt))
        except ValueError:
            return None
    defaults = ("%m/%d/%Y %H:%M:%S",) if with_time else ("%m/%d/%Y",)
    for candidate in defaults:
        try:
            return datetime.strptime(raw, candidate)
        except ValueError:
            pass
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    if with_time and len(raw) <= 10:
        return None
    return value


def _decimal(raw: str, places: int | None) -> tuple[str | None, str | None]:
    match = _DECIMAL.match(raw)
    if match is None:
        return None, "INVALID_DATA"
    if len(match.group(1).lstrip("0")) > DECIMAL_DIGITS:
        return None, "LIMIT_EXCEEDED"
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None, "INVALID_DATA"
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return format(value, "f"), None


def _norm(value: str) -> str:
    return value.strip().lower()


def _has(errors: Mapping[str, list[str]], column: str) -> bool:
    return any(column in cols for cols in errors.values())
