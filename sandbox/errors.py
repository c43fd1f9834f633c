"""API v2 error bodies and the exception handlers raise to produce them.

Every error the sandbox answers on /v2 has the spec's shape (§3.2):
`{"code": <status>, "error": true, "message": ...}`, plus `details: [{param, message}]` on
validation failures only. Handlers raise `ApiError`; the dispatcher turns it into a response.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

# The spec's messages (its 404 schema says code 403: a copy-paste slip, corrected to 404).
STANDARD_MESSAGES: dict[int, str] = {
    HTTPStatus.BAD_REQUEST: "The given input was invalid",
    HTTPStatus.UNAUTHORIZED: "Unauthenticated",
    HTTPStatus.PAYMENT_REQUIRED: "Your plan does not include public api access",
    HTTPStatus.FORBIDDEN: "Forbidden",
    HTTPStatus.NOT_FOUND: "Not found",
    HTTPStatus.TOO_MANY_REQUESTS: "Too Many Attempts.",
    # Laravel's wording for an unhandled exception outside debug mode.
    HTTPStatus.INTERNAL_SERVER_ERROR: "Server Error",
}


@dataclass(frozen=True)
class FieldError:
    """One `details[]` entry: the offending input and what is wrong with it."""

    param: str
    message: str


def standard_message(status: int) -> str:
    if status in STANDARD_MESSAGES:
        return STANDARD_MESSAGES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error_body(
    status: int, message: str | None = None, details: list[FieldError] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": status,
        "error": True,
        "message": message if message is not None else standard_message(status),
    }
    if details is not None:
        body["details"] = [{"param": item.param, "message": item.message} for item in details]
    return body


class ApiError(Exception):
    """Raised by handlers; rendered as the v2 error body with this status."""

    def __init__(self, status: HTTPStatus, message: str | None = None) -> None:
        super().__init__(message or standard_message(status))
        self.status = status
        self.message = message

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.message)


class ValidationFailed(ApiError):
    """A 400 listing every invalid input, like Laravel's validator does."""

    def __init__(self, details: list[FieldError]) -> None:
        super().__init__(HTTPStatus.BAD_REQUEST)
        self.details = details

    def body(self) -> dict[str, Any]:
        return error_body(self.status, None, self.details)


def not_found() -> ApiError:
    return ApiError(HTTPStatus.NOT_FOUND)
