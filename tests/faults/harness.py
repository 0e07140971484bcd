"""One harness for every fault scenario: submit a burst, inject a fault, heal, then check the promise.

The promise (issue #13): every accepted run reaches a terminal phase, its Postgres row agrees with its resource,
every run that executed has a report in S3, a passing script never ends Failed and a failing one never Passed, and
a pod watch over the whole scenario sees no moment above the running capacity and no duplicate pod.

Each scenario records one `Outcome`; conftest.py prints them all as a table at the end of the session.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from botocore.exceptions import ClientError
from kubernetes import client as k8s

from supertest.artifacts import report_key
from supertest.db.engine import make_engine
from tests.e2e.conftest import TERMINAL, Cluster, make_testrun
from tests.e2e.pod_tracker import PodTracker
from tests.e2e.scripts import FAILING, TINY, sleeping
from tests.k8s.wait import wait_for

CAPACITY = 4  # below every burst, so most runs wait in the queue while the fault hits
RETRIES = 2  # infrastructure errors (an upload outage, a lost node) are retried; test failures are not

# (kind, script, the phase it must end in). No browser: a burst of browser runs would measure Chromium start-up.
MIX: list[tuple[str, str, str]] = [
    ("pass", TINY, "Passed"),
    ("fail", FAILING, "Failed"),
    ("slow", sleeping(4), "Passed"),
]


@dataclass
class Outcome:
    scenario: str
    runs: int
    lost: list[str] = field(default_factory=list)  # accepted, yet gone or never terminal
    wrong_phase: dict[str, str] = field(default_factory=dict)  # run -> "expected X, got Y"
    overshoot: int = 0  # live run pods above capacity at the worst moment
    duplicates: dict[str, list[str]] = field(default_factory=dict)  # run -> pods beyond one per attempt
    row_mismatch: dict[str, str] = field(default_factory=dict)  # run -> "row X, resource Y"
    missing_report: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.wrong_phase
            or self.overshoot
            or self.duplicates
            or self.row_mismatch
            or self.missing_report
        )

    def explain(self) -> str:
        parts = [f"{self.scenario}: {self.runs} runs"]
        for label, value in (
            ("lost", self.lost),
            ("wrong phase", self.wrong_phase),
            ("overshoot", self.overshoot),
            ("duplicate pods", self.duplicates),
            ("row disagrees with resource", self.row_mismatch),
            ("no report although it executed", self.missing_report),
            ("notes", self.notes),
        ):
            if value:
                parts.append(f"{label}: {value}")
        return "\n  ".join(parts)


OUTCOMES: list[Outcome] = []  # read by conftest.py's terminal summary


def summary_table(outcomes: list[Outcome]) -> str:
    header = ("scenario", "runs", "lost", "wrong phase", "overshoot", "duplicates", "row/report", "result")
    rows = [
        (
            o.scenario,
            str(o.runs),
            str(len(o.lost)),
            str(len(o.wrong_phase)),
            str(o.overshoot),
            str(len(o.duplicates)),
            str(len(o.row_mismatch) + len(o.missing_report)),
            "ok" if o.ok else "FAIL",
        )
        for o in outcomes
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in [header, *rows]]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


class Burst:
    """A burst of TestRuns (passing, failing and slow), watched from before the first until checked."""

    def __init__(self, cluster: Cluster, api: k8s.ApiClient, scenario: str, count: int = 20) -> None:
        self.cluster = cluster
        self.scenario = scenario
        self.expected: dict[str, str] = {}
        self.count = count
        self.tracker = PodTracker(api, cluster.ns)

    def submit(self, retries: int = RETRIES, priority: Callable[[int], int] = lambda _i: 0) -> Burst:
        self.tracker.start()
        for i in range(self.count):
            kind, script, phase = MIX[i % len(MIX)]
            name = f"{kind}-{i:02d}"
            spec = {"retries": retries, "timeoutSeconds": 120, "priority": priority(i)}
            self.cluster.create_run(make_testrun(name, script, **spec))
            self.expected[name] = phase
        return self

    def phases(self) -> dict[str, str | None]:
        found = {r["metadata"]["name"]: settled(r) for r in self.cluster.runs()}
        return {name: found.get(name) for name in self.expected}

    def terminal(self) -> int:
        return sum(1 for phase in self.phases().values() if phase in TERMINAL)

    def wait_started(self, finished: int, timeout: float = 120) -> None:
        """Until `finished` runs are terminal: the fault then hits a burst in full swing."""
        wait_for(
            lambda: self.terminal() >= finished,
            timeout=timeout,
            interval=0.5,
            message=lambda: f"{finished} runs terminal before the fault: {self.phases()}",
        )

    def wait_all_terminal(self, timeout: float) -> None:
        """Bounded: a run still not terminal at the deadline counts as lost in check(), never as a hang."""
        with suppress(AssertionError):
            wait_for(lambda: self.terminal() == len(self.expected), timeout=timeout, interval=1.0)

    def check(
        self,
        database_url: str,
        s3: Any,
        bucket: str,
        allowed: Callable[[str, dict[str, Any]], bool] = lambda _name, _run: False,
    ) -> Outcome:
        """Measure the promise; `allowed(name, run)` accepts a phase other than the script's (node loss)."""
        self.tracker.stop()
        outcome = Outcome(self.scenario, len(self.expected))
        runs = {r["metadata"]["name"]: r for r in self.cluster.runs()}

        def rows_agree() -> bool:  # the mirror is asynchronous: a row may trail its resource by a few seconds
            rows = _rows(database_url, self.cluster.ns)
            return all(rows.get(name) == settled(run) for name, run in runs.items() if settled(run) in TERMINAL)

        with suppress(AssertionError):  # bounded: what still disagrees at the deadline is reported below
            wait_for(rows_agree, timeout=ROW_CATCH_UP_SECONDS, interval=1.0)
        rows = _rows(database_url, self.cluster.ns)
        client = s3.client()
        for name, want in self.expected.items():
            run = runs.get(name)
            status = (run or {}).get("status") or {}
            phase = settled(run) if run is not None else None
            if run is None or phase not in TERMINAL:
                outcome.lost.append(f"{name} ({phase})")
                continue
            if phase != want and not allowed(name, run):
                outcome.wrong_phase[name] = f"expected {want}, got {phase}: {status.get('message')}"
            row = rows.get(name)
            if row is None or row != phase:
                outcome.row_mismatch[name] = f"row {row}, resource {phase}"
            if phase in ("Passed", "Failed"):
                missing = _missing_report(client, bucket, name, status)
                if missing:
                    outcome.missing_report.append(f"{name} ({missing})")
            attempts = max(int(status.get("attempts") or 1), 1)
            extra = sorted(self.tracker.pods_by_run.get(name, set()) - {f"{name}-a{k}" for k in range(1, attempts + 1)})
            if extra:
                outcome.duplicates[name] = extra
        outcome.overshoot = max(0, self.tracker.peak - CAPACITY)
        if self.tracker.peak < CAPACITY:
            outcome.notes.append(f"capacity never reached (peak {self.tracker.peak}): the fault hit an idle cluster")
        OUTCOMES.append(outcome)
        return outcome


# How long the Postgres mirror may trail the resources after a fault heals (its retries back off while Postgres or
# the apiserver is down) before a row that still disagrees counts against the scenario.
ROW_CATCH_UP_SECONDS = 90.0


def settled(run: dict[str, Any]) -> str | None:
    """The run's phase; an Error with a retry still to come is not an end ("Error, retrying")."""
    status = run.get("status") or {}
    phase = status.get("phase")
    return "Error, retrying" if phase == "Error" and status.get("retryAt") else phase


def _rows(database_url: str, namespace: str) -> dict[str, str]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            result = conn.execute(sa.text("select id, phase from runs where namespace = :ns"), {"ns": namespace})
            return {r.id: r.phase for r in result}
    finally:
        engine.dispose()


def _missing_report(client: Any, bucket: str, name: str, status: dict[str, Any]) -> str | None:
    """What is missing of an executed run's report: the URL on its status, or the object in S3."""
    if not status.get("reportURL"):
        return "no reportURL on the status"
    try:
        client.head_object(Bucket=bucket, Key=report_key(name))
    except ClientError:
        return f"no {report_key(name)} in S3"
    return None


class Outage:
    """How long a fault lasts; the test's own thread waits it out (or probes the system meanwhile)."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds
        self._never = threading.Event()

    def over(self, poll: float = 0.0) -> bool:
        """After waiting up to `poll` seconds (a probe interval, never past the end): is the fault over?"""
        remaining = self.end - time.monotonic()
        if remaining > 0 and poll > 0:
            self._never.wait(min(poll, remaining))  # the fault's duration is the point here, not a synchronisation
        return time.monotonic() >= self.end


@contextmanager
def fault(inject: Callable[[], None], heal: Callable[[], None], seconds: float) -> Iterator[Outage]:
    """Inject now and heal once `seconds` have passed; the body may probe the system meanwhile.

    Healing happens in the test's thread, on purpose: the control plane's processes die with the thread that
    started them (PR_SET_PDEATHSIG), so a timer thread must not restart kube-apiserver.
    """
    inject()
    outage = Outage(seconds)
    try:
        yield outage
    finally:
        outage.over(poll=seconds)
        heal()
