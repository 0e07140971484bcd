"""Done-when 1: a scheduled job fails three times, then passes; with "failure after 2 consecutive, at most 2 per
streak, recovery on", each channel (a signed, templated webhook; Slack's incoming-webhook format; email over SMTP
with STARTTLS and a login) gets exactly 2 failure alerts and 1 recovery.

Real pieces: Postgres, the local scheduler (its clock stepped a minute per tick), the dispatcher and the real
runner (Playwright), the outbox sender, an HTTP receiver and aiosmtpd on 127.0.0.1. Channels, rule and variable are
written through the API's own services (the API-level path runs in test_restart.py).
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from supertest_api.notifications import service as notify_service
from supertest_api.notifications.schemas import EmailChannelIn, RuleIn, SlackChannelIn, WebhookChannelIn

from supertest.bus import MemoryEventBus
from supertest.crypto import load_secret_box
from supertest.db import migrate
from supertest.db.engine import make_engine, make_session_factory, session_scope
from supertest.db.ids import new_id
from supertest.db.models import (
    ChannelRecord,
    DeliveryAttemptRecord,
    JobRecord,
    JobTestRecord,
    OutboxRecord,
    RunRecord,
    TestRecord,
    VariableRecord,
)
from supertest.local.dispatcher import LocalDispatcher
from supertest.local.scheduler import LocalScheduler
from supertest.notify.sender import OutboxSender
from supertest.phases import Phase
from supertest.settings import CoreSettings
from tests.integration.notify.conftest import (
    FLIP_SCRIPT,
    JOB_NAME,
    PUBLIC_URL,
    TEST_TITLE,
    assert_alerts,
    channel_bodies,
)
from tests.support.receivers import HttpReceiver, SmtpReceiver

pytestmark = pytest.mark.browser

MODELS = {"webhook": WebhookChannelIn, "slack": SlackChannelIn, "email": EmailChannelIn}


async def wait_until(predicate, within: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    last = None
    while time.monotonic() < deadline:
        last = await asyncio.to_thread(predicate)
        if last:
            return last
        await asyncio.sleep(0.1)  # the poll interval of a deadline-bounded wait
    raise AssertionError(f"timed out after {within}s waiting for {what}; last: {last!r}")


def setup_job(
    factory: sessionmaker[Session], settings: CoreSettings, http: HttpReceiver, smtp: SmtpReceiver, counter: Path
) -> str:
    box = load_secret_box(settings)
    with session_scope(factory) as s:
        test = TestRecord(id=new_id(), title=TEST_TITLE, script=FLIP_SCRIPT, language="javascript", tags=[])
        job = JobRecord(
            id=new_id(), name=JOB_NAME, schedule="* * * * *", created_at=datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)
        )
        s.add_all([test, job])
        s.flush()
        s.add(JobTestRecord(job_id=job.id, position=0, test_id=test.id))
        s.add(VariableRecord(id=new_id(), scope=job.id, job_id=job.id, name="FLIP_FILE", value=str(counter)))
        for body in channel_bodies(http, smtp):
            channel = notify_service.create_channel(s, box, MODELS[body["kind"]].model_validate(body))
            rule = RuleIn(
                channel_id=channel.id,
                job_id=job.id,
                events=["failure", "recovery"],
                failure_threshold=2,
                max_alerts_per_streak=2,
            )
            notify_service.create_rule(s, rule)
        # Stored encrypted: neither the HMAC secret, the Slack URL nor the SMTP password is in the row.
        for channel in s.execute(select(ChannelRecord)).scalars():
            raw = json.dumps(channel.config) + (channel.secret_token or "")
            assert "whsec-" not in raw and "/slack/" not in raw and smtp.password not in raw
        return job.id


async def test_scheduled_job_fails_three_times_then_passes(
    fresh_postgres_db, tmp_path: Path, http: HttpReceiver, smtp: SmtpReceiver
) -> None:
    url = fresh_postgres_db()
    migrate.upgrade(url)
    settings = CoreSettings(
        SUPERTEST_HOME=str(tmp_path / "home"),
        DATABASE_URL=url,
        PUBLIC_URL=PUBLIC_URL,
        NOTIFY_POLL_SECONDS=0.2,
        RUNNING_CAPACITY=1,
    )
    engine = make_engine(url)
    factory = make_session_factory(engine)
    counter = tmp_path / "counter"
    counter.write_text("0")
    job_id = setup_job(factory, settings, http, smtp, counter)

    clock = {"now": datetime(2026, 1, 1, 0, 1, 1, tzinfo=UTC)}
    dispatcher = LocalDispatcher(settings, factory, MemoryEventBus(), tick_seconds=0.2)
    scheduler = LocalScheduler(factory, dispatcher, clock=lambda: clock["now"])
    sender = OutboxSender(settings, factory, load_secret_box(settings))
    await dispatcher.start()
    await sender.start()
    run_ids: list[str] = []
    try:
        for tick in range(4):
            await scheduler.tick()  # the cron tick of this minute starts one run

            def newest(tick: int = tick) -> RunRecord | None:
                with session_scope(factory) as s:
                    rows = (
                        s.execute(select(RunRecord).where(RunRecord.job_id == job_id).order_by(RunRecord.created_at))
                        .scalars()
                        .all()
                    )
                    return rows[-1] if len(rows) == tick + 1 else None

            run = await wait_until(newest, 10, f"the run of tick {tick}")
            assert run.trigger == "schedule"

            def finished(run_id: str = run.id) -> RunRecord | None:
                with session_scope(factory) as s:
                    row = s.get(RunRecord, run_id)
                    return row if row is not None and Phase(row.phase).is_terminal else None

            done = await wait_until(finished, 180, f"run {run.id} to finish")
            assert done.phase == ("Failed" if tick < 3 else "Passed"), (done.phase, done.message)
            run_ids.append(done.id)
            clock["now"] += timedelta(minutes=1)

        def all_sent() -> bool:
            with session_scope(factory) as s:
                rows = s.execute(select(OutboxRecord)).scalars().all()
                return len(rows) == 9 and all(r.status == "sent" for r in rows)

        await wait_until(all_sent, 60, "all 9 alerts to be sent")
    finally:
        await sender.stop()
        await dispatcher.stop()

    assert_alerts(http, smtp, failing_runs=run_ids[:3], recovered_run=run_ids[3], link_base=PUBLIC_URL)
    with session_scope(factory) as s:
        # The failed test and its first error were stored with the run (they reach alerts from here).
        first = s.get(RunRecord, run_ids[0])
        assert first is not None and first.failures and TEST_TITLE in first.failures[0]["test"]
        # Every delivery recorded its one successful attempt, with the receiver's answer.
        attempts = s.execute(select(DeliveryAttemptRecord)).scalars().all()
        assert len(attempts) == 9 and {a.status_code for a in attempts} <= {200, 250}
    engine.dispose()
