from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from supertest_api.common import CamelModel, RequestModel

Language = Literal["javascript", "typescript"]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


class TestIn(RequestModel):
    __test__ = False  # not a pytest class

    title: Title
    script: str = Field(description="Playwright Test source; limited to MAX_SCRIPT_BYTES")
    language: Language = "javascript"
    tags: list[Tag] = Field(default_factory=list, max_length=20)


class TestPatch(RequestModel):
    __test__ = False

    title: Title | None = None
    script: str | None = None
    language: Language | None = None
    tags: list[Tag] | None = Field(default=None, max_length=20)


class TestSummaryOut(CamelModel):
    __test__ = False

    id: str
    title: str
    language: Language
    tags: list[str]
    created_at: datetime
    updated_at: datetime


class TestOut(TestSummaryOut):
    script: str


class TestListOut(CamelModel):
    __test__ = False

    items: list[TestSummaryOut]
    total: int
