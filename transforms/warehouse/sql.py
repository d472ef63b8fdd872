"""Load the SQL templates of ``sql/<dialect>/*.sql`` and fill them with quoted identifiers.

Every placeholder value must come from `transforms.identifiers` (validated and quoted) or
from `transforms.warehouse.types` (column types); `render` refuses values holding a quote
character that is not part of a quoted identifier, a semicolon or a comment marker.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from importlib.resources import files

from transforms.identifiers import quote

#: The ``sql`` package (``sql/`` at the root of the checkout; shipped as package data).
SQL_ROOT = files("sql")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_UNSAFE = re.compile(r"--|/\*|;|'")


@cache
def template(dialect: str, name: str) -> str:
    """The text of ``sql/{dialect}/{name}.sql``."""
    return SQL_ROOT.joinpath(dialect, f"{name}.sql").read_text(encoding="utf-8")


def render(dialect: str, name: str, **values: str) -> str:
    """``sql/{dialect}/{name}.sql`` with its placeholders replaced by ``values``."""
    for key, value in values.items():
        if _UNSAFE.search(value):
            raise ValueError(f"unsafe SQL fragment for placeholder {key!r}")
    text = template(dialect, name)
    missing = set(_PLACEHOLDER.findall(text)) - set(values)
    if missing:
        raise KeyError(f"sql/{dialect}/{name}.sql needs {sorted(missing)}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def column_list(names: Iterable[str], prefix: str = "") -> str:
    """``"a", "b"`` or, with a prefix, ``s."a", s."b"``."""
    return ", ".join(f"{prefix}{quote(n)}" for n in names)


def assignments(names: Iterable[str], source: str) -> str:
    """``"a" = s."a", "b" = s."b"`` for an UPDATE SET list."""
    return ", ".join(f"{quote(n)} = {source}.{quote(n)}" for n in names)
