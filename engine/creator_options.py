"""How a Creator report is read: the export options, the incremental criteria and the cost rule.

`CreatorExportOptions` (full or incremental, overlap, when to switch from Get Records to a
bulk read), `creator_since_criteria` (the watermark written in the app's date format and time
zone) and `rest_is_cheaper` (Get Records against bulk jobs, counted in calls). The export that
uses them is `engine.creator_export`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from transforms.creator import java_date_format

CreatorMode = Literal["full", "incremental"]


#: a bulk job is about create + 2 status polls + download in calls; REST reads 1,000 a call
BULK_CALLS_PER_JOB = 4


REST_PER_CALL = 1000


@dataclass(frozen=True)
class CreatorExportOptions:
    mode: CreatorMode = "incremental"
    overlap: timedelta = timedelta(minutes=10)
    #: past this many changed records an incremental run reads them by bulk instead
    rest_max_records: int = 5_000
    bulk_max_records: int = 200_000


def creator_since_criteria(since: datetime, date_format: str, time_zone: str) -> str:
    """``Modified_Time >= '…'`` with ``since`` (naive UTC) in the app's format and zone."""
    local = since.replace(tzinfo=UTC).astimezone(ZoneInfo(time_zone))
    text = local.strftime(java_date_format(date_format) + " %H:%M:%S")
    return f"Modified_Time >= '{text}'"


def rest_is_cheaper(records: int, bulk_max_records: int = 200_000) -> bool:
    """Calls of Get Records (1,000 a call) against a bulk read's jobs for ``records``."""
    rest_calls = max(1, -(-records // REST_PER_CALL))
    bulk_calls = max(1, -(-records // bulk_max_records)) * BULK_CALLS_PER_JOB
    return rest_calls <= bulk_calls
