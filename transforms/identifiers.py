"""Validation and quoting of every name that ends up in SQL text.

Only Zoho API names pass: a letter, then letters, digits or underscores, at most 63
characters (PostgreSQL's identifier limit). Our own metadata columns (``_zoho_module``,
``_zoho_job_id``, ``_extracted_at``, ``_zoho_deleted_at``) and staging tables are the only
names allowed to start with an underscore. Validated names are then double-quoted, so case
is kept and reserved words (``Owner``, ``Status``...) are harmless. Data values never go
through here: they travel as bound parameters, COPY streams or Arrow buffers.
"""

from __future__ import annotations

import re
import string

from transforms.errors import InvalidIdentifierError

MAX_IDENTIFIER_LENGTH = 63
_API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_INTERNAL_NAME = re.compile(r"_[a-z][a-z0-9_]*")

#: Columns added by transforms itself; they may start with an underscore.
INTERNAL_COLUMNS = frozenset({"_zoho_module", "_zoho_job_id", "_extracted_at", "_zoho_deleted_at"})
_PATH_CHARS = frozenset(string.ascii_letters + string.digits + "-_")


def validate_api_name(name: str, kind: str = "column") -> str:
    """Return ``name`` if it is a Zoho API name; raise `InvalidIdentifierError` otherwise."""
    if len(name) > MAX_IDENTIFIER_LENGTH:
        raise InvalidIdentifierError(name, kind, f"longer than {MAX_IDENTIFIER_LENGTH} characters")
    if not _API_NAME.fullmatch(name):
        raise InvalidIdentifierError(
            name, kind, "must start with a letter and hold only letters, digits and underscores"
        )
    return name


def validate_column_name(name: str) -> str:
    """A column of a warehouse table: a Zoho API name or one of our metadata columns."""
    if name in INTERNAL_COLUMNS:
        return name
    return validate_api_name(name, "column")


def validate_internal_name(name: str, kind: str = "staging table") -> str:
    """Names transforms generates itself (staging tables): underscore, lower case."""
    if len(name) > MAX_IDENTIFIER_LENGTH or not _INTERNAL_NAME.fullmatch(name):
        raise InvalidIdentifierError(name, kind, "internal names are '_' + lower-case letters")
    return name


def quote(name: str) -> str:
    """Double-quote a name that has already been validated."""
    if '"' in name or "\x00" in name:  # defence in depth: validated names never contain these
        raise InvalidIdentifierError(name, "identifier", "contains a quote or NUL character")
    return f'"{name}"'


def validate_path_token(value: str, kind: str) -> str:
    """Ids that become file or directory names (job ids, run ids): no separators or dots."""
    if not value or len(value) > 128 or not all(ch in _PATH_CHARS for ch in value):
        raise InvalidIdentifierError(value, kind, "only letters, digits, '-' and '_' are allowed")
    return value
