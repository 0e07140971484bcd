"""The sender: drains the outbox with retries and backoff, recording every attempt.

Runs in the API process in local mode and in the operator in Kubernetes mode (see the README). Several senders
may run at once (API replicas, an operator restarting): a row is claimed with a lease (`claimed_until`, under
FOR UPDATE SKIP LOCKED on Postgres) in its own transaction before it is sent, so two senders never send it at
the same time. A sender killed after sending but before recording it lets the lease pass and the row is sent
again: delivery is at-least-once, and receivers deduplicate by the Idempotency-Key header (run id + channel id).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from supertest.crypto import SecretBox, SecretsUnavailable
from supertest.db.engine import session_scope
from supertest.db.models import ChannelRecord, DeliveryAttemptRecord, OutboxRecord, utcnow
from supertest.notify.channels import Channel, ChannelKind, Delivery, context, deliver
from supertest.settings import CoreSettings

log = structlog.get_logger("supertest.notify")
BATCH = 20
LEASE_SECONDS = 120


def channel_of(record: ChannelRecord, box: SecretBox) -> Channel:
    secrets: dict[str, str] = json.loads(box.decrypt(record.secret_token)) if record.secret_token else {}
    kind: ChannelKind = "email" if record.kind == "email" else "slack" if record.kind == "slack" else "webhook"
    return Channel(id=record.id, name=record.name, kind=kind, config=dict(record.config), secrets=secrets)


def backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds before attempt `attempt + 1`: base, 2x base, 4x base ..., at most cap."""
    return float(min(cap, base * (2 ** max(0, attempt - 1))))


@dataclass(frozen=True, slots=True)
class _Claimed:
    outbox_id: str
    key: str
    payload: dict[str, object]
    channel: Channel | None
    attempt: int
    problem: str | None = None


class OutboxSender:
    def __init__(self, settings: CoreSettings, session_factory: sessionmaker[Session], box: SecretBox) -> None:
        self._settings = settings
        self._sessions = session_factory
        self._box = box
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="supertest-notify-sender")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def wake(self) -> None:
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            try:
                sent = await self.drain()
            except Exception:  # a database hiccup must not end alerting
                log.exception("notify_drain_failed")
                sent = 0
            if sent:
                continue  # more may be due
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._settings.notify_poll_seconds)
            self._wake.clear()

    async def drain(self) -> int:
        """One pass: claim due rows, attempt each once, record the outcomes. Returns the rows attempted."""
        claimed = await asyncio.to_thread(self._claim)
        for item in claimed:
            if item.channel is None:
                result = Delivery(ok=False, error=item.problem or "channel unavailable")
            else:
                ctx = context(dict(item.payload), self._settings.public_url)
                result = await deliver(item.channel, ctx, item.key, self._settings.notify_timeout_seconds)
            await asyncio.to_thread(self._record, item, result)
            log.info(
                "notification_attempt",
                outbox=item.outbox_id,
                key=item.key,
                attempt=item.attempt,
                ok=result.ok,
                status=result.status_code,
                error=result.error,
            )
        return len(claimed)

    def _claim(self) -> list[_Claimed]:
        now = utcnow()
        with session_scope(self._sessions) as session:
            stmt = (
                select(OutboxRecord)
                .where(
                    OutboxRecord.status == "pending",
                    OutboxRecord.next_attempt_at <= now,
                    or_(OutboxRecord.claimed_until.is_(None), OutboxRecord.claimed_until < now),
                )
                .order_by(OutboxRecord.next_attempt_at)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
            out: list[_Claimed] = []
            for row in session.execute(stmt).scalars():
                row.claimed_until = now + timedelta(seconds=LEASE_SECONDS)
                row.attempts += 1
                channel: Channel | None = None
                problem: str | None = None
                record = session.get(ChannelRecord, row.channel_id)
                try:
                    channel = channel_of(record, self._box) if record is not None else None
                except SecretsUnavailable as exc:
                    problem = str(exc)
                out.append(_Claimed(row.id, row.idempotency_key, dict(row.payload), channel, row.attempts, problem))
            return out

    def _record(self, item: _Claimed, result: Delivery) -> None:
        s = self._settings
        with session_scope(self._sessions) as session:
            row = session.get(OutboxRecord, item.outbox_id)
            if row is None:
                return  # its run was deleted by retention meanwhile
            session.add(
                DeliveryAttemptRecord(
                    outbox_id=row.id,
                    number=item.attempt,
                    status_code=result.status_code,
                    error=result.error,
                    duration_ms=result.duration_ms,
                )
            )
            row.claimed_until = None
            if result.ok:
                row.status, row.sent_at, row.last_error = "sent", utcnow(), None
            elif item.attempt >= s.notify_max_attempts:
                row.status, row.last_error = "dead", result.error
            else:
                delay = backoff(item.attempt, s.notify_backoff_seconds, s.notify_backoff_max_seconds)
                row.next_attempt_at = utcnow() + timedelta(seconds=delay)
                row.last_error = result.error
