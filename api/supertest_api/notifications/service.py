"""Notification channels (write-only credentials), alert rules, "Send test", and a run's deliveries."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from supertest.crypto import SecretBox, SecretsUnavailable
from supertest.db.models import ChannelRecord, RuleRecord, utcnow
from supertest.db.outbox import run_link
from supertest.notify.channels import Delivery, context, deliver
from supertest.notify.sender import channel_of
from supertest.settings import ApiSettings
from supertest_api.errors import Conflict, NotFoundError, ServiceUnavailable, ValidationFailed
from supertest_api.notifications import repository
from supertest_api.notifications.schemas import (
    AttemptOut,
    ChannelIn,
    ChannelOut,
    DeliveryListOut,
    DeliveryOut,
    EmailChannelIn,
    RuleIn,
    RuleOut,
    SlackChannelIn,
    WebhookChannelIn,
)

# The write-only fields of each kind: encrypted at rest, never returned.
SECRET_FIELDS = {"webhook": ("hmacSecret",), "slack": ("webhookUrl",), "email": ("password",)}


def split(body: ChannelIn) -> tuple[dict[str, Any], dict[str, str]]:
    """(public config, secret fields) of a channel as given. Pure."""
    if isinstance(body, WebhookChannelIn):
        config: dict[str, Any] = {"url": body.url, "bodyTemplate": body.body_template, "headers": body.headers}
        secrets = {"hmacSecret": body.hmac_secret} if body.hmac_secret else {}
    elif isinstance(body, SlackChannelIn):
        config, secrets = {}, {"webhookUrl": body.webhook_url}
    else:
        assert isinstance(body, EmailChannelIn)
        config = {
            "host": body.host,
            "port": body.port,
            "starttls": body.starttls,
            "username": body.username,
            "from": body.sender,
            "to": body.to,
            "caPem": body.ca_pem,
        }
        secrets = {"password": body.password} if body.password else {}
    return config, secrets


def channel_out(record: ChannelRecord, box: SecretBox) -> ChannelOut:
    names: list[str] = []
    if record.secret_token:
        try:
            names = sorted(json.loads(box.decrypt(record.secret_token)))
        except SecretsUnavailable:
            names = list(SECRET_FIELDS.get(record.kind, ()))
    return ChannelOut(
        id=record.id,
        name=record.name,
        kind=record.kind,
        config=dict(record.config),
        secrets_set=names,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def _encrypt(box: SecretBox, secrets: dict[str, str]) -> str | None:
    if not secrets:
        return None
    try:
        return box.encrypt(json.dumps(secrets))
    except SecretsUnavailable as exc:
        raise ServiceUnavailable(str(exc)) from exc


def get_channel(session: Session, channel_id: str) -> ChannelRecord:
    record = repository.get_channel(session, channel_id)
    if record is None:
        raise NotFoundError(f"notification channel {channel_id!r} not found")
    return record


def list_channels(session: Session) -> list[ChannelRecord]:
    return repository.list_channels(session)


def create_channel(session: Session, box: SecretBox, body: ChannelIn) -> ChannelRecord:
    if repository.channel_by_name(session, body.name) is not None:
        raise Conflict(f"a notification channel named {body.name!r} exists already")
    config, secrets = split(body)
    try:
        with session.begin_nested():
            return repository.add_channel(session, body.name, body.kind, config, _encrypt(box, secrets))
    except IntegrityError as exc:
        raise Conflict(f"a notification channel named {body.name!r} exists already") from exc


def replace_channel(session: Session, box: SecretBox, channel_id: str, body: ChannelIn) -> ChannelRecord:
    """Write-only fields left out keep their stored values (the UI never has them to send back)."""
    record = get_channel(session, channel_id)
    if body.kind != record.kind:
        raise ValidationFailed(f"a channel's kind cannot change ({record.kind} -> {body.kind}); create a new one")
    other = repository.channel_by_name(session, body.name)
    if other is not None and other.id != record.id:
        raise Conflict(f"a notification channel named {body.name!r} exists already")
    config, secrets = split(body)
    if record.secret_token:
        try:
            stored = json.loads(box.decrypt(record.secret_token))
        except SecretsUnavailable as exc:
            raise ServiceUnavailable(str(exc)) from exc
        secrets = {**stored, **secrets}
    record.name, record.config, record.secret_token = body.name, config, _encrypt(box, secrets)
    record.updated_at = utcnow()
    session.flush()
    return record


def delete_channel(session: Session, channel_id: str) -> None:
    repository.delete(session, get_channel(session, channel_id))


def sample_alert(record: ChannelRecord) -> dict[str, Any]:
    return {
        "event": "failure",
        "test": True,
        "job": {"id": "0000000000000000", "name": "Send test"},
        "run": {
            "id": "jr-sendtest",
            "kind": "job",
            "title": "Send test",
            "phase": "Failed",
            "trigger": "manual",
            "message": f"a test alert for the channel {record.name!r}",
            "path": run_link("jr-sendtest"),
        },
        "summary": {"total": 1, "passed": 0, "failed": 1, "flaky": 0},
        "failedTests": ["example.spec.ts \u203a checks the channel"],
        "firstError": "Error: this is a test alert from Supertest",
        "consecutiveFailures": 1,
    }


async def send_test(record: ChannelRecord, box: SecretBox, settings: ApiSettings) -> Delivery:
    try:
        channel = channel_of(record, box)
    except SecretsUnavailable as exc:
        raise ServiceUnavailable(str(exc)) from exc
    ctx = context(sample_alert(record), settings.public_url)
    key = f"test:{record.id}:{utcnow().timestamp():.0f}"
    return await deliver(channel, ctx, key, settings.notify_timeout_seconds)


# -- rules -----------------------------------------------------------------------------------------------


def rule_out(rule: RuleRecord, names: dict[str, str]) -> RuleOut:
    return RuleOut(
        id=rule.id,
        channel_id=rule.channel_id,
        channel_name=names.get(rule.channel_id, ""),
        job_id=rule.job_id,
        test_id=rule.test_id,
        events=list(rule.events),
        failure_threshold=rule.failure_threshold,
        max_alerts_per_streak=rule.max_alerts_per_streak,
        created_at=rule.created_at,
    )


def channel_names(session: Session) -> dict[str, str]:
    return {c.id: c.name for c in repository.list_channels(session)}


def list_rules(session: Session, job_id: str | None, test_id: str | None) -> list[RuleRecord]:
    return repository.list_rules(session, job_id, test_id)


def create_rule(session: Session, body: RuleIn) -> RuleRecord:
    if (body.job_id is None) == (body.test_id is None):
        raise ValidationFailed("a rule covers exactly one of jobId or testId")
    if repository.get_channel(session, body.channel_id) is None:
        raise NotFoundError(f"notification channel {body.channel_id!r} not found")
    if body.job_id is not None and not repository.job_exists(session, body.job_id):
        raise NotFoundError(f"job {body.job_id!r} not found")
    if body.test_id is not None and not repository.test_exists(session, body.test_id):
        raise NotFoundError(f"test {body.test_id!r} not found")
    rule = RuleRecord(
        channel_id=body.channel_id,
        job_id=body.job_id,
        test_id=body.test_id,
        events=list(dict.fromkeys(body.events)),
        failure_threshold=body.failure_threshold,
        max_alerts_per_streak=body.max_alerts_per_streak,
    )
    return repository.add_rule(session, rule)


def delete_rule(session: Session, rule_id: str) -> None:
    rule = repository.get_rule(session, rule_id)
    if rule is None:
        raise NotFoundError(f"rule {rule_id!r} not found")
    repository.delete(session, rule)


def run_deliveries(session: Session, run_id: str) -> DeliveryListOut:
    if not repository.run_exists(session, run_id):
        raise NotFoundError(f"run {run_id!r} not found")
    names = channel_names(session)
    items = [
        DeliveryOut(
            id=row.id,
            channel_id=row.channel_id,
            channel_name=names.get(row.channel_id),
            event=row.event,
            status=row.status,
            attempts=[AttemptOut.model_validate(a) for a in attempts],
            next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
            sent_at=row.sent_at,
            idempotency_key=row.idempotency_key,
        )
        for row, attempts in repository.deliveries(session, run_id)
    ]
    return DeliveryListOut(items=items)
