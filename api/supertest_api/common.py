"""Shared schema pieces: camelCase JSON on the wire, snake_case in Python."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic.alias_generators import to_camel

from supertest_api.text import check_storable


class CamelModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        from_attributes=True,
    )


class RequestModel(CamelModel):
    """Base of every request body: unknown fields are a 422 (a typo is not silently dropped), and so is a
    NUL byte or a lone surrogate in any string, nested ones included."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return check_storable(value)


class ErrorOut(CamelModel):
    error: str
    message: str
    details: object | None = None


# Documented on every route that can fail this way; the single exception handler produces them.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing or invalid API key / session"},
    422: {"model": ErrorOut, "description": "Invalid input"},
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        400: "Bad request",
        404: "Not found",
        409: "Conflict with the current state",
        413: "Payload too large",
        416: "Range not satisfiable",
        429: "Queue full; retry after the Retry-After delay",
        502: "Kubernetes refused the job's TestJob; nothing was saved",
        503: "Not ready (or Kubernetes unreachable; nothing was saved)",
    }
    out = dict(ERROR_RESPONSES)
    for code in codes:
        out[code] = {"model": ErrorOut, "description": descriptions.get(code, "Error")}
    return out
