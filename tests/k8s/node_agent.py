"""A test-only stand-in for kube-scheduler + kubelet: runs Pods' first container as local processes.

Where it is still used, and why: the e2e tier and the chart install run on a real kubelet with containerd
(tests/k8s/node.py, tests/e2e/kubelet/). This agent remains only where container start-up would swamp what is
measured: the fault tier's bursts (tests/faults/: 20-30 runs, 4 at a time) and the admission and
schedule benchmarks (bench/), which time the control loop, not the runtime. New tests of pods, images or
isolation belong on the real node.

Never shipped: it lives under tests/ only. Use it as the session fixture `node_agent`, from Python (`with
NodeAgent(kubeconfig).start() as agent:`) or as a script::

    python tests/k8s/node_agent.py --kubeconfig K [--node-name N]

What it does
------------
* Registers a Node (Ready, capacity/allocatable cpu/memory/pods, InternalIP 127.0.0.1) and heartbeats its
  status.
* Watches all Pods (list + watch, re-list on 410 Gone or any stream error). Pending Pods with an empty
  spec.nodeName, the default scheduler and a nodeSelector that matches the Node are bound to it through the
  Binding subresource. Pods bound to other Nodes are ignored.
* Runs the FIRST container's `command` + `args` (with `$(VAR)` expansion) as a local process in its own
  process group, stdout+stderr to `<pod dir>/container.log` (see `logs()` / `log_path()`). PATH starts with
  the directory of the Python running the agent, so `python -m ...` uses the test venv.
* Env: a base env (PATH, HOME, LANG, HOSTNAME, KUBERNETES_SERVICE_HOST/PORT pointing at the apiserver,
  NODE_AGENT_POD_ROOT), then `envFrom` (configMapRef/secretRef, with prefix), then `env` (value, and valueFrom
  fieldRef / configMapKeyRef / secretKeyRef; `optional` honoured).
* Volumes: emptyDir, configMap and secret (with `items`), downwardAPI, projected (configMap, secret,
  downwardAPI, serviceAccountToken via TokenRequest) and hostPath (the host path itself) are materialised
  under `<pod dir>/volumes/<name>`. Mount paths are REMAPPED: every env value, command/args element and
  workingDir that equals a mountPath or starts with `mountPath + "/"` is rewritten to the local path (subPath
  honoured). The working directory is the remapped workingDir, else the pod dir. A missing non-optional
  ConfigMap or Secret keeps the Pod Pending (ContainerCreating / CreateContainerConfigError) and is retried,
  like kubelet.
* Status: phase Pending -> Running -> Succeeded/Failed, containerStatuses (waiting/running/terminated with
  exitCode, reason Completed/Error, startedAt/finishedAt, restartCount, lastState), conditions PodScheduled,
  Initialized, ContainersReady, Ready; podIP/hostIP 127.0.0.1; startTime.
* terminationMessagePath (default /dev/termination-log) is an empty per-pod file (env/args naming the path are
  remapped to it); at exit its content (<= 4096 bytes) becomes state.terminated.message, or, with
  terminationMessagePolicy FallbackToLogsOnError, an empty file and a non-zero exit, the log's last 80 lines /
  2048 bytes, as kubelet does.
* activeDeadlineSeconds, counted from status.startTime: the process group is killed and the Pod ends Failed
  with reason DeadlineExceeded.
* Deletion: a Pod with a deletionTimestamp gets SIGTERM, then SIGKILL after its grace period (capped at
  `max_grace_seconds`, default 3 s); then the agent reports the final status and deletes the Pod with
  gracePeriodSeconds=0 (uid precondition), as kubelet does, so Pods never hang in Terminating. A Pod deleted
  outright (force delete) just has its process group killed.
* restartPolicy: Never -> the first exit is final. OnFailure -> a non-zero exit restarts the command in place
  (restartCount+1, lastState, back-off 1 s doubling to 10 s); exit 0 is final. Always -> every exit restarts.

What a kubelet does that this agent does not
--------------------------------------------
* Images: the image is ignored; there is no image pull, no entrypoint/cmd from the image (a container without
  `command` fails with StartError), no imagePullPolicy/imagePullSecrets.
* Isolation: no containers, namespaces, cgroups, seccomp, users (runAsUser etc.) or read-only mounts; the
  process runs as the test user on the host filesystem. Resource requests/limits are not enforced
  (resourceFieldRef env is not supported); there is no eviction, no node pressure.
* Probes (liveness/readiness/startup) and lifecycle hooks (postStart/preStop) are ignored: a running container
  is Ready at once.
* Only the first container runs and is reported: no sidecars, multiple containers, init containers or
  ephemeral containers.
* Networking: no pod network, Services, DNS or ports; every Pod has IP 127.0.0.1 and shares the host's
  loopback.
* Restarts are minimal (in-place, fixed back-off); no CrashLoopBackOff bookkeeping beyond the waiting reason.
* Volumes: no PVCs, CSI, NFS, etc. (unknown volume types become empty dirs); no atomic-symlink updates of
  ConfigMap/Secret contents after start; file modes are not applied; no projected-token rotation.
* No Lease heartbeats in kube-node-lease, no node lifecycle (taints, tolerations, eviction), no scheduling
  decisions beyond nodeSelector (affinity, taints, resources and topology are ignored), no static pods, no
  `kubectl logs/exec/port-forward` (use `NodeAgent.logs()`), no pod-level reason/message except deadline.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import json
import logging
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlparse

if __package__ in (None, ""):  # run as a script: make `tests.k8s` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from tests.k8s import procs

log = logging.getLogger("supertest.node_agent")
Obj = dict[str, Any]

DEFAULT_NODE_NAME = "supertest-node"
DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"
TERMINAL_PHASES = ("Succeeded", "Failed")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_VAR_REF = re.compile(r"\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)")
_LABEL_REF = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")


def now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json(resp: Any) -> Obj:
    """Decode a `_preload_content=False` response (we avoid the client's model (de)serialisation)."""
    data = resp.data
    status = int(getattr(resp, "status", 200))
    if status >= 300:
        raise ApiException(status=status, reason=data.decode(errors="replace"))
    return json.loads(data) if data else {}


def _model(cls: Any, data: Obj) -> Any:
    """Build a request model from a plain dict (the client's `from_dict` returns Optional)."""
    model = cls.from_dict(data)
    assert model is not None
    return model


def _lines(resp: Any) -> Iterator[bytes]:
    """Split a streamed watch response into its JSON lines."""
    buffer = b""
    for chunk in resp.stream(amt=None, decode_content=True):
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        yield from (line for line in lines if line.strip())


class _NotReady(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class _CannotRun(Exception):
    pass


class _Interrupted(Exception):
    pass


# --------------------------------------------------------------------------------------------------- helpers
def expand_vars(value: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: defined variables are substituted, $$ escapes, unknown refs stay."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))

    return _VAR_REF.sub(sub, value)


def remap_path(value: str, mounts: list[tuple[str, Path]]) -> str:
    """Rewrite a string that equals a mountPath or starts with `mountPath/` to the local volume path."""
    for mount_path, local in mounts:  # longest mount paths first, so nested mounts win
        if value == mount_path:
            return str(local)
        if value.startswith(mount_path + "/"):
            return str(local) + value[len(mount_path) :]
    return value


def field_ref(pod: Obj, path: str) -> str:
    meta, spec = pod.get("metadata", {}), pod.get("spec", {})
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.podIP": "127.0.0.1",
        "status.hostIP": "127.0.0.1",
        "status.podIPs": "127.0.0.1",
        "status.hostIPs": "127.0.0.1",
    }
    if path in simple:
        return str(simple[path] or "")
    m = _LABEL_REF.match(path)
    if m:
        return str(meta.get(m.group(1), {}).get(m.group(2), ""))
    if path in ("metadata.labels", "metadata.annotations"):
        items = sorted(meta.get(path.split(".")[1], {}).items())
        return "\n".join(f'{k}="{v}"' for k, v in items)
    raise _CannotRun(f"unsupported fieldRef {path!r}")


def _decode(data: dict[str, str] | None) -> dict[str, bytes]:
    return {k: base64.b64decode(v) for k, v in (data or {}).items()}


def _write_tree(base: Path, files: dict[str, bytes]) -> None:
    base.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        target = base / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def _select_items(data: dict[str, bytes], items: list[Obj] | None, what: str, optional: bool) -> dict[str, bytes]:
    if not items:
        return dict(data)
    selected = {}
    for item in items:
        if item["key"] in data:
            selected[item["path"]] = data[item["key"]]
        elif not optional:
            raise _NotReady("ContainerCreating", f"{what} has no key {item['key']!r}")
    return selected


# --------------------------------------------------------------------------------------------------- agent
class NodeAgent:
    """Registers a Node and runs the Pods bound to it; `start()` returns once pods were listed once."""

    def __init__(
        self,
        kubeconfig: Path | str,
        node_name: str = DEFAULT_NODE_NAME,
        root_dir: Path | None = None,
        max_grace_seconds: float = 3.0,
        heartbeat_seconds: float = 10.0,
        watch_timeout_seconds: int = 60,
    ) -> None:
        self.kubeconfig = Path(kubeconfig)
        self.node_name = node_name
        self.root = Path(root_dir) if root_dir else Path(tempfile.mkdtemp(prefix="supertest-node-agent-"))
        self._owns_root = root_dir is None
        if self._owns_root:
            procs.REGISTRY.add_dir(self.root)
        self.max_grace_seconds = max_grace_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.watch_timeout_seconds = watch_timeout_seconds
        self.api: k8s.ApiClient = k8s_config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(self.kubeconfig)
        )
        self.core = k8s.CoreV1Api(self.api)
        self.server = urlparse(self.api.configuration.host)
        self.node_labels: dict[str, str] = {}
        self._node_since = now_iso()
        self.errors: list[str] = []  # unexpected exceptions, for tests to assert on
        self.log_paths: dict[str, Path] = {}  # pod uid -> container log
        self._runs: dict[str, _PodRun] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._listed = threading.Event()
        self._watch_resp: Any = None
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------------------------------- lifecycle
    def start(self, timeout: float = 30.0) -> NodeAgent:
        self._register_node()
        for target, name in ((self._watch_loop, "watch"), (self._heartbeat_loop, "heartbeat")):
            thread = threading.Thread(target=target, name=f"node-agent-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        if not self._listed.wait(timeout):
            self.stop()
            raise RuntimeError(f"node agent: no pod list within {timeout}s; errors: {self.errors[-3:]}")
        return self

    def stop(self) -> None:
        """Kill every pod process, stop the threads; leaves API objects alone (the cluster may be gone)."""
        self._stopping.set()
        with contextlib.suppress(Exception):
            if self._watch_resp is not None:
                self._watch_resp.shutdown()  # unblock the watch read
        with self._lock:
            runs = list(self._runs.values())
        for run in runs:
            run.wake.set()
        for run in runs:
            run.thread.join(timeout=self.max_grace_seconds + 5)
            run.kill(grace=0)
        for thread in self._threads:
            thread.join(timeout=5)
        self.api.close()  # type: ignore[no-untyped-call]
        if self._owns_root:
            shutil.rmtree(self.root, ignore_errors=True)
            procs.REGISTRY.remove_dir(self.root)

    def __enter__(self) -> NodeAgent:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------------- queries
    def _latest_run(self, namespace: str, name: str) -> _PodRun | None:
        with self._lock:
            runs = [r for r in self._runs.values() if (r.namespace, r.name) == (namespace, name)]
        return runs[-1] if runs else None

    def log_path(self, namespace: str, name: str) -> Path | None:
        run = self._latest_run(namespace, name)
        return run.log_path if run else None

    def logs(self, namespace: str, name: str) -> str:
        """stdout+stderr of the pod's container (all restarts), or "" if it never ran here."""
        path = self.log_path(namespace, name)
        return path.read_text(errors="replace") if path and path.exists() else ""

    def pid(self, namespace: str, name: str) -> int | None:
        """Pid of the pod's current process (None if not running)."""
        run = self._latest_run(namespace, name)
        return run.pid if run and run.running() else None

    def pod_dir(self, namespace: str, name: str) -> Path | None:
        run = self._latest_run(namespace, name)
        return run.dir if run else None

    def running_pids(self) -> list[int]:
        with self._lock:
            return [r.pid for r in self._runs.values() if r.pid is not None and r.running()]

    # ------------------------------------------------------------------------------------------- node
    def _node_status(self) -> Obj:
        now = now_iso()
        resources = {
            "cpu": str(os.cpu_count() or 2),
            "memory": "16Gi",
            "pods": "110",
            "ephemeral-storage": "50Gi",
        }
        conditions = [
            {
                "type": t,
                "status": "False",
                "reason": f"KubeletHas{r}",
                "message": "node agent",
                "lastHeartbeatTime": now,
                "lastTransitionTime": self._node_since,
            }
            for t, r in (
                ("MemoryPressure", "SufficientMemory"),
                ("DiskPressure", "NoDiskPressure"),
                ("PIDPressure", "SufficientPID"),
            )
        ]
        conditions.append(
            {
                "type": "Ready",
                "status": "True",
                "reason": "KubeletReady",
                "message": "supertest node agent is posting ready status",
                "lastHeartbeatTime": now,
                "lastTransitionTime": self._node_since,
            }
        )
        return {
            "capacity": resources,
            "allocatable": resources,
            "conditions": conditions,
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": self.node_name},
            ],
            "nodeInfo": {
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
                "kernelVersion": platform.release(),
                "osImage": "supertest node agent",
                "containerRuntimeVersion": "nodeagent://0",
                "kubeletVersion": "v0.0.0-nodeagent",
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        }

    def _register_node(self) -> None:
        self._node_since = now_iso()
        labels = {
            "kubernetes.io/hostname": self.node_name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "supertest.dev/node-agent": "true",
        }
        body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.node_name, "labels": labels}}
        try:
            self.core.create_node(_model(k8s.V1Node, body), _preload_content=False)
        except ApiException as exc:
            if exc.status != 409:
                raise
        self.node_labels = labels
        self._patch_node_status()

    def _patch_node_status(self) -> None:
        self.core.patch_node_status(
            self.node_name,
            {"status": self._node_status()},
            _content_type="application/merge-patch+json",
            _preload_content=False,
        )

    def _heartbeat_loop(self) -> None:
        while not self._stopping.wait(self.heartbeat_seconds):
            try:
                self._patch_node_status()
            except Exception as exc:
                if not self._stopping.is_set():
                    log.warning("node heartbeat failed: %s", exc)

    # ------------------------------------------------------------------------------------------- watch
    def _watch_loop(self) -> None:
        backoff = 0.2
        while not self._stopping.is_set():
            try:
                rv = self._relist()
                self._listed.set()
                while not self._stopping.is_set():
                    rv = self._watch_once(rv)
                    backoff = 0.2
            except _Gone:
                log.info("pod watch expired (410): re-listing")
            except Exception as exc:
                if self._stopping.is_set():
                    break
                self._error(f"pod watch failed: {exc!r}", quiet=True)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)

    def _relist(self) -> str:
        pods = _json(self.core.list_pod_for_all_namespaces(_preload_content=False))
        seen = set()
        for pod in pods.get("items", []):
            seen.add(pod["metadata"]["uid"])
            self._handle("SYNC", pod)
        with self._lock:  # deletions missed while the watch was down
            missed = [r for uid, r in self._runs.items() if uid not in seen and not r.deleted]
        for run in missed:
            run.mark_deleted()
        return str(pods["metadata"]["resourceVersion"])

    def _watch_once(self, rv: str) -> str:
        try:
            resp: Any = self.core.list_pod_for_all_namespaces(
                watch=True,
                resource_version=rv,
                allow_watch_bookmarks=True,
                timeout_seconds=self.watch_timeout_seconds,
                _preload_content=False,
                _request_timeout=(10, self.watch_timeout_seconds + 30),
            )
        except ApiException as exc:
            if exc.status == 410:
                raise _Gone from exc
            raise
        self._watch_resp = resp
        try:
            for line in _lines(resp):
                event = json.loads(line)
                obj = event["object"]
                if event["type"] == "ERROR":
                    if obj.get("code") == 410:
                        raise _Gone
                    raise RuntimeError(f"watch error: {obj}")
                rv = obj["metadata"]["resourceVersion"]
                if event["type"] != "BOOKMARK":
                    self._handle(event["type"], obj)
                if self._stopping.is_set():
                    break
        finally:
            self._watch_resp = None
            resp.close()
            resp.release_conn()
        return rv

    def _handle(self, event_type: str, pod: Obj) -> None:
        try:
            self._on_pod(event_type, pod)
        except Exception as exc:
            meta = pod.get("metadata", {})
            self._error(f"handling {event_type} {meta.get('namespace')}/{meta.get('name')}: {exc!r}")

    def _on_pod(self, event_type: str, pod: Obj) -> None:
        meta, spec = pod["metadata"], pod.get("spec", {})
        uid = meta["uid"]
        with self._lock:
            run = self._runs.get(uid)
        if event_type == "DELETED":
            if run:
                run.mark_deleted()
            return
        node = spec.get("nodeName")
        if not node:
            if self._schedulable(pod):
                self._bind(pod)
            return
        if node != self.node_name:
            return
        if run is not None:
            run.update(pod)
            return
        phase = pod.get("status", {}).get("phase")
        if phase in TERMINAL_PHASES:  # finished before this agent knew it (e.g. previous agent)
            if meta.get("deletionTimestamp"):
                self.delete_pod_now(pod)
            return
        run = _PodRun(self, pod)
        with self._lock:
            self._runs[uid] = run
            self.log_paths[uid] = run.log_path
        run.thread.start()

    def _schedulable(self, pod: Obj) -> bool:
        spec, meta = pod.get("spec", {}), pod["metadata"]
        if meta.get("deletionTimestamp") or pod.get("status", {}).get("phase", "Pending") != "Pending":
            return False
        if spec.get("schedulerName", "default-scheduler") != "default-scheduler":
            return False
        selector = spec.get("nodeSelector") or {}
        return all(self.node_labels.get(k) == v for k, v in selector.items())

    def _bind(self, pod: Obj) -> None:
        meta = pod["metadata"]
        body = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"]},
            "target": {"apiVersion": "v1", "kind": "Node", "name": self.node_name},
        }
        try:
            # Raw response: the Binding endpoint answers with a Status the client's model cannot parse.
            self.core.create_namespaced_pod_binding(
                meta["name"], meta["namespace"], _model(k8s.V1Binding, body), _preload_content=False
            )
        except ApiException as exc:
            if exc.status not in (404, 409):  # gone or already bound: nothing to do
                raise

    def delete_pod_now(self, pod: Obj) -> None:
        """What kubelet does once a terminating pod's containers are gone: delete with grace period 0."""
        meta = pod["metadata"]
        body = {"gracePeriodSeconds": 0, "preconditions": {"uid": meta["uid"]}}
        try:
            self.core.delete_namespaced_pod(
                meta["name"],
                meta["namespace"],
                grace_period_seconds=0,
                body=_model(k8s.V1DeleteOptions, body),
                _preload_content=False,
            )
        except ApiException as exc:
            if exc.status not in (404, 409):
                raise

    def patch_pod_status(self, pod: Obj, status: Obj) -> None:
        """Like kubelet's status manager, keep trying while the apiserver is unreachable (restarted, in the
        fault tier): a finished pod's status must not be lost to an outage."""
        meta = pod["metadata"]
        backoff = 0.2
        while True:
            try:
                # merge-patch replaces lists (conditions, containerStatuses) wholesale and merges nothing stale
                # in.
                self.core.patch_namespaced_pod_status(
                    meta["name"],
                    meta["namespace"],
                    {"status": status},
                    _content_type="application/merge-patch+json",
                    _preload_content=False,
                    _request_timeout=(5, 30),
                )
                return
            except ApiException as exc:
                if exc.status == 404:
                    return
                if exc.status < 500:
                    raise
                why = f"HTTP {exc.status}"
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                why = repr(exc)
            if self._stopping.wait(backoff):
                return
            log.info("pod status patch for %s/%s failed (%s): retrying", meta["namespace"], meta["name"], why)
            backoff = min(backoff * 2, 5.0)

    def read_object(self, kind: str, namespace: str, name: str) -> Obj | None:
        read: Callable[..., Any] = (
            self.core.read_namespaced_config_map if kind == "ConfigMap" else self.core.read_namespaced_secret
        )
        try:
            return _json(read(name, namespace, _preload_content=False))
        except ApiException as exc:
            if exc.status == 404:
                return None
            if exc.status >= 500:
                raise _NotReady("ContainerCreating", f"reading {kind} {name}: apiserver answered {exc.status}") from exc
            raise
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            # The apiserver is restarting: the kubelet keeps the pod waiting and retries, and so do we.
            raise _NotReady("ContainerCreating", f"reading {kind} {name}: apiserver unreachable ({exc})") from exc

    def request_token(self, pod: Obj, audience: str | None, expiration: int) -> str:
        meta = pod["metadata"]
        spec: Obj = {
            "expirationSeconds": max(expiration, 600),
            "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": meta["name"], "uid": meta["uid"]},
        }
        if audience:
            spec["audiences"] = [audience]
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
        sa = pod["spec"].get("serviceAccountName") or "default"
        request = _model(k8s.AuthenticationV1TokenRequest, body)
        resp = self.core.create_namespaced_service_account_token(sa, meta["namespace"], request, _preload_content=False)
        return str(_json(resp)["status"]["token"])

    def _error(self, message: str, quiet: bool = False) -> None:
        if self._stopping.is_set():
            return
        (log.info if quiet else log.error)("%s", message)
        if not quiet:
            self.errors.append(message)

    @property
    def stopping(self) -> threading.Event:
        return self._stopping


class _Gone(Exception):
    pass


# Kubelet's limits: the message file is read up to 4096 bytes; the log fallback takes at most 80 lines / 2048 bytes.
MAX_TERMINATION_MESSAGE_BYTES = 4096
MAX_FALLBACK_LOG_LINES = 80
MAX_FALLBACK_LOG_BYTES = 2048


def termination_message_path(container: Obj) -> str:
    return str(container.get("terminationMessagePath") or "/dev/termination-log")


# --------------------------------------------------------------------------------------------------- one pod
class _PodRun:
    """Runs one pod (its thread lives until the pod is deleted or the agent stops)."""

    def __init__(self, agent: NodeAgent, pod: Obj) -> None:
        meta = pod["metadata"]
        self.agent = agent
        self.pod = pod
        self.uid: str = meta["uid"]
        self.namespace: str = meta["namespace"]
        self.name: str = meta["name"]
        self.dir = agent.root / f"{self.namespace}_{self.name}_{self.uid[:8]}"
        self.log_path = self.dir / "container.log"
        self.termination_message_file = self.dir / "termination-log"
        self.wake = threading.Event()
        self.deleted = False
        self.proc: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None
        self.restart_count = 0
        self.last_state: Obj = {}
        self.started_at: str | None = None
        self.start_time = now_iso()
        self.start_mono = time.monotonic()
        self._transitions: dict[str, tuple[str, str]] = {}
        self.thread = threading.Thread(target=self._main, name=f"pod-{self.namespace}/{self.name}", daemon=True)

    # ---- called from the watch thread
    def update(self, pod: Obj) -> None:
        self.pod = pod
        self.wake.set()

    def mark_deleted(self) -> None:
        self.deleted = True
        self.wake.set()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # ---- the pod's thread
    def _main(self) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._report("Pending", {"waiting": {"reason": "ContainerCreating"}})
            launch = self._prepare()
            if launch is not None:
                self._supervise(*launch)
            self._await_deletion()
        except Exception as exc:
            self.agent._error(f"pod {self.namespace}/{self.name}: {exc!r}")
        finally:
            self.kill(grace=0)

    def _interruption(self, check_deadline: bool = True) -> str | None:
        if self.agent.stopping.is_set():
            return "stop"
        if self.deleted:
            return "deleted"
        if self.pod["metadata"].get("deletionTimestamp"):
            return "terminating"
        if check_deadline and self._deadline_remaining() == 0:
            return "deadline"
        return None

    def _deadline_remaining(self) -> float | None:
        seconds = self.pod["spec"].get("activeDeadlineSeconds")
        if seconds is None:
            return None
        return max(0.0, self.start_mono + float(seconds) - time.monotonic())

    def _sleep(self, seconds: float | None, deadline: bool = True) -> None:
        """Block until woken (pod update/deletion/agent stop), the active deadline, or `seconds`."""
        remaining = self._deadline_remaining() if deadline else None
        limits = [x for x in (seconds, remaining) if x is not None]
        self.wake.wait(min(limits) if limits else None)
        self.wake.clear()

    def _pause(self, seconds: float) -> str | None:
        """Back off for `seconds` (our own status patches wake us too); returns an interruption, if any."""
        until = time.monotonic() + seconds
        while True:
            self.wake.clear()
            why = self._interruption()
            left = until - time.monotonic()
            if why or left <= 0:
                return why
            self._sleep(left)

    def _prepare(self) -> tuple[list[str], dict[str, str], Path] | None:
        backoff = 0.5
        while True:
            self.wake.clear()
            why = self._interruption()
            if why:
                self._end_without_process(why)
                return None
            try:
                return _Launch(self).build()
            except _NotReady as exc:
                self._report("Pending", {"waiting": {"reason": exc.reason, "message": str(exc)}})
                self._pause(backoff)  # an interruption is handled at the top of the loop
                backoff = min(backoff * 2, 5.0)
            except _CannotRun as exc:
                self._report_terminal(128, "StartError", str(exc))
                return None

    def _supervise(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        backoff = 1.0
        while True:
            try:
                self._spawn(argv, env, cwd)
            except OSError as exc:
                self._report_terminal(128, "StartError", f"cannot start {argv[0]!r}: {exc}")
                return
            rc = self._wait_for_exit()
            if rc is None:
                return  # interrupted and handled
            policy = self.pod["spec"].get("restartPolicy", "Always")
            if policy == "Never" or (policy == "OnFailure" and rc == 0):
                self._report_terminal(rc)
                return
            self.last_state = {"terminated": self._terminated(rc)}
            self.restart_count += 1
            self._report(
                "Running",
                {
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": f"back-off {backoff:.0f}s restarting failed container",
                    }
                },
            )
            why = self._pause(backoff)
            if why:
                self._end_without_process(why)
                return
            backoff = min(backoff * 2, 10.0)

    def _spawn(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        with self.log_path.open("ab") as logf:
            if self.restart_count:
                logf.write(f"--- node agent: restart {self.restart_count} ---\n".encode())
                logf.flush()
            self.proc = procs.spawn(
                argv, label=f"pod {self.namespace}/{self.name}", log=logf, env=env, cwd=cwd, our_binary=False
            )
        self.pid = self.proc.pid
        self.started_at = now_iso()
        proc = self.proc

        def reap() -> None:  # wake the pod thread when the process exits: no polling of the process
            proc.wait()
            self.wake.set()

        threading.Thread(target=reap, name=f"reap-{self.pid}", daemon=True).start()
        self._report("Running", {"running": {"startedAt": self.started_at}}, ready=True)

    def _wait_for_exit(self) -> int | None:
        assert self.proc is not None
        while True:
            self.wake.clear()
            rc = self.proc.poll()
            if rc is not None:
                self.kill(grace=0)  # like a container exit: nothing the command left behind survives it
                return rc
            why = self._interruption()
            if why:
                self._interrupt_running(why)
                return None
            self._sleep(None)

    def _grace(self, why: str) -> float:
        meta, spec = self.pod["metadata"], self.pod["spec"]
        if why == "stop":
            return 1.0
        grace = meta.get("deletionGracePeriodSeconds") if why == "terminating" else None
        if grace is None:
            grace = spec.get("terminationGracePeriodSeconds", 30)
        return min(float(grace), self.agent.max_grace_seconds)

    def _interrupt_running(self, why: str) -> None:
        rc = self.kill(self._grace(why))
        if why == "deadline":
            self._report_terminal(rc, pod_reason="DeadlineExceeded", pod_message=DEADLINE_MESSAGE)
        elif why == "terminating":
            self._report_terminal(rc)
            self.agent.delete_pod_now(self.pod)

    def _end_without_process(self, why: str) -> None:
        if why == "deadline":
            self._report(
                "Failed",
                {"waiting": {"reason": "ContainerCreating"}},
                pod_reason="DeadlineExceeded",
                pod_message=DEADLINE_MESSAGE,
            )
        elif why == "terminating":
            self.agent.delete_pod_now(self.pod)

    def _await_deletion(self) -> None:
        """After the pod is final: finish its graceful deletion when it comes, keep the thread until then."""
        while True:
            self.wake.clear()
            why = self._interruption(check_deadline=False)
            if why == "terminating":
                self.agent.delete_pod_now(self.pod)
                return
            if why:
                return
            self._sleep(None, deadline=False)  # a final pod has no deadline any more

    def kill(self, grace: float) -> int | None:
        """Stop the process group (idempotent); returns the exit code."""
        return None if self.proc is None else procs.stop(self.proc, grace=grace)

    def _termination_message(self, code: int) -> str | None:
        """What kubelet puts in state.terminated.message: the file at terminationMessagePath, else (with
        FallbackToLogsOnError and a failed exit) the log's tail; both capped like kubelet's."""
        try:
            text = self.termination_message_file.read_bytes()[:MAX_TERMINATION_MESSAGE_BYTES]
        except OSError:
            text = b""
        container = self.pod["spec"]["containers"][0]
        if not text and code != 0 and container.get("terminationMessagePolicy") == "FallbackToLogsOnError":
            try:
                lines = self.log_path.read_bytes()[-MAX_FALLBACK_LOG_BYTES:].splitlines()[-MAX_FALLBACK_LOG_LINES:]
            except OSError:
                lines = []
            text = b"\n".join(lines)
        return text.decode("utf-8", errors="replace") or None

    # ---- status
    def _terminated(self, rc: int | None, reason: str | None = None, message: str | None = None) -> Obj:
        code = 137 if rc is None else (128 - rc if rc < 0 else rc)  # killed by signal N -> 128+N like runc
        state: Obj = {
            "exitCode": code,
            "reason": reason or ("Completed" if code == 0 else "Error"),
            "startedAt": self.started_at or now_iso(),
            "finishedAt": now_iso(),
        }
        if message is None and self.proc is not None:
            message = self._termination_message(code)
        if message:
            state["message"] = message
        if self.pid:
            state["containerID"] = f"nodeagent://{self.pid}"
        return state

    def _report_terminal(
        self,
        rc: int | None,
        reason: str | None = None,
        message: str | None = None,
        pod_reason: str | None = None,
        pod_message: str | None = None,
    ) -> None:
        state = self._terminated(rc, reason, message)
        phase = "Succeeded" if state["exitCode"] == 0 and pod_reason is None else "Failed"
        self._report(phase, {"terminated": state}, pod_reason=pod_reason, pod_message=pod_message)

    def _condition(self, ctype: str, ok: bool, reason: str | None = None) -> Obj:
        value = "True" if ok else "False"
        previous = self._transitions.get(ctype)
        if previous is None or previous[0] != value:
            self._transitions[ctype] = (value, now_iso())
        cond: Obj = {
            "type": ctype,
            "status": value,
            "lastTransitionTime": self._transitions[ctype][1],
            "lastProbeTime": None,
        }
        if reason and not ok:
            cond["reason"] = reason
        return cond

    def _report(
        self,
        phase: str,
        state: Obj,
        ready: bool = False,
        pod_reason: str | None = None,
        pod_message: str | None = None,
    ) -> None:
        container = self.pod["spec"]["containers"][0]
        not_ready = "PodCompleted" if phase in TERMINAL_PHASES else "ContainersNotReady"
        status: Obj = {
            "phase": phase,
            "conditions": [
                self._condition("PodScheduled", True),
                self._condition("Initialized", True),
                self._condition("ContainersReady", ready, not_ready),
                self._condition("Ready", ready, not_ready),
            ],
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": "127.0.0.1",
            "podIPs": [{"ip": "127.0.0.1"}],
            "startTime": self.start_time,
            "reason": pod_reason,
            "message": pod_message,
            "containerStatuses": [
                {
                    "name": container["name"],
                    "image": container.get("image") or "none",
                    "imageID": "",
                    "ready": ready,
                    "started": "running" in state,
                    "restartCount": self.restart_count,
                    "state": state,
                    "lastState": self.last_state,
                    **({"containerID": f"nodeagent://{self.pid}"} if self.pid else {}),
                }
            ],
        }
        if not self.deleted:
            self.agent.patch_pod_status(self.pod, status)


# --------------------------------------------------------------------------------------------------- launch
class _Launch:
    """Materialises volumes and computes argv/env/cwd for a pod's first container."""

    def __init__(self, run: _PodRun) -> None:
        self.run = run
        self.agent = run.agent
        self.pod = run.pod
        self.ns = run.namespace
        self.container: Obj = self.pod["spec"]["containers"][0]
        self.volumes_dir = run.dir / "volumes"

    def build(self) -> tuple[list[str], dict[str, str], Path]:
        mounts = self._mounts()
        base = self._base_env()
        # Only the pod's own env is remapped: the agent's PATH points at the test venv, which may itself live
        # under a mount path such as /tmp when the repository is checked out there.
        env = {**base, **{k: remap_path(v, mounts) for k, v in self._env(base).items()}}
        command = [*self.container.get("command", []), *self.container.get("args", [])]
        if not self.container.get("command"):
            raise _CannotRun("the node agent ignores images: the container needs an explicit `command`")
        argv = [remap_path(expand_vars(a, env), mounts) for a in command]
        workdir = self.container.get("workingDir")
        cwd = Path(remap_path(workdir, mounts)) if workdir else self.run.dir
        cwd.mkdir(parents=True, exist_ok=True)
        return argv, env, cwd

    # ---- env
    def _base_env(self) -> dict[str, str]:
        python_dir = str(Path(sys.executable).parent)  # not resolved: keep the venv's bin dir
        return {
            "PATH": f"{python_dir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "HOSTNAME": self.run.name,
            "KUBERNETES_SERVICE_HOST": self.agent.server.hostname or "127.0.0.1",
            "KUBERNETES_SERVICE_PORT": str(self.agent.server.port or 443),
            "NODE_AGENT_POD_ROOT": str(self.run.dir),
        }

    def _env(self, base: dict[str, str]) -> dict[str, str]:
        """The container's env from the pod spec; `base` is visible to $(VAR) references but not returned."""
        env: dict[str, str] = {}
        for source in self.container.get("envFrom", []):
            env.update(self._env_from(source))
        for var in self.container.get("env", []):
            value = self._env_value(var, {**base, **env})
            if value is not None:
                env[var["name"]] = value
        return env

    def _env_from(self, source: Obj) -> dict[str, str]:
        prefix = source.get("prefix", "")
        ref = source.get("configMapRef") or source.get("secretRef") or {}
        kind = "ConfigMap" if "configMapRef" in source else "Secret"
        data = self._data(kind, ref["name"], bool(ref.get("optional")), "CreateContainerConfigError")
        return {prefix + k: v.decode(errors="replace") for k, v in data.items() if _ENV_NAME.match(prefix + k)}

    def _env_value(self, var: Obj, env: dict[str, str]) -> str | None:
        if "valueFrom" not in var:
            return expand_vars(var.get("value", ""), env)
        source = var["valueFrom"]
        if "fieldRef" in source:
            return field_ref(self.pod, source["fieldRef"]["fieldPath"])
        for key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
            if key in source:
                ref = source[key]
                data = self._data(kind, ref["name"], bool(ref.get("optional")), "CreateContainerConfigError")
                if ref["key"] in data:
                    return data[ref["key"]].decode(errors="replace")
                if ref.get("optional"):
                    return None
                raise _NotReady("CreateContainerConfigError", f"{kind} {ref['name']} has no key {ref['key']!r}")
        raise _CannotRun(f"unsupported valueFrom for env {var['name']}: {sorted(source)}")

    def _data(self, kind: str, name: str, optional: bool, reason: str) -> dict[str, bytes]:
        obj = self.agent.read_object(kind, self.ns, name)
        if obj is None:
            if optional:
                return {}
            raise _NotReady(reason, f'{kind.lower()} "{name}" not found')
        if kind == "Secret":
            return _decode(obj.get("data"))
        data = {k: v.encode() for k, v in (obj.get("data") or {}).items()}
        data.update(_decode(obj.get("binaryData")))
        return data

    # ---- volumes
    def _mounts(self) -> list[tuple[str, Path]]:
        local = {v["name"]: self._volume(v) for v in self.pod["spec"].get("volumes", [])}
        # Like kubelet's bind mount of an empty file at terminationMessagePath: the process writes, we read at exit.
        message_file = self.run.termination_message_file
        message_file.parent.mkdir(parents=True, exist_ok=True)
        message_file.write_bytes(b"")
        mounts = [(termination_message_path(self.container), message_file)]
        for mount in self.container.get("volumeMounts", []):
            mount_path = mount["mountPath"].rstrip("/")
            if not mount_path or mount["name"] not in local:
                continue
            path = local[mount["name"]] / mount["subPath"] if mount.get("subPath") else local[mount["name"]]
            mounts.append((mount_path, path))
        return sorted(mounts, key=lambda m: len(m[0]), reverse=True)

    def _volume(self, volume: Obj) -> Path:
        path: Path = self.volumes_dir / str(volume["name"])
        if "hostPath" in volume:
            return Path(str(volume["hostPath"]["path"]))
        if "configMap" in volume or "secret" in volume:
            kind = "ConfigMap" if "configMap" in volume else "Secret"
            src = volume.get("configMap") or volume["secret"]
            name = src.get("name") or src.get("secretName")
            files = self._projection(kind, name, src.get("items"), bool(src.get("optional")))
            _write_tree(path, files)
        elif "downwardAPI" in volume:
            _write_tree(path, self._downward(volume["downwardAPI"].get("items", [])))
        elif "projected" in volume:
            _write_tree(path, self._projected(volume["projected"].get("sources", [])))
        else:  # emptyDir and anything unsupported: an empty directory
            path.mkdir(parents=True, exist_ok=True)
        return path

    def _projection(self, kind: str, name: str, items: list[Obj] | None, optional: bool) -> dict[str, bytes]:
        data = self._data(kind, name, optional, "ContainerCreating")
        return _select_items(data, items, f"{kind} {name}", optional)

    def _downward(self, items: list[Obj]) -> dict[str, bytes]:
        files = {}
        for item in items:
            if "fieldRef" not in item:
                raise _CannotRun("downwardAPI resourceFieldRef is not supported by the node agent")
            files[item["path"]] = field_ref(self.pod, item["fieldRef"]["fieldPath"]).encode()
        return files

    def _projected(self, sources: list[Obj]) -> dict[str, bytes]:
        files: dict[str, bytes] = {}
        for source in sources:
            if "configMap" in source or "secret" in source:
                kind = "ConfigMap" if "configMap" in source else "Secret"
                src = source.get("configMap") or source["secret"]
                files.update(self._projection(kind, src["name"], src.get("items"), bool(src.get("optional"))))
            elif "downwardAPI" in source:
                files.update(self._downward(source["downwardAPI"].get("items", [])))
            elif "serviceAccountToken" in source:
                sat = source["serviceAccountToken"]
                token = self.agent.request_token(self.pod, sat.get("audience"), sat.get("expirationSeconds", 3600))
                files[sat["path"]] = token.encode()
        return files


# --------------------------------------------------------------------------------------------------- script
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--kubeconfig", required=True, type=Path)
    parser.add_argument("--node-name", default=DEFAULT_NODE_NAME)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with NodeAgent(args.kubeconfig, node_name=args.node_name).start() as agent:
        log.info("node %s ready; pod dirs under %s", agent.node_name, agent.root)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
