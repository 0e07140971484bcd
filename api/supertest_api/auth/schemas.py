from __future__ import annotations

from typing import Literal

from pydantic import Field

from supertest_api.common import CamelModel, RequestModel


class LoginIn(RequestModel):
    api_key: str = Field(min_length=1, max_length=512, description="An API key, as printed by `supertest dev`")


class PrincipalOut(CamelModel):
    key_id: str
    key_name: str
    key_prefix: str
    via: Literal["bearer", "session"]
    job_id: str | None = None
