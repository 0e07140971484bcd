"""Watches a namespace's run pods and keeps the exact peak of live pods (every event, not samples)."""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

from kubernetes import client as k8s
from kubernetes import watch

DONE = ("Succeeded", "Failed")


class PodTracker:
    def __init__(self, api: k8s.ApiClient, namespace: str) -> None:
        self._core = k8s.CoreV1Api(api)
        self._ns = namespace
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.live: set[str] = set()
        self.peak = 0
        self.pods_by_run: dict[str, set[str]] = defaultdict(set)
        self.errors: list[str] = []
        self._thread = threading.Thread(target=self._loop, name="pod-tracker", daemon=True)

    def start(self) -> PodTracker:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)

    def _loop(self) -> None:
        resource_version = ""
        while not self._stop.is_set():
            w = watch.Watch()
            try:
                if not resource_version:
                    resource_version = self._relist()
                for event in w.stream(
                    self._core.list_namespaced_pod,
                    self._ns,
                    label_selector="supertest.dev/run",
                    resource_version=resource_version,
                    timeout_seconds=5,
                    _request_timeout=(5, 30),
                ):
                    pod: Any = event["object"]
                    resource_version = pod.metadata.resource_version
                    self._observe(event["type"], pod)
                    if self._stop.is_set():
                        break
            except Exception as exc:  # 410 Gone, a dropped stream, an apiserver restart: start over from a list
                self.errors.append(repr(exc))
                resource_version = ""
                self._stop.wait(0.2)  # back-off while the apiserver is down, not a synchronisation
            finally:
                w.stop()

    def _relist(self) -> str:
        """A fresh list replaces what the watch knew: pods deleted while it was down are no longer live."""
        pods = self._core.list_namespaced_pod(self._ns, label_selector="supertest.dev/run", _request_timeout=10)
        with self._lock:
            self.live.clear()
        for pod in pods.items:
            self._observe("ADDED", pod)
        return str(pods.metadata.resource_version)

    def _observe(self, kind: str, pod: Any) -> None:
        name = pod.metadata.name
        with self._lock:
            self.pods_by_run[pod.metadata.labels["supertest.dev/run"]].add(name)
            if kind == "DELETED" or pod.status.phase in DONE:
                self.live.discard(name)
            else:
                self.live.add(name)
            self.peak = max(self.peak, len(self.live))
