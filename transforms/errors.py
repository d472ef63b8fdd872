"""Errors raised by ``transforms``, grouped by what the caller can do about them.

::

    TransformError                      root of every error raised here (an ``EtlError``)
    ├── FatalTransformError             (``TerminalError``) the same input gives the same result
    │   ├── InvalidIdentifierError      a column/table name is not a Zoho API name
    │   ├── CsvFormatError              the zip/CSV cannot be read at all (no header, no id, ...)
    │   │   └── DamagedZipError         the file is damaged (bad CRC, cut short): download again
    │   ├── SchemaDriftError            a field changed type and the table's policy is ``freeze``
    │   └── UnsupportedTypeError        a column type has no mapping in the target warehouse
    └── RetriableTransformError         (``TransientError``) the input is fine; try the call again
        ├── WarehouseError              the warehouse failed during staging or merge; the target
        │                               is unchanged (the merge is one transaction)
        └── LakeTableError              a Delta table write failed; the table is at its last
                                        committed version (one commit per page)

Bad *rows* are not errors: unparsable or unconvertible rows go to the rejects output
(``transforms.rejects``) and the load continues. Every error keeps its inputs as attributes
and builds its message from them; no message ever contains a data value from a row.
"""

from __future__ import annotations

from recovery.errors import EtlError, TerminalError, TransientError


class TransformError(EtlError):
    """Root of every error raised by ``transforms``."""


class FatalTransformError(TransformError, TerminalError):
    """Marker: the same call with the same input fails again; a person has to act."""


class RetriableTransformError(TransformError, TransientError):
    """Marker: the input is fine, the failure was in the environment; re-run the call."""


class InvalidIdentifierError(FatalTransformError):
    """A name that would end up in SQL is not a plain Zoho API name."""

    def __init__(self, name: str, kind: str, rule: str) -> None:
        self.name = name
        self.kind = kind
        self.rule = rule
        super().__init__(
            f"{kind} name {name!r} is not allowed: {rule}. Only Zoho API names "
            "(letters, digits and underscores, starting with a letter, at most 63 characters) "
            "can become warehouse identifiers; rename the field or leave it out of the export."
        )


class CsvFormatError(FatalTransformError):
    """The bulk-read zip or its CSV cannot be read as a whole."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(
            f"cannot read bulk-read file {path}: {reason}. Download the page again; if the "
            "problem stays, keep the file and report it."
        )


class DamagedZipError(CsvFormatError):
    """The downloaded file is damaged (bad CRC, cut short): a new download fixes it.

    Nothing of the page was loaded (the load is one transaction, its Parquet is dropped).
    """


class SchemaDriftError(FatalTransformError):
    """A field's type changed and the table's drift policy is ``freeze``."""

    def __init__(self, table: str, field: str, old_type: str, new_type: str) -> None:
        self.table = table
        self.field = field
        self.old_type = old_type
        self.new_type = new_type
        super().__init__(
            f"table {table!r}: field {field!r} changed type from {old_type} to {new_type} and "
            "the table's drift policy is 'freeze'. Nothing was loaded. Either change the "
            "field back in Zoho, or re-run with drift policy 'evolve' (ZOHO_ETL_DRIFT_POLICY) "
            "to widen the column."
        )


class UnsupportedTypeError(FatalTransformError):
    """An Arrow type has no column type in the chosen warehouse dialect."""

    def __init__(self, column: str, arrow_type: str, dialect: str) -> None:
        self.column = column
        self.arrow_type = arrow_type
        self.dialect = dialect
        super().__init__(
            f"column {column!r} has Arrow type {arrow_type}, which the {dialect} loader "
            "cannot store; load this module into DuckDB or PostgreSQL instead."
        )


class WarehouseError(RetriableTransformError):
    """The warehouse failed while staging or merging; the target table is unchanged."""

    def __init__(self, table: str, step: str, cause: BaseException) -> None:
        self.table = table
        self.step = step
        self.cause_type = type(cause).__name__
        super().__init__(
            f"warehouse load of table {table!r} failed during {step} ({self.cause_type}); "
            "the merge runs in one transaction, so the table is unchanged. Re-run the load "
            "of this page once the warehouse is reachable."
        )


class LakeTableError(RetriableTransformError):
    """A Delta Lake table failed while writing a page; the table is at its last version."""

    def __init__(self, table: str, step: str, cause: BaseException) -> None:
        self.table = table
        self.step = step
        self.cause_type = type(cause).__name__
        super().__init__(
            f"lake table {table!r} failed during {step} ({self.cause_type}); each page is one "
            "Delta commit, so the table is at its last committed version. Re-run the page once "
            "the storage is reachable: a page already committed is skipped."
        )
