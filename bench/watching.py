"""A watch that records when each object was first seen: the clock the benchmarks read latencies from."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from kubernetes import watch


class FirstSeen:
    """First-seen time of every object a list call returns, keyed by `key(metadata)` (None: not counted).

    `metadata` is a dict for custom objects and the typed client's `to_dict()` (snake_case) for core ones; both
    have `name` and `labels`. `clock` is time.monotonic for intervals, time.time for wall-clock comparisons.
    """

    def __init__(
        self,
        lister: Callable[..., Any],
        namespace: str,
        key: Callable[[Mapping[str, Any]], str | None] = lambda meta: str(meta["name"]),
        clock: Callable[[], float] = time.monotonic,
        when: Callable[[Any], bool] = lambda obj: True,
    ) -> None:
        """`when(object)`: count an object only from the first event in which this holds (e.g. a running container)."""
        self.lister, self.ns, self.key, self.clock, self.when = lister, namespace, key, clock, when
        self.seen: dict[str, float] = {}
        self.cond = threading.Condition()
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        rv = ""
        while not self.stop_flag.is_set():
            w = watch.Watch()
            try:
                for event in w.stream(self.lister, self.ns, resource_version=rv, timeout_seconds=5):
                    now = self.clock()
                    obj: Any = event["object"]
                    meta = obj["metadata"] if isinstance(obj, dict) else obj.metadata.to_dict()
                    rv = meta.get("resourceVersion") or meta.get("resource_version") or ""
                    name = self.key(meta)
                    if name and self.when(obj):
                        with self.cond:
                            self.seen.setdefault(name, now)
                            self.cond.notify_all()
            except Exception:  # an expired resourceVersion or a dropped connection: list again
                rv = ""
            finally:
                w.stop()

    def wait(self, name: str, timeout: float = 60) -> float:
        with self.cond:
            if not self.cond.wait_for(lambda: name in self.seen, timeout=timeout):
                raise TimeoutError(f"{name} not seen within {timeout}s")
            return self.seen[name]

    def stop(self) -> None:
        self.stop_flag.set()
