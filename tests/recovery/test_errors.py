"""Every package's error tree hangs off one recovery vocabulary (issue 20, plan (b))."""

from __future__ import annotations

import pickle

import pytest

from connectors import creator_errors
from connectors import errors as zoho
from engine import errors as engine
from recovery import (
    EtlError,
    SkippableError,
    TerminalError,
    TransientError,
    is_transient,
    recovery_class,
)
from transforms import errors as transforms
from transforms.writeback import errors as writeback

TRANSIENT = [
    zoho.RetriableError,
    zoho.RateLimitedError,
    zoho.ServerError,
    zoho.ConnectionDroppedError,
    zoho.ConnectFailedError,
    zoho.CorruptZipError,
    zoho.JobTimeoutError,
    creator_errors.CreatorCursorExpiredError,
    transforms.RetriableTransformError,
    transforms.WarehouseError,
    transforms.LakeTableError,
]
TERMINAL = [
    zoho.FatalError,
    zoho.AuthError,
    zoho.TokenRejectedError,
    zoho.PermissionDeniedError,
    zoho.InvalidRequestError,
    zoho.NotFoundError,
    zoho.CreditBudgetExceededError,
    zoho.BulkJobFailedError,
    zoho.ZipRejectedError,
    zoho.QueryValidationError,
    zoho.ForeignHostError,
    zoho.OutcomeUnknownError,  # retrying a lost create is the double write of issue 19
    zoho.UnexpectedResponseError,
    creator_errors.CreatorDailyLimitError,
    creator_errors.CreatorNoRecordsError,
    transforms.FatalTransformError,
    transforms.InvalidIdentifierError,
    transforms.CsvFormatError,
    transforms.DamagedZipError,
    transforms.SchemaDriftError,
    transforms.UnsupportedTypeError,
    writeback.WritebackFatal,
    writeback.MappingError,
    writeback.PreflightError,
    writeback.InvalidRowsError,
    writeback.ChunkTooLargeError,
    writeback.ReconciliationError,
    writeback.ResumeStateError,
    engine.UsageError,
    engine.UnknownModuleError,
    engine.BadDateRangeError,
    engine.MissingCredentialsError,
    engine.SourceError,
    engine.BudgetExceededError,
    engine.LedgerError,
    engine.PageFailedError,
    engine.PageNotLoadedError,
    engine.RunFailedError,
]
SKIPPABLE = [
    zoho.SkippableError,
    zoho.ModuleNotSupportedError,
    writeback.WritebackSkippable,
    writeback.ChunkJobFailed,
]
ROOTS = [zoho.ZohoError, transforms.TransformError, writeback.WritebackError, engine.EngineError]


@pytest.mark.parametrize("cls", TRANSIENT, ids=lambda c: c.__name__)
def test_transient_classes(cls: type[Exception]) -> None:
    assert issubclass(cls, TransientError)
    assert not issubclass(cls, TerminalError | SkippableError)


@pytest.mark.parametrize("cls", TERMINAL, ids=lambda c: c.__name__)
def test_terminal_classes(cls: type[Exception]) -> None:
    assert issubclass(cls, TerminalError)
    assert not issubclass(cls, TransientError | SkippableError)


@pytest.mark.parametrize("cls", SKIPPABLE, ids=lambda c: c.__name__)
def test_skippable_classes(cls: type[Exception]) -> None:
    assert issubclass(cls, SkippableError)
    assert not issubclass(cls, TransientError | TerminalError)


@pytest.mark.parametrize("cls", ROOTS, ids=lambda c: c.__name__)
def test_every_package_root_is_an_etl_error(cls: type[Exception]) -> None:
    assert issubclass(cls, EtlError)


def test_no_error_class_is_left_outside_a_marker() -> None:
    modules = [zoho, creator_errors, transforms, writeback, engine]
    classified = set(TRANSIENT) | set(TERMINAL) | set(SKIPPABLE) | set(ROOTS)
    found = {
        value
        for module in modules
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, EtlError)
        and value.__module__ == module.__name__
    }
    assert found - classified == set()


def test_is_transient_and_recovery_class_read_the_markers() -> None:
    warehouse = transforms.WarehouseError("t", "merge", OSError("down"))
    assert is_transient(warehouse)
    assert recovery_class(warehouse) == "transient"
    assert recovery_class(zoho.JobTimeoutError("late", job_id="1")) == "transient"
    lost = zoho.OutcomeUnknownError("create answer lost")
    assert not is_transient(lost)
    assert recovery_class(lost) == "terminal"
    assert recovery_class(writeback.ChunkJobFailed("Leads", 1, "j", "bad")) == "skippable"
    assert recovery_class(zoho.ModuleNotSupportedError("Notes")) == "skippable"
    assert recovery_class(ValueError("a bug")) == "unknown"
    assert not is_transient(ValueError("a bug"))


def test_one_budget_family_keeps_the_engine_message() -> None:
    error = engine.BudgetExceededError(org="o", needed=50, available=3, budget=100, what="Leads")
    assert isinstance(error, zoho.CreditBudgetExceededError)
    assert (error.needed, error.available, error.budget, error.org) == (50, 3, 100, "o")
    assert str(error) == (
        "credit budget of org o exceeded by Leads: needs 50 credits, 3 of 100 left in the "
        "last 24 h; re-run later to resume, or raise the budget"
    )
    assert str(error.with_progress("2 of 5 pages loaded")).endswith(
        "2 of 5 pages loaded; re-run later to resume, or raise the budget"
    )


@pytest.mark.parametrize(
    "error",
    [
        zoho.JobTimeoutError("late", job_id="7", http_status=None, path="/crm/bulk/v8/read/7"),
        transforms.WarehouseError("leads", "merge", OSError("down")),
        writeback.ChunkJobFailed("Leads", 2, "j9", "bad"),
        engine.BudgetExceededError(org="o", needed=5, available=0, budget=5, what="x"),
        engine.PageFailedError("Leads", 3, "j1", "INVALID_QUERY"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_marker_subclasses_pickle_with_their_attributes(error: Exception) -> None:
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes)
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert vars(copy) == vars(error)
    assert recovery_class(copy) == recovery_class(error)
