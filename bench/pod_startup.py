"""How fast does a run's container start on a real kubelet? TestRun create -> runner container running, against
a batch/v1 Job with the same image and command, on the same real node (containerd + runc), in one process run.

Both pods run the locally built runner image with `sleep` (identical work on the node: what differs is only the
path from the create call to the kubelet: our operator's admission versus kube-controller-manager's Job
controller). Samples alternate TestRun, Job, TestRun, ...; each is timed from the create call to the first pod
watch event that shows the container running, then deleted before the next one.

    .venv/bin/python bench/pod_startup.py [--runs 20] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kubernetes import client as k8s  # noqa: E402

from bench.harness import bench_operator  # noqa: E402
from bench.watching import FirstSeen  # noqa: E402
from tests.k8s.images import ensure_images  # noqa: E402
from tests.k8s.node import NODE_IP, RealNode  # noqa: E402
from tests.services.redis_server import RedisServer  # noqa: E402

GROUP, VERSION = "supertest.dev", "v1alpha1"
COMMAND = ["sleep", "120"]


def pod_owner(meta: Mapping[str, Any]) -> str | None:
    labels = meta.get("labels") or {}
    return labels.get("supertest.dev/run") or labels.get("job-name")


def container_running(pod: Any) -> bool:
    statuses = (pod.status.container_statuses if pod.status else None) or []
    return any(s.state is not None and s.state.running is not None for s in statuses)


def testrun(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TestRun",
        "metadata": {"name": name},
        "spec": {"script": "// bench: the container runs `sleep`", "timeoutSeconds": 300},
    }


def job(name: str, image: str) -> dict[str, Any]:
    container = {"name": "runner", "image": image, "imagePullPolicy": "IfNotPresent", "command": COMMAND}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": 0,
                    "containers": [container],
                }
            },
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="TestRuns and Jobs each (>= 20 for the README figure)")
    parser.add_argument("--quick", action="store_true", help="5 of each: a smoke run, not a figure")
    args = parser.parse_args()
    runs = 5 if args.quick else args.runs

    images = ensure_images()
    overrides = {
        "RUNNER_IMAGE": images.runner,
        "RUNNER_COMMAND": " ".join(COMMAND),
        "RUNNING_CAPACITY": "5",
        "LOG_LEVEL": "WARNING",
    }
    with (
        RealNode.start(images) as node,
        RedisServer.start(host=NODE_IP) as redis,
        bench_operator(node.cp, redis.url, overrides) as (ns, _operator, _log),
    ):
        cp = node.cp
        api = cp.api_client()
        custom, batch, core = k8s.CustomObjectsApi(api), k8s.BatchV1Api(api), k8s.CoreV1Api(api)
        running = FirstSeen(core.list_namespaced_pod, ns, key=pod_owner, when=container_running)
        tr_lat: list[float] = []
        job_lat: list[float] = []
        try:
            for i in range(runs):
                start = time.monotonic()
                custom.create_namespaced_custom_object(GROUP, VERSION, ns, "testruns", testrun(f"tr-{i}"))
                tr_lat.append(running.wait(f"tr-{i}", timeout=120) - start)
                custom.delete_namespaced_custom_object(GROUP, VERSION, ns, "testruns", f"tr-{i}")
                start = time.monotonic()
                batch.create_namespaced_job(ns, job(f"job-{i}", images.runner))
                job_lat.append(running.wait(f"job-{i}", timeout=120) - start)
                batch.delete_namespaced_job(f"job-{i}", ns, propagation_policy="Background")
                print(f"  {i + 1}/{runs}: TestRun {tr_lat[-1]:.2f} s, Job {job_lat[-1]:.2f} s", file=sys.stderr)
        finally:
            running.stop()
            api.close()  # type: ignore[no-untyped-call]

    tr_med, job_med = statistics.median(tr_lat), statistics.median(job_lat)
    print(f"create -> container running on the real kubelet, {runs} of each, image {images.runner}:")
    for label, values in (("TestRun (supertest operator)", tr_lat), ("Job (kube-controller-manager)", job_lat)):
        spread = f"min {min(values):6.2f} s   max {max(values):6.2f} s"
        print(f"  {label:30} median {statistics.median(values):6.2f} s   {spread}")
    print(f"  ratio TestRun/Job (median): {tr_med / job_med:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
