"""Creator's error answers: an HTTP status and ``{"code": <number>, "message": ...}``.

``CreatorError`` derives from the simulator's ``ZohoApiError`` so the app's one error handler
renders it (with Creator's numeric envelope from ``body``). Codes and statuses follow
``zoho-creator-api.md`` §7; where the facts file has no answer (a bad parameter value, a bulk
job that does not exist, an expired cursor) the choice is marked UNCERTAIN and kept here, in one
place.
"""

from __future__ import annotations

from typing import Any

from simulator.errors import ZohoApiError


class CreatorError(ZohoApiError):
    """An error answer of the simulated Creator API."""

    def __init__(self, status_code: int, number: int, message: str) -> None:
        super().__init__(status_code, str(number), message)
        self.number = number

    def body(self) -> dict[str, Any]:
        return {"code": self.number, "message": self.message}


def invalid_token() -> CreatorError:
    return CreatorError(
        401, 1030, "Authorization Failure. The access token is either invalid or has expired."
    )


def invalid_scope() -> CreatorError:
    return CreatorError(401, 2945, "Invalid oauthscope to access this URL")


def per_minute_limit() -> CreatorError:
    return CreatorError(
        429, 2955, "You have reached your API call limit for a minute. Try again after some time."
    )


def daily_limit() -> CreatorError:
    """The Developer API daily allowance is spent: HTTP 200, code 4000."""
    return CreatorError(200, 4000, "You have reached your Developer API limit for the day.")


def no_owner() -> CreatorError:
    return CreatorError(404, 1040, "No workspace with the given owner name exists.")


def no_app() -> CreatorError:
    return CreatorError(404, 2892, "No application named the given link name exists.")


def no_form() -> CreatorError:
    return CreatorError(404, 2893, "No form named the given link name exists.")


def no_report() -> CreatorError:
    return CreatorError(404, 2894, "No report named the given link name exists.")


def no_records(status: int) -> CreatorError:
    return CreatorError(status, 3100, "No records found for the given criteria.")


def body_missing() -> CreatorError:
    return CreatorError(400, 3020, "The request body is missing or not valid JSON.")


def criteria_missing(status: int) -> CreatorError:
    return CreatorError(
        status,
        1000,
        "A mandatory parameter - 'criteria' is either absent or has been used twice "
        "in the request.",
    )


def too_many_to_process() -> CreatorError:
    return CreatorError(
        200,
        3960,
        'A maximum of 200 records can be processed per request. Include the "process_until_limit" '
        "parameter to process the first 200 records.",
    )


#: UNCERTAIN: Zoho's code for a bad parameter value is undocumented; the message follows the
#: captured "Please enter a valid input for '<key>' ..." answer, HTTP 400.
INVALID_INPUT_CODE = 2930


def invalid_input(key: str, why: str) -> CreatorError:
    return CreatorError(400, INVALID_INPUT_CODE, f"Please enter a valid input for '{key}': {why}")


def job_not_found() -> CreatorError:
    """UNCERTAIN: the job-not-found answer is undocumented (404 "Error Occurred" here)."""
    return CreatorError(404, 2930, "Error Occurred. No bulk read job with the given ID exists.")
