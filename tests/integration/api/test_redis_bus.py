"""One API process on real Redis and Postgres: 300 SSE viewers, and Redis lost right after a submit's commit.

The API runs in uvicorn (a thread) with the real local dispatcher, bus and database; the runner is a stand-in
process that waits for its SIGTERM (the tests are about the bus and the submit path, not Playwright). Events a
runner would publish are published by the test through its own RedisEventBus, as a runner pod does.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from httpx_sse import aconnect_sse
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from supertest_api.app import create_app

from supertest.bus import RedisEventBus, create_bus
from supertest.db import apikeys
from supertest.db import runs as run_repo
from supertest.db.engine import make_engine, make_session_factory, session_scope
from supertest.db.migrate import upgrade
from supertest.db.models import RunRecord
from supertest.events import log_event, status_event
from supertest.local.dispatcher import LocalDispatcher
from supertest.phases import Phase
from supertest.settings import ApiSettings
from tests.k8s.wait import wait_for
from tests.services.redis_server import RedisServer
from tests.support.api_thread import serving

SCRIPT = "import { test } from '@playwright/test';\ntest('ok', async () => {});\n"
# Stands in for `python -m supertest_runner`: runs until the dispatcher's SIGTERM, reports nothing.
RUNNER_STAND_IN = [sys.executable, "-c", "import signal; signal.pause()"]


class Dispatcher(LocalDispatcher):
    """The real dispatcher; it only remembers the server's loop so the test can close the bus on it."""

    loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        await super().start()


@dataclass
class Api:
    url: str
    auth: dict[str, str]
    sessions: sessionmaker[Session]
    settings: ApiSettings
    bus: RedisEventBus

    def run_count(self) -> int:
        with session_scope(self.sessions) as session:
            return int(session.execute(select(func.count()).select_from(RunRecord)).scalar_one())


@pytest.fixture
def start_api(
    fresh_postgres_db: Callable[[], str], tmp_path: Path
) -> Iterator[Callable[[str, Callable[[sessionmaker[Session]], None] | None], Api]]:
    stops: list[Callable[[], None]] = []

    def start(redis_url: str, instrument: Callable[[sessionmaker[Session]], None] | None = None) -> Api:
        database_url = fresh_postgres_db()
        upgrade(database_url)
        settings = ApiSettings(
            RUN_BACKEND="local",
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            S3_ENDPOINT=None,
            SESSION_SECRET=None,
            SUPERTEST_HOME=str(tmp_path / "home"),
            RUNNING_CAPACITY=1,
            QUEUED_CAPACITY=500,
        )
        engine = make_engine(database_url)
        sessions = make_session_factory(engine)
        with session_scope(sessions) as session:
            _, key = apikeys.create_key(session, "redis-bus")
        if instrument is not None:
            instrument(sessions)
        bus = create_bus(settings)
        dispatcher = Dispatcher(settings, sessions, bus, runner_command=RUNNER_STAND_IN)
        stack = contextlib.ExitStack()
        stops.append(stack.close)
        stack.callback(engine.dispose)
        url = stack.enter_context(serving(create_app(settings, dispatcher, bus=bus)))

        # Runs before the server stops (callbacks run last in, first out): the bus closes on the app's own loop.
        def close_bus() -> None:
            if dispatcher.loop is not None and not dispatcher.loop.is_closed():
                asyncio.run_coroutine_threadsafe(bus.close(), dispatcher.loop).result(timeout=30)

        stack.callback(close_bus)
        assert isinstance(bus, RedisEventBus)
        return Api(url, {"Authorization": f"Bearer {key}"}, sessions, settings, bus)

    yield start
    for stop in reversed(stops):
        stop()


def clients_named(redis_url: str, name: str) -> int:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        return sum(1 for c in client.client_list() if c.get("name") == name)
    finally:
        client.close()


def xrange_calls(redis_url: str) -> int:
    client = redis.Redis.from_url(redis_url)
    try:
        return int(client.info("commandstats").get("cmdstat_xrange", {}).get("calls", 0))
    finally:
        client.close()


def test_viewers_of_one_run_share_one_upstream_subscription(start_api, redis_url):
    """N viewers of a run on one API process: one bus subscription, one history read, the same events for all."""
    api = start_api(redis_url)
    viewers = 40
    with httpx.Client(base_url=api.url, headers=api.auth, timeout=30) as http:
        res = http.post("/api/test", json={"script": SCRIPT})
        assert res.status_code == 202, res.text
        run_id = res.json()["runId"]
    xrange_before = xrange_calls(redis_url)

    published: list[str] = []

    async def scenario() -> tuple[list[list[str]], int, int]:
        connected = 0
        all_connected = asyncio.Event()
        seen: list[list[str]] = [[] for _ in range(viewers)]
        limits = httpx.Limits(max_connections=viewers + 5)
        async with httpx.AsyncClient(base_url=api.url, headers=api.auth, timeout=60, limits=limits) as client:

            async def view(i: int) -> None:
                nonlocal connected
                async with aconnect_sse(client, "GET", f"/api/test-status/sse/{run_id}") as source:
                    async for sse in source.aiter_sse():
                        seen[i].append(sse.id)
                        if len(seen[i]) == 1:
                            connected += 1
                            if connected == viewers:
                                all_connected.set()

            tasks = [asyncio.create_task(view(i)) for i in range(viewers)]
            try:
                await asyncio.wait_for(all_connected.wait(), timeout=60)
                following = api.bus.followers(run_id)
                publisher = RedisEventBus(redis_url)
                try:
                    for n in range(5):
                        published.append(await publisher.publish(log_event(run_id, f"line {n}")))
                    published.append(await publisher.publish(status_event(run_id, Phase.PASSED, "done")))
                finally:
                    await publisher.close()
                await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
            finally:
                for task in tasks:
                    task.cancel()
        return seen, following, api.bus.followers(run_id)

    seen, following, after_end = asyncio.run(scenario())
    assert following == 1  # one upstream subscription for all 40 viewers
    assert xrange_calls(redis_url) - xrange_before == 1  # and one history read (it was one per viewer, and more)
    assert seen[0][-6:] == published  # the live five lines and Passed, after the stored phase changes
    assert all(ids == seen[0] for ids in seen)
    # The last viewer out ends the subscription.
    wait_for(lambda: api.bus.followers(run_id) == 0, timeout=10, interval=0.01, message=f"0 followers ({after_end})")


def test_300_sse_viewers_on_one_api_process_while_submissions_keep_succeeding(start_api, redis_url):
    api = start_api(redis_url)
    began = time.monotonic()
    viewers, runs_followed = 300, 10
    with httpx.Client(base_url=api.url, headers=api.auth, timeout=30) as http:
        run_ids = []
        for i in range(runs_followed):
            res = http.post("/api/test", json={"script": SCRIPT, "title": f"watched {i}"})
            assert res.status_code == 202, res.text
            run_ids.append(res.json()["runId"])

    async def scenario() -> dict[str, Any]:
        connected = 0
        all_connected = asyncio.Event()
        endings: dict[int, str] = {}
        limits = httpx.Limits(max_connections=viewers + 50, max_keepalive_connections=viewers + 50)
        async with httpx.AsyncClient(base_url=api.url, headers=api.auth, timeout=120, limits=limits) as client:

            async def view(i: int) -> None:
                nonlocal connected
                run_id = run_ids[i % runs_followed]
                async with aconnect_sse(client, "GET", f"/api/test-status/sse/{run_id}") as source:
                    assert source.response.status_code == 200
                    first = True
                    async for sse in source.aiter_sse():
                        if first:  # the replayed Queued event: this viewer is subscribed
                            first = False
                            connected += 1
                            if connected == viewers:
                                all_connected.set()
                        if sse.event == "status" and '"phase":"Passed"' in sse.data.replace(" ", ""):
                            endings[i] = "Passed"
                            return
                endings[i] = "closed without the terminal event"

            tasks = [asyncio.create_task(view(i)) for i in range(viewers)]
            try:
                await asyncio.wait_for(all_connected.wait(), timeout=180)
                connected_after = time.monotonic() - began
                # Submissions while 300 streams are open: every one accepted, none waits on the viewers.
                latencies = []
                for i in range(20):
                    t0 = time.monotonic()
                    res = await client.post("/api/test", json={"script": SCRIPT, "title": f"during {i}"})
                    latencies.append(time.monotonic() - t0)
                    assert res.status_code == 202, res.text
                reader_connections = clients_named(redis_url, "supertest-reader")
                pool_connections = clients_named(redis_url, "supertest")
                # What a runner pod publishes when it ends: every viewer must see it live.
                publisher = RedisEventBus(redis_url)
                try:
                    for run_id in run_ids:
                        await publisher.publish(status_event(run_id, Phase.PASSED, "done"))
                finally:
                    await publisher.close()
                await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)
            finally:
                for task in tasks:
                    task.cancel()
            return {
                "endings": endings,
                "latencies": latencies,
                "connected_after": connected_after,
                "reader_connections": reader_connections,
                "pool_connections": pool_connections,
            }

    result = asyncio.run(scenario())
    elapsed = time.monotonic() - began
    assert result["endings"] == dict.fromkeys(range(viewers), "Passed")
    assert result["reader_connections"] == 1  # one XREAD for every viewer of the process
    assert result["pool_connections"] <= api.settings.redis_max_connections
    assert api.run_count() == runs_followed + 20
    latencies = sorted(result["latencies"])
    print(
        f"\n300 viewers: all subscribed after {result['connected_after']:.1f}s, total {elapsed:.1f}s; "
        f"POST /api/test during: median {latencies[len(latencies) // 2] * 1000:.0f} ms, "
        f"max {latencies[-1] * 1000:.0f} ms; Redis connections: reader {result['reader_connections']}, "
        f"request pool {result['pool_connections']}"
    )


def test_redis_lost_right_after_a_submit_commits_is_still_202_and_a_retry_makes_no_duplicate(start_api, monkeypatch):
    server = RedisServer.start()
    lost = threading.Event()
    enqueue = run_repo.enqueue_async

    async def enqueue_then_kill_redis(conn: Any, run: RunRecord, queued_capacity: int) -> RunRecord:
        """On Postgres the queued-capacity decision commits inside enqueue_async (one pipelined transaction, sent
        from the event loop): Redis dies the moment the run is committed, before the API could publish anything."""
        queued = await enqueue(conn, run, queued_capacity)
        if not lost.is_set():
            assert server.process is not None
            server.process.popen.kill()  # unreachable: connections refused from here on
            server.process.popen.wait(timeout=10)
            lost.set()
        return queued

    monkeypatch.setattr(run_repo, "enqueue_async", enqueue_then_kill_redis)

    def no_hook(sessions: sessionmaker[Session]) -> None:
        return None

    try:
        api = start_api(server.url, no_hook)
        body = {"script": SCRIPT, "title": "submitted as Redis dies"}
        headers = {**api.auth, "Idempotency-Key": "4f7c2a9e-redis-lost"}
        with httpx.Client(base_url=api.url, timeout=60) as http:
            first = http.post("/api/test", json=body, headers=headers)
            assert lost.is_set(), "Redis was not killed after the commit"
            assert first.status_code == 202, first.text
            run_id = first.json()["runId"]
            assert run_id.startswith("tr-")
            # The client could not know the first answer arrived: it retries, with the same key.
            retry = http.post("/api/test", json=body, headers=headers)
            assert retry.status_code == 202, retry.text
            assert retry.json()["runId"] == run_id
            assert retry.headers["Idempotent-Replayed"] == "true"
            assert api.run_count() == 1
            # Live status without Redis: the row stands in, no 500.
            with http.stream("GET", f"/api/test-status/sse/{run_id}", headers=api.auth) as stream:
                assert stream.status_code == 200
                first_event = next(line for line in stream.iter_lines() if line.startswith("data:"))
                assert run_id in first_event
    finally:
        server.stop()


def restart_redis(server: RedisServer) -> None:
    """Stop redis-server and start a new one on the same port (no persistence: the streams are gone)."""
    assert server.process is not None
    server.process.stop()
    server.process = None
    server._boot(timeout=30)


def test_sse_resumes_after_a_redis_restart_and_skips_a_malformed_entry(start_api):
    server = RedisServer.start()
    try:
        api = start_api(server.url)
        with httpx.Client(base_url=api.url, headers=api.auth, timeout=30) as http:
            res = http.post("/api/test", json={"script": SCRIPT, "title": "followed through a Redis restart"})
            assert res.status_code == 202, res.text
            run_id = res.json()["runId"]

        async def scenario() -> tuple[list[str], list[str]]:
            seen: list[str] = []
            ids: dict[str, str] = {}
            got: dict[str, asyncio.Event] = {m: asyncio.Event() for m in ("before", "after", "past-garbage")}

            async def follow() -> None:
                async with (
                    httpx.AsyncClient(base_url=api.url, headers=api.auth, timeout=120) as client,
                    aconnect_sse(client, "GET", f"/api/test-status/sse/{run_id}") as source,
                ):
                    assert source.response.status_code == 200
                    async for sse in source.aiter_sse():
                        seen.append(sse.data)
                        for marker, flag in got.items():
                            if f"log {marker}" in sse.data:
                                ids.setdefault(marker, sse.id)
                                flag.set()
                        if '"phase":"Passed"' in sse.data.replace(" ", ""):
                            return

            async def publish_until_seen(marker: str, within: float) -> None:
                """Publish a log line again until the viewer has it: the publisher's own Redis may be coming back."""
                publisher = RedisEventBus(server.url)
                try:
                    deadline = asyncio.get_running_loop().time() + within
                    while not got[marker].is_set():
                        assert asyncio.get_running_loop().time() < deadline, f"the viewer never got {marker!r}"
                        with contextlib.suppress(Exception):
                            await publisher.publish(log_event(run_id, f"log {marker}"))
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(got[marker].wait(), timeout=1.0)
                finally:
                    await publisher.close()

            viewer = asyncio.create_task(follow())
            try:
                await publish_until_seen("before", 30)
                await asyncio.to_thread(restart_redis, server)
                await publish_until_seen("after", 30)
                # A foreign entry in the run's stream is skipped (and logged); later events still arrive.
                raw = redis.Redis.from_url(server.url)
                try:
                    raw.xadd(f"supertest:run:{run_id}:events", {"event": "{not json"})
                    raw.xadd(f"supertest:run:{run_id}:events", {"other": "field"})
                finally:
                    raw.close()
                await publish_until_seen("past-garbage", 30)
                publisher = RedisEventBus(server.url)
                try:
                    await publisher.publish(status_event(run_id, Phase.PASSED, "done"))
                finally:
                    await publisher.close()
                await asyncio.wait_for(viewer, timeout=30)
            finally:
                viewer.cancel()
            # A viewer that reconnects with the Last-Event-ID it had before the restart gets what came after it.
            resumed: list[str] = []
            async with (
                httpx.AsyncClient(base_url=api.url, headers=api.auth, timeout=60) as client,
                aconnect_sse(
                    client, "GET", f"/api/test-status/sse/{run_id}", headers={"Last-Event-ID": ids["before"]}
                ) as source,
            ):
                async for sse in source.aiter_sse():
                    resumed.append(sse.data)
            return seen, resumed

        seen, resumed = asyncio.run(scenario())
        assert not any("log before" in data for data in resumed)
        assert any("log after" in data for data in resumed)
        assert '"phase":"Passed"' in resumed[-1].replace(" ", "")
        assert any("log after" in data for data in seen)
        assert any("log past-garbage" in data for data in seen)
        assert '"phase":"Passed"' in seen[-1].replace(" ", "")
    finally:
        server.stop()
