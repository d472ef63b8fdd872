"""Render source columns as the exact text Zoho's bulk write CSV expects.

One vectorised pass per mapped column (pyarrow.compute, no Python loop over rows):

- multi-select values (Arrow lists) joined with ``;``;
- dates and datetimes written with the mapping's ``format`` (or the toolkit default,
  which is then also sent as ``format``); naive timestamps are taken as UTC;
- booleans as ``true`` / ``false``;
- floats as plain decimals without float noise (rounded to the field's decimal places,
  never in exponent form); integers and decimals as written;
- value maps applied to the rendered text (e.g. status code ``A`` -> ``Active``);
- empty strings become empty cells (null).

Validation (`transforms.writeback.validate`) checks the rendered text, so what is
validated is byte for byte what is sent.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from connectors.fields import DECIMAL_TYPES, INTEGER_TYPES, FieldSpec
from transforms.writeback.dates import (
    DEFAULT_DATE_FORMAT,
    DEFAULT_DATETIME_FORMAT,
    parse_pattern,
)
from transforms.writeback.mapping import FieldMapping

DATE_TYPES = frozenset({"date"})
DATETIME_TYPES = frozenset({"datetime"})
_MAX_SCALE = 9
_FAST_LIMIT = 2.0**53  # integers up to here are exact in a float64
_PLAIN_MIN, _PLAIN_MAX = 1e-5, 1e15  # Arrow writes doubles outside this range as 1e+15


def effective_format(fm: FieldMapping, spec: FieldSpec | None) -> str | None:
    """The date format sent for a column: the mapping's, else the default for its type."""
    if fm.format is not None:
        return fm.format
    if spec is not None and spec.data_type in DATE_TYPES:
        return DEFAULT_DATE_FORMAT
    if spec is not None and spec.data_type in DATETIME_TYPES:
        return DEFAULT_DATETIME_FORMAT
    return None


def csv_column(
    column: pa.Array | pa.ChunkedArray, fm: FieldMapping, spec: FieldSpec | None
) -> pa.Array:
    """The column as it goes into the CSV: typed where Arrow's CSV form is Zoho's, else text.

    Booleans (``true``/``false``), integers, ISO dates (``yyyy-MM-dd``) and floats rounded
    to the field's places (written in plain, shortest round-trip form: no float noise)
    are left typed, so ``pyarrow.csv.write_csv`` formats them (fast, in parallel) and
    validation checks the numbers instead of parsing text. Everything else is rendered.
    """
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    native = _native(array, fm, spec)
    return native if native is not None else render_column(array, fm, spec)


def _native(array: pa.Array, fm: FieldMapping, spec: FieldSpec | None) -> pa.Array | None:
    if fm.values or spec is None:
        return None
    kind, typ = spec.data_type, array.type
    if kind == "boolean" and pa.types.is_boolean(typ):
        return array
    if kind in INTEGER_TYPES and pa.types.is_integer(typ):
        return array
    if (
        kind in DATE_TYPES
        and pa.types.is_date32(typ)
        and effective_format(fm, spec) == "yyyy-MM-dd"
    ):
        return array
    if kind in DECIMAL_TYPES and pa.types.is_floating(typ):
        scale = spec.decimal_place if spec.decimal_place is not None else _MAX_SCALE
        rounded = pc.round(array, ndigits=scale)
        size = pc.abs(pc.if_else(pc.is_finite(rounded), rounded, 0.0))
        tiny = pc.and_(pc.greater(size, 0.0), pc.less(size, _PLAIN_MIN))
        if pc.any(pc.or_(pc.greater_equal(size, _PLAIN_MAX), tiny)).as_py():
            return None  # Arrow would write these in exponent form
        return rounded
    return None


def as_text(array: pa.Array) -> pa.Array:
    """A CSV column as the text ``write_csv`` writes for it (null stays null)."""
    return array if pa.types.is_string(array.type) else array.cast(pa.string())


def render_column(
    column: pa.Array | pa.ChunkedArray, fm: FieldMapping, spec: FieldSpec | None
) -> pa.Array:
    """Return a string array (nulls for empty cells) with the CSV text of every value."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    text = _to_text(array, fm, spec)
    if fm.values:
        text = _apply_value_map(text, fm)
    empty = pc.equal(text, "")
    return pc.if_else(empty, pa.scalar(None, pa.string()), text)


def _to_text(array: pa.Array, fm: FieldMapping, spec: FieldSpec | None) -> pa.Array:
    kind = array.type
    if pa.types.is_dictionary(kind):
        array = array.cast(kind.value_type)
        kind = array.type
    if pa.types.is_null(kind):
        return pa.nulls(len(array), pa.string())
    if pa.types.is_string(kind):
        return array
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return array.cast(pa.string())
    if pa.types.is_boolean(kind):
        return pc.if_else(array, "true", "false")
    if pa.types.is_integer(kind) or pa.types.is_decimal(kind):
        return array.cast(pa.string())
    if pa.types.is_floating(kind):
        return _float_text(array, spec)
    if pa.types.is_date(kind) or pa.types.is_timestamp(kind):
        return _date_text(array, fm, spec)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        values = _to_text(array.values, fm, None)
        rebuilt = pa.ListArray.from_arrays(
            array.offsets, values, mask=array.is_null() if array.null_count else None
        )
        return pc.binary_join(rebuilt, ";")
    raise TypeError(f"column type {kind} cannot be written to field {fm.api_name}")


def _float_text(array: pa.Array, spec: FieldSpec | None) -> pa.Array:
    """Plain decimal text: rounded to the field's scale, no exponent, no float noise."""
    if spec is not None and spec.data_type in INTEGER_TYPES:
        scale = 0
    elif spec is not None and spec.data_type in DECIMAL_TYPES and spec.decimal_place is not None:
        scale = spec.decimal_place
    else:
        scale = _MAX_SCALE
    finite = pc.is_finite(array)
    safe = pc.if_else(finite, array, pa.scalar(None, array.type))
    fixed_places = (spec is not None and spec.decimal_place is not None) or scale == 0
    biggest = pc.max(pc.abs(safe)).as_py()
    if biggest is None or biggest < _FAST_LIMIT / 10**scale:
        text = _scaled_integer_text(safe, scale)
    else:
        # Large values only: Arrow writes decimals in exponent form just for tiny ones.
        rounded = pc.round(safe, ndigits=scale)
        text = rounded.cast(pa.decimal128(38, scale), safe=False).cast(pa.string())
    if not fixed_places:
        text = pc.replace_substring_regex(text, r"(\.\d*?)0+$", r"\1")
        text = pc.replace_substring_regex(text, r"\.$", "")
    # NaN / infinity have no CSV form; send them as text so validation rejects the row.
    return pc.if_else(finite, text, array.cast(pa.string()))


def _scaled_integer_text(values: pa.Array, scale: int) -> pa.Array:
    """``round(x * 10^scale)`` as an integer, then ``[-]whole.fraction`` (fast path)."""
    units = pc.round(pc.multiply(values, float(10**scale))).cast(pa.int64())
    magnitude = pc.abs(units)
    if scale == 0:
        whole_text = magnitude.cast(pa.string())
    else:
        step = 10**scale
        whole = pc.divide(magnitude, step).cast(pa.string())
        fraction = pc.utf8_lpad(
            pc.subtract(magnitude, pc.multiply(pc.divide(magnitude, step), step)).cast(pa.string()),
            scale,
            "0",
        )
        whole_text = pc.binary_join_element_wise(whole, fraction, ".")
    negative = pc.less(units, 0)
    return pc.if_else(negative, pc.binary_join_element_wise("-", whole_text, ""), whole_text)


def _date_text(array: pa.Array, fm: FieldMapping, spec: FieldSpec | None) -> pa.Array:
    fmt = effective_format(fm, spec)
    if fmt is None:
        fmt = DEFAULT_DATETIME_FORMAT if pa.types.is_timestamp(array.type) else DEFAULT_DATE_FORMAT
    pattern = parse_pattern(fmt)
    if pa.types.is_timestamp(array.type):
        # Naive timestamps are UTC; aware ones are written in their own zone.
        if array.type.tz is None:
            array = pc.assume_timezone(array, "UTC")
    elif pattern.has_time:
        array = array.cast(pa.timestamp("s")).cast(pa.timestamp("s", tz="UTC"))
    fast = _component_text(array, pattern.strftime)
    if fast is not None:
        return fast
    text = pc.strftime(array, format=pattern.strftime)
    if pattern.colon_offset:
        text = pc.replace_substring_regex(text, r"([+-]\d\d)(\d\d)$", r"\1:\2")
    return text


_COMPONENTS = {
    "%Y": (pc.year, 4),
    "%m": (pc.month, 2),
    "%d": (pc.day, 2),
    "%H": (pc.hour, 2),
    "%M": (pc.minute, 2),
    "%S": (pc.second, 2),
}
_DIRECTIVE = re.compile(r"%.")


def _component_text(array: pa.Array, strftime: str) -> pa.Array | None:
    """Dates built from numeric components: much faster than ``pc.strftime``.

    Only for patterns made of ``%Y %m %d %H %M %S`` and literals; None otherwise.
    Zoned timestamps give their local components, as ``strftime`` would.
    """
    parts: list[pa.Array | str] = []
    position = 0
    for match in _DIRECTIVE.finditer(strftime):
        if match.start() > position:
            parts.append(strftime[position : match.start()].replace("%%", "%"))
        directive = match.group(0)
        if directive == "%%":
            parts.append("%")
        elif directive in _COMPONENTS:
            func, width = _COMPONENTS[directive]
            parts.append(pc.utf8_lpad(func(array).cast(pa.string()), width, "0"))
        else:
            return None
        position = match.end()
    if position < len(strftime):
        parts.append(strftime[position:])
    if not parts:
        return None
    return pc.binary_join_element_wise(*parts, "")


def _apply_value_map(text: pa.Array, fm: FieldMapping) -> pa.Array:
    keys = pa.array([k for k, _ in fm.values], pa.string())
    mapped = pa.array([v for _, v in fm.values], pa.string())
    position = pc.index_in(text, value_set=keys)
    replaced = mapped.take(position)
    return pc.if_else(pc.is_valid(position), replaced, text)
