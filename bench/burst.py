"""Admission at depth: a whole burst of TestRuns queued at once, admitted RUNNING_CAPACITY at a time.

A real kube-apiserver + etcd + kube-controller-manager, Redis and our operator as a subprocess, from bench/harness.py.
Pods end in one of two ways (`--pods`):
  - `delete` (default): the benchmark deletes each run pod as soon as its watch sees it (the run ends in Error,
    PodDeleted), so the figure is the operator's admission loop alone; no node runs anything;
  - `agent`: the test node agent stands in for scheduler and kubelet and runs `true` in each pod. On a loaded
    2-core machine the agent (Python, in this process) is then the bottleneck, not the operator.

For each depth N: the operator is stopped, N TestRuns are created, then the operator starts (a fresh process, so its
VmHWM is this depth's peak RSS) and finds the whole burst waiting, exactly the restart path. We record when each
run's pod is first seen (one pod watch) and report:
  - sustained admissions/s: pods created between the 10th and the 90th percentile of the burst, over that span
    (the start-up list and the tail, where fewer than capacity runs are left, are excluded);
  - time to the first pod and to the last pod, from the operator's start;
  - the operator's peak RSS (VmHWM from /proc/<pid>/status);
  - CPU per admitted run of each process (the apiserver, etcd, the controller-manager, the operator and this
    benchmark), from the operator's start to the last pod (/proc/<pid>/stat). They share this machine's two cores,
    so the rate is about 2,000 ms/s over their total (50 ms per run: 40 runs/s), and the table shows whose work
    that is. The per-run CPU moves with the host as well (the same code gave 50 and 76 ms within the hour). The
    operator's figure includes its start-up (imports, the first list), which weighs on shallow depths;
  - never more than RUNNING_CAPACITY live run pods at once (sampled from the watch; an overshoot fails the bench);
  - each figure's ratio to the first (shallowest) depth.
Between depths every run and pod is deleted with the operator stopped.

    .venv/bin/python bench/burst.py [--depths 500,2000,5000] [--capacity 100]
    .venv/bin/python bench/burst.py --quick        # depths 200 and 1,000: under 2 minutes
    .venv/bin/python bench/burst.py --operator-src /tmp/base   # the operator of another checkout (a baseline),
                                                               # e.g. `git archive main | tar -x -C /tmp/base`
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kubernetes import client as k8s  # noqa: E402
from kubernetes.watch.watch import iter_resp_lines  # noqa: E402

from bench.admission_latency import testrun  # noqa: E402
from bench.harness import BenchCluster, bench_operator, operator_cluster, use_operator_source  # noqa: E402
from bench.proc_stats import cpu_seconds, peak_rss_mib  # noqa: E402
from tests.k8s.controlplane import ControlPlane  # noqa: E402
from tests.k8s.wait import wait_for  # noqa: E402
from tests.services.redis_server import RedisServer  # noqa: E402

GROUP, VERSION = "supertest.dev", "v1alpha1"
RUN_LABEL = "supertest.dev/run"


class PodClock:
    """One pod watch: first-seen time of each run's pod, and the peak number of live run pods at once."""

    def __init__(self, core: k8s.CoreV1Api, namespace: str, delete: bool) -> None:
        self.core, self.ns = core, namespace
        self.deleter = concurrent.futures.ThreadPoolExecutor(8) if delete else None
        self.first: dict[str, float] = {}
        self.prefix = ""
        self.live: set[str] = set()
        self.peak_live = 0
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def reset(self, prefix: str) -> None:
        with self.lock:
            self.prefix = prefix
            self.first.clear()
            self.live.clear()
            self.peak_live = 0

    def _relist(self) -> str:
        """A fresh list after a broken watch: `live` becomes what is live now. A watch restarted without a
        resourceVersion would only replay the pods still there, so pods deleted during the gap would stay `live`
        for ever and read as an overshoot."""
        listed = orjson.loads(
            self.core.list_namespaced_pod(self.ns, label_selector=RUN_LABEL, _preload_content=False).data
        )
        now = time.monotonic()
        with self.lock:
            self.live.clear()
            for pod in listed["items"]:
                self._seen(None, pod, now)
        return str(listed["metadata"]["resourceVersion"])

    def _seen(self, event: str | None, pod: dict[str, Any], now: float) -> None:
        """One listed pod (event None) or watch event. Caller holds the lock."""
        meta = pod["metadata"]
        run = (meta.get("labels") or {}).get(RUN_LABEL)
        if not run or not run.startswith(self.prefix):
            return  # late events of the previous burst's pods are not this burst's
        name = meta["name"]
        done = event == "DELETED" or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
        if self.deleter is not None and not done and run not in self.first:
            self.deleter.submit(self._delete, name)
        self.first.setdefault(run, now)
        if done:
            self.live.discard(name)
        else:
            self.live.add(name)
            self.peak_live = max(self.peak_live, len(self.live))

    def _loop(self) -> None:
        # Raw JSON, not the client's models: building a pydantic V1Pod for each of thousands of events (and each
        # DELETE's answer) took a fifth of a core, on the machine whose CPU the operator and apiserver share.
        rv = ""
        while not self.stop_flag.is_set():
            if not rv:
                try:
                    rv = self._relist()
                except Exception:  # the apiserver hiccups: try again
                    time.sleep(0.2)
                    continue
            resp = None
            try:
                resp = self.core.list_namespaced_pod(
                    self.ns,
                    label_selector=RUN_LABEL,
                    resource_version=rv,
                    watch=True,
                    timeout_seconds=5,
                    _preload_content=False,
                )
                for line in iter_resp_lines(resp):
                    now = time.monotonic()
                    event = orjson.loads(line)
                    pod = event["object"]
                    if event["type"] == "ERROR":  # an expired resourceVersion: list again
                        rv = ""
                        break
                    rv = pod["metadata"].get("resourceVersion") or rv
                    if event["type"] == "BOOKMARK":
                        continue
                    with self.lock:
                        self._seen(event["type"], pod, now)
            except Exception:  # a dropped connection: list again
                rv = ""
            finally:
                if resp is not None:
                    resp.close()
                    resp.release_conn()

    def _delete(self, name: str) -> None:
        try:
            answer: Any = self.core.delete_namespaced_pod(name, self.ns, grace_period_seconds=0, _preload_content=False)
            answer.read()
        except k8s.ApiException as exc:
            if exc.status != 404:
                raise

    def count(self) -> int:
        with self.lock:
            return len(self.first)

    def stop(self) -> None:
        self.stop_flag.set()
        if self.deleter is not None:
            self.deleter.shutdown(wait=False, cancel_futures=True)


@dataclass
class Depth:
    depth: int
    rate: float  # sustained admissions/s
    first_pod: float
    last_pod: float
    rss_mib: float
    peak_live: int
    cpu_ms: dict[str, float]  # CPU per admitted run, by process


CPU_COLUMNS = ("apiserver", "etcd", "ctrl-mgr", "operator", "bench")


def cluster_pids(cluster: Any) -> dict[str, int]:
    procs = cluster.cp.processes
    return {
        "apiserver": procs["kube-apiserver"].pid,
        "etcd": procs["etcd"].pid,
        "ctrl-mgr": procs["kube-controller-manager"].pid,
        "bench": os.getpid(),
    }


@contextmanager
def bench_cluster(overrides: dict[str, str], node_agent: bool) -> Iterator[BenchCluster]:
    if node_agent:
        with operator_cluster(overrides) as cluster:
            yield cluster
        return
    env = {"RUNNER_COMMAND": "true", **overrides}
    with ControlPlane.start() as cp, RedisServer.start() as redis, bench_operator(cp, redis.url, env) as started:
        namespace, operator, log = started
        yield BenchCluster(cp=cp, namespace=namespace, operator=operator, api=cp.api_client(), log_path=log)


def create_all(custom: k8s.CustomObjectsApi, ns: str, names: list[str]) -> None:
    def one(name: str) -> None:
        custom.create_namespaced_custom_object(GROUP, VERSION, ns, "testruns", testrun(name))

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(one, names))


def clear(custom: k8s.CustomObjectsApi, core: k8s.CoreV1Api, ns: str) -> None:
    custom.delete_collection_namespaced_custom_object(GROUP, VERSION, ns, "testruns")
    core.delete_collection_namespaced_pod(ns, label_selector=RUN_LABEL, grace_period_seconds=0)
    core.delete_collection_namespaced_config_map(ns, label_selector=RUN_LABEL)

    def gone() -> bool:
        runs = custom.list_namespaced_custom_object(GROUP, VERSION, ns, "testruns", limit=1)["items"]
        pods = core.list_namespaced_pod(ns, label_selector=RUN_LABEL, limit=1).items
        return not runs and not pods

    wait_for(gone, timeout=300, interval=0.5, message="the previous burst to be deleted")


def one_depth(cluster: Any, clock: PodClock, depth: int, capacity: int) -> Depth:
    ns, api = cluster.namespace, cluster.api
    custom, core = k8s.CustomObjectsApi(api), k8s.CoreV1Api(api)
    cluster.operator.stop()
    clear(custom, core, ns)
    clock.reset(f"b{depth}-")
    names = [f"b{depth}-{i:05d}" for i in range(depth)]
    t_create = time.monotonic()
    create_all(custom, ns, names)
    print(f"  depth {depth}: created in {time.monotonic() - t_create:.1f} s with the operator stopped", flush=True)
    pids = cluster_pids(cluster)
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    t0 = time.monotonic()
    cluster.operator.start(timeout=300)
    wait_for(
        lambda: clock.count() >= depth, timeout=3600, interval=0.2, message=lambda: f"{depth} pods: {clock.count()}"
    )
    used = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
    used["operator"] = cpu_seconds(cluster.operator.proc.pid)  # a fresh process: all of it is this depth's
    rss = peak_rss_mib(cluster.operator.proc.pid)
    with clock.lock:
        times = sorted(clock.first[n] for n in names)
        peak = clock.peak_live
    lo, hi = int(depth * 0.1), int(depth * 0.9)
    rate = (hi - lo) / max(times[hi] - times[lo], 1e-6)
    cpu_ms = {name: used[name] * 1000 / depth for name in CPU_COLUMNS}
    return Depth(depth, rate, times[0] - t0, times[-1] - t0, rss, peak, cpu_ms)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--depths", default="500,2000,5000", help="comma-separated burst sizes, shallowest first")
    parser.add_argument("--capacity", type=int, default=100, help="RUNNING_CAPACITY")
    parser.add_argument("--quick", action="store_true", help="depths 200 and 1,000 (under 2 minutes)")
    parser.add_argument("--log-level", default="WARNING", help="the operator's LOG_LEVEL")
    parser.add_argument("--pods", choices=("delete", "agent"), default="delete", help="how run pods end (see above)")
    parser.add_argument("--operator-src", type=Path, help="run the operator from this source tree (a baseline)")
    parser.add_argument(
        "--operator-env", action="append", default=[], metavar="NAME=VALUE", help="an operator setting to try (repeat)"
    )
    args = parser.parse_args()
    depths = [200, 1000] if args.quick else [int(d) for d in args.depths.split(",")]

    overrides = {
        "RUNNING_CAPACITY": str(args.capacity),
        "QUEUED_CAPACITY": "100000",
        "LOG_LEVEL": args.log_level,
        **dict(setting.split("=", 1) for setting in args.operator_env),
    }
    if args.operator_src is not None:
        use_operator_source(args.operator_src, overrides)
    results: list[Depth] = []
    with bench_cluster(overrides, node_agent=args.pods == "agent") as cluster:
        clock = PodClock(k8s.CoreV1Api(cluster.api), cluster.namespace, delete=args.pods == "delete")
        try:
            for depth in depths:
                results.append(one_depth(cluster, clock, depth, args.capacity))
                r = results[-1]
                print(f"  depth {depth}: {r.rate:.1f} admitted/s, RSS {r.rss_mib:.0f} MiB", flush=True)
        finally:
            clock.stop()

    base = results[0]
    print(f"burst, RUNNING_CAPACITY={args.capacity}, pods: {args.pods}; ratios vs depth {base.depth}")
    header = ("depth", "adm/s", "ratio", "1st pod s", "last pod s", "peak RSS MiB", "ratio", "max live")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (6, 7, 6, 9, 10, 12, 6, 8), strict=True)))
    overshoot = False
    for r in results:
        print(
            f"{r.depth:>6} {r.rate:>7.1f} {r.rate / base.rate:>5.2f}x {r.first_pod:>9.1f} {r.last_pod:>10.1f} "
            f"{r.rss_mib:>12.0f} {r.rss_mib / base.rss_mib:>5.2f}x {r.peak_live:>8}"
        )
        overshoot |= r.peak_live > args.capacity
    print("CPU ms per admitted run, by process (they share the machine's cores)")
    print(f"{'depth':>6} " + " ".join(f"{c:>9}" for c in CPU_COLUMNS) + f" {'total':>9}")
    for r in results:
        cells = " ".join(f"{r.cpu_ms[c]:>9.1f}" for c in CPU_COLUMNS)
        print(f"{r.depth:>6} {cells} {sum(r.cpu_ms.values()):>9.1f}")
    if overshoot:
        print(f"OVERSHOOT: more than {args.capacity} live run pods at once")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
