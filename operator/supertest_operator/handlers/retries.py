"""Infrastructure failures (pod lost, evicted, failed to start) are retried under spec.retries with backoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from supertest.kube.models import parse_time
from supertest.phases import Phase
from supertest_operator.context import OperatorContext
from supertest_operator.run import RunView
from supertest_operator.settings import OperatorSettings
from supertest_operator.status_writer import apply
from supertest_operator.transitions import Update


def backoff_seconds(attempts: int, settings: OperatorSettings) -> float:
    """base * 2^(attempts-1), capped: 5 s, 10 s, 20 s, ... with the defaults."""
    return float(min(settings.retry_backoff_max_seconds, settings.retry_backoff_seconds * 2 ** max(0, attempts - 1)))


def can_retry(view: RunView) -> bool:
    """A sharded run retries its lost shards one by one (handlers/shards.py), never as a whole: requeued with its
    shard lines it would wait for ever (admission plans only a run without lines), and replanning would reuse the
    names of pods that still exist. So a failed merge step, or a run-level error, ends it Error for good."""
    if view.status.shards:
        return False
    return not view.cancel_requested and view.status.attempts <= view.retries


def error_update(view: RunView, reason: str, message: str, retryable: bool, settings: OperatorSettings) -> Update:
    """Error, with a retryAt when an infrastructure failure still has retries left."""
    if retryable and can_retry(view):
        delay = backoff_seconds(view.status.attempts, settings)
        at = datetime.now(UTC) + timedelta(seconds=delay)
        left = view.retries - view.status.attempts + 1
        text = f"{message}; retrying in {delay:g}s ({left} retr{'y' if left == 1 else 'ies'} left)"
        return Update(Phase.ERROR, reason, text, warning=True, retry_at=at)
    return Update(Phase.ERROR, reason, message, warning=True)


def retry_due(view: RunView, now: datetime) -> bool:
    at = parse_time(view.status.retry_at)
    return view.phase is Phase.ERROR and at is not None and at <= now and not view.cancel_requested


async def requeue(ctx: OperatorContext, view: RunView) -> None:
    def decide(current: RunView) -> Update | None:
        if not retry_due(current, datetime.now(UTC)):
            return None
        attempt = current.status.attempts + 1
        return Update(Phase.QUEUED, "Retrying", f"requeued for attempt {attempt} of {current.retries + 1}")

    await apply(ctx, view.ref, decide)
