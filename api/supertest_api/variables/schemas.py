from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from supertest_api.common import CamelModel, RequestModel

VarName = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class VariableIn(RequestModel):
    name: VarName
    value: str = Field(max_length=32_768, description="Write-only for secrets")
    secret: bool = False
    job_id: str | None = Field(default=None, max_length=32, description="None: project-wide")


class VariableUpdateIn(RequestModel):
    value: str = Field(max_length=32_768)


class VariableOut(CamelModel):
    id: str
    name: str
    secret: bool
    job_id: str | None
    # Plain variables only; a secret's value is never returned.
    value: str | None
    created_at: datetime
    updated_at: datetime


class VariableListOut(CamelModel):
    items: list[VariableOut]
    total: int
