"""Zoho date formats (Java ``SimpleDateFormat`` patterns) translated to ``strftime``.

Bulk write's ``field_mappings[].format`` takes patterns such as ``yyyy-MM-dd`` or
``MM/dd/yyyy HH:mm:ss``. The toolkit always sends a ``format`` for date and datetime
columns (the default format the live service assumes without one is UNCERTAIN, see
docs/zoho-bulk-api.md §2.3), so values are rendered with exactly the declared pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Formats the toolkit sends when a mapping does not give one.
DEFAULT_DATE_FORMAT = "yyyy-MM-dd"
DEFAULT_DATETIME_FORMAT = "yyyy-MM-dd'T'HH:mm:ssXXX"

_TOKENS: dict[str, str] = {
    "yyyy": "%Y",
    "yy": "%y",
    "MMMM": "%B",
    "MMM": "%b",
    "MM": "%m",
    "dd": "%d",
    "HH": "%H",
    "hh": "%I",
    "mm": "%M",
    "ss": "%S",
    "a": "%p",
    "Z": "%z",
    "XXX": "%z",
}
_TOKEN_RE = re.compile(r"'[^']*'|([A-Za-z])\1*|[^A-Za-z']+")


@dataclass(frozen=True)
class DatePattern:
    """A Zoho date pattern and its ``strftime`` equivalent."""

    zoho: str
    strftime: str
    colon_offset: bool
    has_time: bool


def parse_pattern(pattern: str) -> DatePattern:
    """Translate a Zoho pattern; raise ``ValueError`` naming the unsupported part."""
    if not pattern:
        raise ValueError("empty date format")
    if "".join(m.group(0) for m in _TOKEN_RE.finditer(pattern)) != pattern:
        raise ValueError(f"unbalanced quote in date format {pattern!r}")
    out: list[str] = []
    colon_offset = False
    has_time = False
    for match in _TOKEN_RE.finditer(pattern):
        token = match.group(0)
        if token.startswith("'"):
            out.append(token[1:-1].replace("%", "%%") or "'")
        elif token[0].isalpha():
            if token not in _TOKENS:
                known = ", ".join(sorted(_TOKENS))
                raise ValueError(f"unsupported date pattern letter {token!r} (known: {known})")
            colon_offset = colon_offset or token.startswith("X")
            has_time = has_time or token[0] in "HhmsaZX"
            out.append(_TOKENS[token])
        else:
            out.append(token.replace("%", "%%"))
    return DatePattern(pattern, "".join(out), colon_offset, has_time)
