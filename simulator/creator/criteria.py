"""The Creator criteria language (``zoho-creator-api.md`` §6), parsed and evaluated.

    Status == "Open" && (Amount > 250.43 || Due_Date < '27-Feb-2026') && !Name.contains("x")

Comparisons ``== != < > <= >=`` between a field link name and a literal; the text methods
``.contains() .startswith() .endswith()``; ``&&``, ``||``, ``!`` and parentheses. Strings are
double-quoted (``\\"`` escapes a quote); dates and date-times are in the app's ``date_format``,
in single quotes, or (as in Zoho's own samples) double quotes. ``true``/``false`` for decision
boxes, ``null`` for empty. A single ``=`` is refused: it is a typo in Zoho's page, not syntax.
Lookups compare by record ID; a multi-select ``==`` a value when it holds that value.

``parse`` builds a tree, ``check`` types it against the form's fields, ``evaluate`` turns it into
a boolean mask over a table of the stored value texts (vectorised, nulls count as not matching).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

COMPARATORS = ("==", "!=", "<=", ">=", "<", ">")
METHODS = ("contains", "startswith", "endswith")
ORDERED_KINDS = frozenset({"id", "number", "date", "datetime", "text"})
TEXT_KINDS = frozenset({"text"})

_TOKEN = re.compile(
    r"""\s*(?:
    (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<quoted>'(?:[^'\\]|\\.)*')
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||[<>!().,])
  | (?P<bad>\S)
)""",
    re.VERBOSE,
)


class CriteriaError(ValueError):
    """The criteria text is not valid Creator criteria for this report."""


@dataclass(frozen=True)
class Literal:
    kind: str  # string | quoted | number | true | false | null
    text: str


@dataclass(frozen=True)
class Comparison:
    field: str
    op: str
    value: Literal


@dataclass(frozen=True)
class Not:
    inner: Node


@dataclass(frozen=True)
class Both:
    op: str  # && or ||
    left: Node
    right: Node


Node = Comparison | Not | Both


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            raise CriteriaError(f"cannot read the criteria at character {position + 1}")
        kind = match.lastgroup
        if kind == "bad":
            where = match.start(kind) + 1
            raise CriteriaError(f"unexpected {match.group(kind)!r} at character {where}")
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise CriteriaError("the criteria ends too early")
        if expected is not None and token[1] != expected:
            raise CriteriaError(f"expected {expected!r} but found {token[1]!r}")
        self.at += 1
        return token

    def parse(self) -> Node:
        node = self.either()
        if self.peek() is not None:
            raise CriteriaError(f"unexpected {self.peek()[1]!r} after a complete criteria")  # type: ignore[index]
        return node

    def either(self) -> Node:
        node = self.both()
        while self.peek() == ("op", "||"):
            self.take()
            node = Both("||", node, self.both())
        return node

    def both(self) -> Node:
        node = self.unary()
        while self.peek() == ("op", "&&"):
            self.take()
            node = Both("&&", node, self.unary())
        return node

    def unary(self) -> Node:
        if self.peek() == ("op", "!"):
            self.take()
            return Not(self.unary())
        if self.peek() == ("op", "("):
            self.take()
            node = self.either()
            self.take(")")
            return node
        return self.comparison()

    def comparison(self) -> Node:
        kind, name = self.take()
        if kind != "name" or name in ("true", "false", "null"):
            raise CriteriaError(f"expected a field link name but found {name!r}")
        kind, op = self.take()
        if op == ".":
            _, method = self.take()
            if method not in METHODS:
                raise CriteriaError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
            self.take("(")
            value = self.literal()
            self.take(")")
            return Comparison(name, method, value)
        if op not in COMPARATORS:
            raise CriteriaError(f"expected a comparison after {name} but found {op!r}")
        return Comparison(name, op, self.literal())

    def literal(self) -> Literal:
        kind, text = self.take()
        if kind in ("string", "quoted"):
            return Literal(kind, re.sub(r"\\(.)", r"\1", text[1:-1]))
        if kind == "number":
            return Literal("number", text)
        if kind == "name" and text in ("true", "false", "null"):
            return Literal(text, text)
        raise CriteriaError(f"expected a value but found {text!r}")


def parse(text: str) -> Node:
    if not text.strip():
        raise CriteriaError("the criteria is empty")
    return _Parser(text).parse()


def comparisons(node: Node) -> list[Comparison]:
    if isinstance(node, Comparison):
        return [node]
    if isinstance(node, Not):
        return comparisons(node.inner)
    return comparisons(node.left) + comparisons(node.right)


@dataclass(frozen=True)
class FieldKinds:
    """How the fields of one report compare: ``kinds[link_name]`` is one of id, number, date,
    datetime, multi, decision, lookup, text; dates use the app's strftime formats."""

    kinds: Mapping[str, str]
    date_format: str
    datetime_format: str

    def parse_date(self, kind: str, text: str) -> datetime:
        formats = (
            (self.datetime_format, self.date_format) if kind == "datetime" else (self.date_format,)
        )
        for fmt in formats:
            try:
                return datetime.strptime(text, fmt)
            except ValueError:
                continue
        raise CriteriaError(f"{text!r} is not a date in the application's format")


def check(node: Node, kinds: FieldKinds) -> None:
    """Refuse unknown fields and values of the wrong type for their field."""
    for c in comparisons(node):
        kind = kinds.kinds.get(c.field)
        if kind is None:
            raise CriteriaError(f"{c.field} is not a field of this report")
        value = c.value
        if value.kind == "null":
            if c.op not in ("==", "!="):
                raise CriteriaError(f"{c.field} can only be compared with null by == or !=")
            continue
        if c.op in METHODS:
            if kind not in TEXT_KINDS or value.kind not in ("string", "quoted"):
                raise CriteriaError(f"{c.op}() needs a text field and a string, not {c.field}")
            continue
        if c.op in ("<", ">", "<=", ">=") and kind not in ORDERED_KINDS:
            raise CriteriaError(f"{c.field} cannot be compared with {c.op}")
        _check_value(c, kind, kinds)


def _check_value(c: Comparison, kind: str, kinds: FieldKinds) -> None:
    value = c.value
    digits = kind == "lookup" and value.kind == "string" and value.text.isdigit()
    if kind in ("id", "number", "lookup") and value.kind != "number" and not digits:
        raise CriteriaError(f"{c.field} takes a number, not {value.text!r}")
    if kind == "id" and "." in value.text:
        raise CriteriaError(f"ID takes a whole number, not {value.text}")
    if kind in ("date", "datetime"):
        if value.kind not in ("string", "quoted"):
            raise CriteriaError(f"{c.field} takes a date in quotes, not {value.text}")
        kinds.parse_date(kind, value.text)
    if kind == "decision" and value.kind not in ("true", "false"):
        raise CriteriaError(f"{c.field} takes true or false, not {value.text!r}")
    if kind in ("text", "multi") and value.kind not in ("string", "quoted"):
        raise CriteriaError(f"{c.field} takes a string in double quotes, not {value.text}")


_ORDER: Mapping[str, Callable[[pa.Array, pa.Scalar], pa.Array]] = {
    "==": pc.equal,
    "!=": pc.not_equal,
    "<": pc.less,
    ">": pc.greater,
    "<=": pc.less_equal,
    ">=": pc.greater_equal,
}


def evaluate(node: Node, table: pa.Table, kinds: FieldKinds) -> pa.Array:
    """A boolean mask (no nulls) of the rows of ``table`` the criteria selects."""
    if isinstance(node, Not):
        return pc.invert(evaluate(node.inner, table, kinds))
    if isinstance(node, Both):
        left = evaluate(node.left, table, kinds)
        right = evaluate(node.right, table, kinds)
        return pc.and_(left, right) if node.op == "&&" else pc.or_(left, right)
    column = table[node.field].combine_chunks()
    empty = pc.or_(pc.is_null(column), pc.equal(pc.fill_null(column, ""), ""))
    if node.value.kind == "null":
        return empty if node.op == "==" else pc.invert(empty)
    mask = _compare(node, column, kinds)
    if node.op == "!=":
        return pc.fill_null(mask, True)
    return pc.fill_null(mask, False)


def _compare(c: Comparison, column: pa.Array, kinds: FieldKinds) -> pa.Array:
    kind = kinds.kinds[c.field]
    text = c.value.text
    if c.op == "contains":
        return pc.match_substring(column, text)
    if c.op == "startswith":
        return pc.starts_with(column, text)
    if c.op == "endswith":
        return pc.ends_with(column, text)
    compare = _ORDER[c.op]
    if kind == "id":
        return compare(pc.cast(column, pa.int64()), pa.scalar(int(text), pa.int64()))
    if kind == "number":
        return compare(pc.cast(column, pa.float64()), pa.scalar(float(text)))
    if kind in ("date", "datetime"):
        fmt = kinds.datetime_format if kind == "datetime" else kinds.date_format
        stamps = pc.strptime(column, format=fmt, unit="s", error_is_null=True)
        value = kinds.parse_date(kind, text)
        return compare(stamps, pa.scalar(value, pa.timestamp("s")))
    if kind == "multi":
        pattern = f"(^|,){re.escape(text)}(,|$)"
        held = pc.match_substring_regex(column, pattern)
        return held if c.op == "==" else pc.invert(held)
    return compare(column, pa.scalar(text, pa.string()))
