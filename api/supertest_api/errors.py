"""Domain errors raised by services, and the one place that turns them into HTTP answers.

Every error body has the same shape: `{"error": code, "message": human text, "details"?: ...}`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from supertest.admission import QueueFull
from supertest.artifacts import InvalidArtifactPath
from supertest.bus.base import BusUnavailable
from supertest.db.catalog import NotFound
from supertest.db.runs import RunNotFound
from supertest.kube.client import KubeError
from supertest.launch import RunAlreadyFinished
from supertest.phases import IllegalTransition
from supertest.rerun import NothingToRerun, TooManyToRerun
from supertest_api.metrics.schemas import RejectReason

log = structlog.get_logger("supertest.api")

# Seconds a client should wait before resubmitting after a 429; runs take tens of seconds.
QUEUE_FULL_RETRY_AFTER = 15
# After a 503 for an unreachable database: a restart or fail-over takes seconds.
DATABASE_DOWN_RETRY_AFTER = 5


class ApiError(Exception):
    status_code = 500
    code = "internal_error"
    # Set on errors that reject a submission, so /metrics can count rejections by reason.
    reject_reason: RejectReason | None = None

    def __init__(
        self, message: str, *, details: Any = None, headers: Mapping[str, str] | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = dict(headers or {})
        if code is not None:
            self.code = code


class BadRequest(ApiError):
    status_code = 400
    code = "bad_request"


class InvalidPath(BadRequest):
    code = "invalid_path"


class Unauthorized(ApiError):
    status_code = 401
    code = "unauthorized"

    def __init__(self, message: str, *, code: str = "unauthorized") -> None:
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer realm="supertest"'}, code=code)


class Forbidden(ApiError):
    status_code = 403
    code = "forbidden"


class NotFoundError(ApiError):
    status_code = 404
    code = "not_found"


class Conflict(ApiError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(ApiError):
    status_code = 413
    code = "payload_too_large"
    reject_reason = "too_large"


class RangeNotSatisfiable(ApiError):
    status_code = 416
    code = "range_not_satisfiable"

    def __init__(self, size: int) -> None:
        super().__init__(
            f"requested range is outside the file ({size} bytes)", headers={"Content-Range": f"bytes */{size}"}
        )


class ValidationFailed(ApiError):
    status_code = 422
    code = "validation_failed"

    def __init__(self, message: str, *, details: Any = None, reject_reason: RejectReason | None = None) -> None:
        super().__init__(message, details=details)
        self.reject_reason = reject_reason


class IdempotencyKeyReused(ApiError):
    """The same Idempotency-Key came with a different request: 422, as the IETF Idempotency-Key draft says."""

    status_code = 422
    code = "idempotency_key_reused"


class QueueFullError(ApiError):
    status_code = 429
    code = "queue_full"
    reject_reason = "queue_full"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"Retry-After": str(QUEUE_FULL_RETRY_AFTER)})


class ServiceUnavailable(ApiError):
    status_code = 503
    code = "unavailable"


class ClusterWriteFailed(ApiError):
    """Kubernetes refused a write the request depends on (a job's TestJob); nothing was saved."""

    status_code = 502
    code = "cluster_write_failed"


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": code, "message": message}
    if details is not None:
        body["details"] = details
    return body


def from_core(exc: Exception) -> ApiError | None:
    """Core exceptions that may escape a service map to the same domain errors."""
    if isinstance(exc, RunNotFound | NotFound):
        return NotFoundError(str(exc))
    if isinstance(exc, QueueFull):
        return QueueFullError(str(exc))
    if isinstance(exc, InvalidArtifactPath):
        return InvalidPath(str(exc))
    if isinstance(exc, RunAlreadyFinished | IllegalTransition | NothingToRerun):
        return Conflict(str(exc))
    if isinstance(exc, TooManyToRerun):
        return BadRequest(str(exc))
    if isinstance(exc, KubeError):
        return from_kube(exc)
    if isinstance(exc, BusUnavailable):
        return ServiceUnavailable(f"the event bus is unreachable; try again shortly ({exc})")
    if isinstance(exc, OperationalError):
        # Connection refused or dropped: the database is down or restarting, which is no bug of the request.
        return ServiceUnavailable(
            "the database is unreachable; try again shortly",
            headers={"Retry-After": str(DATABASE_DOWN_RETRY_AFTER)},
        )
    return None


def from_kube(exc: KubeError) -> ApiError:
    """An apiserver refusal nothing else handled: the client's 4xx with Kubernetes' own words, never a 500."""
    said = f"Kubernetes refused the request: {exc.message or exc.reason}"
    details = {"kubernetesStatus": exc.status, "reason": exc.reason}
    if exc.status == 413:
        return PayloadTooLarge(said, details=details)
    if exc.status == 409:
        return Conflict(said, details=details)
    if exc.status in (401, 403):  # the API's own credentials or RBAC, not the caller's input
        return ClusterWriteFailed(f"{said} (check the API's service account and RBAC)", details=details)
    if 400 <= exc.status < 500:
        return ValidationFailed(said, details=details)
    return ServiceUnavailable(f"Kubernetes is unavailable ({exc.status} {exc.reason}); nothing was saved")


def describe_validation(errors: Sequence[Any]) -> tuple[str, list[dict[str, Any]]]:
    """FastAPI's 422 made readable: `body.script: Field required`; inputs are never echoed back."""
    details: list[dict[str, Any]] = []
    parts: list[str] = []
    for err in errors:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        msg = str(err.get("msg", "invalid value"))
        details.append({"loc": list(err.get("loc", ())), "msg": msg, "type": err.get("type")})
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts) or "invalid request", details


def _count_rejection(request: Request, reason: RejectReason | None) -> None:
    metrics = getattr(request.app.state, "metrics", None)
    if reason and metrics is not None:
        metrics.rejections.labels(reason=reason).inc()


def api_error_response(request: Request, exc: ApiError) -> JSONResponse:
    _count_rejection(request, exc.reject_reason)
    return JSONResponse(
        error_body(exc.code, exc.message, exc.details), status_code=exc.status_code, headers=exc.headers or None
    )


def install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return api_error_response(request, exc)

    async def on_core_error(request: Request, exc: Exception) -> JSONResponse:
        mapped = from_core(exc)
        if mapped is None:  # pragma: no cover - only registered for mappable types
            raise exc
        return api_error_response(request, mapped)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        message, details = describe_validation(exc.errors())
        return JSONResponse(error_body("validation_failed", message, details), status_code=422)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route for {request.method} {request.url.path}"
        return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=exc.headers)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path)
        return JSONResponse(error_body("internal_error", "internal server error; see the API logs"), status_code=500)

    app.add_exception_handler(ApiError, on_api_error)
    for core in (
        RunNotFound,
        NotFound,
        QueueFull,
        InvalidArtifactPath,
        RunAlreadyFinished,
        IllegalTransition,
        NothingToRerun,
        TooManyToRerun,
        BusUnavailable,
        KubeError,
        OperationalError,
    ):
        app.add_exception_handler(core, on_core_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
