"""watches.PodEvents: a pod's events in order, one at a time, only the newest of those waiting."""

from __future__ import annotations

import asyncio
from typing import Any

from supertest_operator.watches import PodEvents


class Spawner:
    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[Any]] = []

    def spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self.tasks.append(task)
        return task


def pod(name: str, phase: str) -> dict[str, Any]:
    return {"metadata": {"namespace": "ns", "name": name}, "status": {"phase": phase}}


async def test_a_pod_s_events_are_handled_in_order_and_only_the_newest_waiting_one() -> None:
    spawner = Spawner()
    seen: list[tuple[str, str | None, str]] = []
    started, release = asyncio.Event(), asyncio.Event()

    async def handle(event_type: str | None, body: dict[str, Any]) -> None:
        seen.append((body["metadata"]["name"], event_type, body["status"]["phase"]))
        if len(seen) == 1:
            started.set()
            await release.wait()  # the first event is being handled while more arrive

    events = PodEvents(spawner, handle)  # type: ignore[arg-type]
    events.push("ADDED", pod("a", "Pending"))
    await asyncio.wait_for(started.wait(), timeout=5)
    events.push("MODIFIED", pod("a", "Running"))
    events.push("MODIFIED", pod("a", "Succeeded"))
    events.push("ADDED", pod("b", "Pending"))  # another pod is not held up by a's handler
    await asyncio.wait_for(asyncio.gather(*spawner.tasks[1:]), timeout=5)
    assert seen == [("a", "ADDED", "Pending"), ("b", "ADDED", "Pending")]
    release.set()
    await asyncio.wait_for(asyncio.gather(*spawner.tasks), timeout=5)
    assert seen[2:] == [("a", "MODIFIED", "Succeeded")]  # Running was superseded while it waited
    assert len(spawner.tasks) == 2  # one task per pod while it has events, not one per event


async def test_a_failing_handler_does_not_stop_the_pod_s_next_event() -> None:
    spawner = Spawner()
    seen: list[str] = []

    async def handle(event_type: str | None, body: dict[str, Any]) -> None:
        seen.append(body["status"]["phase"])
        if body["status"]["phase"] == "Pending":
            raise RuntimeError("the apiserver said no")

    events = PodEvents(spawner, handle)  # type: ignore[arg-type]
    events.push("ADDED", pod("a", "Pending"))
    await asyncio.wait_for(asyncio.gather(*spawner.tasks), timeout=5)
    events.push("MODIFIED", pod("a", "Running"))
    await asyncio.wait_for(asyncio.gather(*spawner.tasks), timeout=5)
    assert seen == ["Pending", "Running"]
