from __future__ import annotations

from typing import Literal

from supertest_api.common import CamelModel


class HealthOut(CamelModel):
    status: Literal["ok"]


class CheckOut(CamelModel):
    ok: bool
    message: str = ""


class ReadyOut(CamelModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, CheckOut]
