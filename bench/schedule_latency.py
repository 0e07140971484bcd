"""How late after its tick does a scheduled run appear? TestJobs through our operator versus batch/v1 CronJobs
through kube-controller-manager's CronJob controller, on the same real apiserver, at the same ticks.

N TestJobs and N CronJobs, all `* * * * *`, for K ticks. One watcher per kind records the wall-clock moment each
JobRun/Job is first seen; lateness = that moment - the tick the object belongs to (a JobRun's name carries its
tick as minutes since the epoch, a CronJob's Job the same). Medians, p95s, their ratio, and a check that every
tick produced exactly one object per schedule (nothing lost, nothing doubled).

Pods run `true` through the test node agent (no Playwright): this measures scheduling, not test execution.

    .venv/bin/python bench/schedule_latency.py [--jobs 20] [--ticks 3] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kubernetes import client as k8s  # noqa: E402

from bench.harness import operator_cluster  # noqa: E402
from bench.watching import FirstSeen  # noqa: E402
from tests.k8s.wait import wait_for  # noqa: E402

GROUP, VERSION = "supertest.dev", "v1alpha1"


def testjob(name: str) -> dict[str, Any]:
    test = {"name": "t", "script": "// bench: the pod runs `true`"}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TestJob",
        "metadata": {"name": name},
        "spec": {"schedule": "* * * * *", "tests": [test], "successfulRunsHistoryLimit": 10},
    }


def cronjob(name: str) -> dict[str, Any]:
    container = {"name": "c", "image": "bench", "command": ["true"]}
    template = {
        "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [container]}}}
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name},
        "spec": {"schedule": "* * * * *", "jobTemplate": template, "successfulJobsHistoryLimit": 10},
    }


def lateness(seen: dict[str, float], prefix: str) -> tuple[list[float], Counter[int]]:
    """Seconds after its tick for every object named <prefix>-<...>-<minute>; and objects per tick minute."""
    late: list[float] = []
    per_tick: Counter[int] = Counter()
    for name, at in seen.items():
        if not name.startswith(prefix):
            continue
        minute = int(name.rsplit("-", 1)[1])
        per_tick[minute] += 1
        late.append(at - minute * 60)
    return late, per_tick


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=20, help="TestJobs and CronJobs each")
    parser.add_argument("--ticks", type=int, default=3, help="minute ticks to measure")
    parser.add_argument(
        "--quick", action="store_true", help="5 of each, one tick (under 2 minutes): a smoke run, not a figure"
    )
    args = parser.parse_args()
    if args.quick:
        args.jobs, args.ticks = 5, 1

    with operator_cluster({"RUNNING_CAPACITY": "100", "LOG_LEVEL": "WARNING"}) as cluster:
        ns, api = cluster.namespace, cluster.api
        custom, batch = k8s.CustomObjectsApi(api), k8s.BatchV1Api(api)

        def list_jobruns(namespace: str, **kw: Any) -> Any:
            return custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "jobruns", **kw)

        runs = FirstSeen(list_jobruns, ns, clock=time.time)
        jobs = FirstSeen(batch.list_namespaced_job, ns, clock=time.time)
        for i in range(args.jobs):
            custom.create_namespaced_custom_object(GROUP, VERSION, ns, "testjobs", testjob(f"tj-{i:02d}"))
            batch.create_namespaced_cron_job(ns, cronjob(f"cj-{i:02d}"))
        first = int(time.time()) // 60 + 1
        last = first + args.ticks - 1
        print(f"{args.jobs} TestJobs and {args.jobs} CronJobs created; measuring ticks {first}..{last} (minutes)")

        def complete() -> bool:
            _, tj_ticks = lateness(runs.seen, "tj-")
            _, cj_ticks = lateness(jobs.seen, "cj-")
            return all(tj_ticks[m] >= args.jobs and cj_ticks[m] >= args.jobs for m in range(first, last + 1))

        wait_for(complete, timeout=(last + 1) * 60 - time.time() + 60, interval=1.0, message="every tick's runs")
        runs.stop()
        jobs.stop()

    window = {m for m in range(first, last + 1)}
    tj_late, tj_ticks = lateness({k: v for k, v in runs.seen.items() if int(k.rsplit("-", 1)[1]) in window}, "tj-")
    cj_late, cj_ticks = lateness({k: v for k, v in jobs.seen.items() if int(k.rsplit("-", 1)[1]) in window}, "cj-")
    print(f"tick -> run first seen, {args.jobs} schedules x {args.ticks} ticks each (same apiserver, same watch):")
    for label, late in (
        ("TestJob -> JobRun (supertest)", tj_late),
        ("CronJob -> Job (kube-controller-manager)", cj_late),
    ):
        print(
            f"  {label:42s} median {statistics.median(late):6.2f} s   p95 {p95(late):6.2f} s   max {max(late):6.2f} s"
        )
    print(
        f"  ratio TestJob/CronJob: median {statistics.median(tj_late) / statistics.median(cj_late):.2f}x   "
        f"p95 {p95(tj_late) / p95(cj_late):.2f}x"
    )
    exact = all(tj_ticks[m] == args.jobs for m in window) and all(cj_ticks[m] == args.jobs for m in window)
    print(f"  exactly one run per schedule per tick: {'yes' if exact else f'NO: {dict(tj_ticks)} {dict(cj_ticks)}'}")
    return 0 if exact else 1


if __name__ == "__main__":
    raise SystemExit(main())
