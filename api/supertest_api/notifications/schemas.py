from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from supertest_api.common import CamelModel, RequestModel

ChannelName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"),
]
HttpUrl = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000, pattern=r"^https?://[^\s/]+")]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
EventName = Literal["failure", "recovery", "every_run", "timeout_error"]


def _default_events() -> list[EventName]:
    return ["failure", "recovery"]


class WebhookChannelIn(RequestModel):
    kind: Literal["webhook"]
    name: ChannelName
    url: HttpUrl
    body_template: Any | None = Field(
        default=None,
        description="A JSON value with {{placeholders}}: event, job.name, job.id, run.id, run.url, run.phase, "
        "run.message, failedTests, firstError, consecutiveFailures, summary.failed ... (default: the whole alert)",
    )
    headers: dict[str, Annotated[str, StringConstraints(max_length=1000)]] = Field(default_factory=dict, max_length=20)
    hmac_secret: Annotated[str, StringConstraints(min_length=8, max_length=500)] | None = Field(
        default=None, description="Signs the body: X-Supertest-Signature-256: sha256=<hex HMAC>. Write-only."
    )


class SlackChannelIn(RequestModel):
    kind: Literal["slack"]
    name: ChannelName
    webhook_url: HttpUrl = Field(description="The Slack incoming-webhook URL (a credential: write-only)")


class EmailChannelIn(RequestModel):
    kind: Literal["email"]
    name: ChannelName
    host: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=253)]
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    username: Annotated[str, StringConstraints(max_length=254)] | None = None
    password: Annotated[str, StringConstraints(max_length=500)] | None = Field(default=None, description="Write-only")
    sender: Email = Field(alias="from")
    to: list[Email] = Field(min_length=1, max_length=50)
    ca_pem: Annotated[str, StringConstraints(max_length=20_000)] | None = Field(
        default=None, description="PEM CA certificate(s) to trust for STARTTLS (default: the system's)"
    )


ChannelIn = Annotated[WebhookChannelIn | SlackChannelIn | EmailChannelIn, Field(discriminator="kind")]


class ChannelOut(CamelModel):
    id: str
    name: str
    kind: str
    config: dict[str, Any]
    # Which write-only fields are set (their values are never returned).
    secrets_set: list[str]
    created_at: datetime
    updated_at: datetime


class ChannelListOut(CamelModel):
    items: list[ChannelOut]
    total: int


class SendTestOut(CamelModel):
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int


class RuleIn(RequestModel):
    channel_id: str = Field(min_length=1, max_length=32)
    job_id: str | None = Field(default=None, max_length=32)
    test_id: str | None = Field(default=None, max_length=32)
    events: list[EventName] = Field(default_factory=_default_events, min_length=1, max_length=4)
    failure_threshold: int = Field(default=1, ge=1, le=1000, description="Alert from the Nth consecutive failure on")
    max_alerts_per_streak: int | None = Field(default=None, ge=1, le=1000, description="None: every failure")


class RuleOut(CamelModel):
    id: str
    channel_id: str
    channel_name: str
    job_id: str | None
    test_id: str | None
    events: list[str]
    failure_threshold: int
    max_alerts_per_streak: int | None
    created_at: datetime


class RuleListOut(CamelModel):
    items: list[RuleOut]
    total: int


class AttemptOut(CamelModel):
    number: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryOut(CamelModel):
    id: str
    channel_id: str
    channel_name: str | None
    event: str
    status: str
    attempts: list[AttemptOut]
    next_attempt_at: datetime | None
    sent_at: datetime | None
    idempotency_key: str


class DeliveryListOut(CamelModel):
    items: list[DeliveryOut]
