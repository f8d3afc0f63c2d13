"""Errors a request can meet, each with its HTTP status and a machine-readable code; the app answers them as JSON
``{"error": {"code": ..., "message": ...}}``."""

from __future__ import annotations


class ApiError(Exception):
    """A request the service refuses or cannot serve: ``status`` (4xx / 5xx), a short ``code``, a one-line message."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


class BadInput(ApiError):
    """A bad picture or option (what the CLI reports as a MobilestyleError)."""

    status = 422
    code = "bad_input"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class TooLarge(ApiError):
    status = 413
    code = "too_large"


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class Busy(ApiError):
    """The worker queue is full: the client should retry after ``retry_after`` seconds."""

    status = 503
    code = "busy"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})


class NotReady(ApiError):
    status = 503
    code = "not_ready"
