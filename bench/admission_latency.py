"""How fast does a run get its pod? TestRuns through our operator versus batch/v1 Jobs through
kube-controller-manager's Job controller, on the same real apiserver, in one process run.

1. Latency: create N TestRuns and N Jobs, alternating, one at a time; for each, the time from the create call
   to the moment a pod watch (one watcher for both) sees its pod. Medians, p95s and their ratio.
2. Burst: create 500 TestRuns at once (RUNNING_CAPACITY=--capacity) and drain them: runs admitted per second
   (first create -> last pod created) and the operator's peak RSS (VmHWM).

Pods run `true` through the test node agent (no Playwright): this measures admission, not test execution.

    .venv/bin/python bench/admission_latency.py [--runs 50] [--burst 500] [--capacity 50] [--operator-src /tmp/base]
    .venv/bin/python bench/admission_latency.py --quick   # 10 of each and a burst of 100: a smoke run, not a figure
"""

from __future__ import annotations

import argparse
import concurrent.futures
import statistics
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kubernetes import client as k8s  # noqa: E402

from bench.harness import operator_cluster, use_operator_source  # noqa: E402
from bench.proc_stats import peak_rss_mib  # noqa: E402
from bench.watching import FirstSeen  # noqa: E402
from tests.k8s.wait import wait_for  # noqa: E402

GROUP, VERSION = "supertest.dev", "v1alpha1"
TERMINAL = {"Passed", "Failed", "Error", "Cancelled", "TimedOut"}


def pod_owner(meta: Mapping[str, Any]) -> str | None:
    """The TestRun or Job a pod belongs to."""
    labels = meta.get("labels") or {}
    return labels.get("supertest.dev/run") or labels.get("job-name")


def testrun(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TestRun",
        "metadata": {"name": name},
        "spec": {"script": "// bench: the pod runs `true`", "ttlSecondsAfterFinished": 3600},
    }


def job(name: str) -> dict[str, Any]:
    container = {"name": "c", "image": "bench", "command": ["true"]}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [container]}}},
    }


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50, help="TestRuns and Jobs each for the latency part (>= 50)")
    parser.add_argument("--burst", type=int, default=500, help="TestRuns created at once for the burst")
    parser.add_argument("--capacity", type=int, default=50, help="RUNNING_CAPACITY during the burst")
    parser.add_argument("--log-level", default="WARNING", help="the operator's LOG_LEVEL")
    parser.add_argument("--keep", action="store_true", help="print where the operator log is")
    parser.add_argument("--operator-src", type=Path, help="run the operator from this source tree (a baseline)")
    parser.add_argument(
        "--quick", action="store_true", help="10 of each, a burst of 100 (under 2 minutes): a smoke run"
    )
    args = parser.parse_args()
    if args.quick:
        args.runs, args.burst = 10, 100

    overrides = {
        "RUNNING_CAPACITY": str(args.capacity),
        "QUEUED_CAPACITY": "100000",
        "LOG_LEVEL": args.log_level,
        "RECONCILE_INTERVAL_SECONDS": "2",
    }
    if args.operator_src is not None:
        use_operator_source(args.operator_src, overrides)
    with operator_cluster(overrides) as cluster:
        ns, api = cluster.namespace, cluster.api
        custom, batch = k8s.CustomObjectsApi(api), k8s.BatchV1Api(api)
        pods = FirstSeen(k8s.CoreV1Api(api).list_namespaced_pod, ns, key=pod_owner)

        tr_lat: list[float] = []
        job_lat: list[float] = []
        for i in range(args.runs):
            start = time.monotonic()
            custom.create_namespaced_custom_object(GROUP, VERSION, ns, "testruns", testrun(f"lat-{i}"))
            tr_lat.append(pods.wait(f"lat-{i}") - start)
            start = time.monotonic()
            batch.create_namespaced_job(ns, job(f"job-{i}"))
            job_lat.append(pods.wait(f"job-{i}") - start)

        burst_names = [f"burst-{i:03d}" for i in range(args.burst)]
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(
                pool.map(
                    lambda n: custom.create_namespaced_custom_object(GROUP, VERSION, ns, "testruns", testrun(n)),
                    burst_names,
                )
            )
        created = time.monotonic() - t0
        last_pod = max(pods.wait(n, timeout=1800) for n in burst_names)

        def drained() -> bool:
            items = custom.list_namespaced_custom_object(GROUP, VERSION, ns, "testruns")["items"]
            done = [r for r in items if (r.get("status") or {}).get("phase") in TERMINAL]
            return len(done) == len(items)

        wait_for(drained, timeout=1800, interval=1.0, message="the burst to drain")
        drain = time.monotonic() - t0
        rss = peak_rss_mib(cluster.operator.proc.pid)  # type: ignore[union-attr]
        pods.stop()

    tr_med, job_med = statistics.median(tr_lat), statistics.median(job_lat)
    print(f"create -> pod latency over {args.runs} objects each (same apiserver, same pod watcher):")
    print(f"  TestRun (supertest operator): median {tr_med * 1000:7.1f} ms   p95 {p95(tr_lat) * 1000:7.1f} ms")
    print(f"  Job (kube-controller-manager): median {job_med * 1000:7.1f} ms   p95 {p95(job_lat) * 1000:7.1f} ms")
    print(f"  ratio TestRun/Job: median {tr_med / job_med:.2f}x   p95 {p95(tr_lat) / p95(job_lat):.2f}x")
    print(f"burst of {args.burst} TestRuns, RUNNING_CAPACITY={args.capacity}, pods run `true`:")
    print(
        f"  created in {created:.1f} s; all admitted (last pod created) after {last_pod - t0:.1f} s: "
        f"{args.burst / (last_pod - t0):.1f} runs admitted/s"
    )
    print(f"  drained (all terminal) after {drain:.1f} s: {args.burst / drain:.1f} runs/s end to end")
    print(f"  operator peak RSS (VmHWM): {rss:.0f} MiB")
    if args.keep:
        print(f"operator log: {cluster.log_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
