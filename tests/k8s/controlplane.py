"""A real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager) as local processes.

Usable without pytest, e.g. from a bench script::

    from tests.k8s.controlplane import ControlPlane

    with ControlPlane.start() as cp:
        cp.kubectl("get", "namespaces")

Each start uses a fresh temp dir and fresh loopback ports, so a session killed midway cannot break the next
one; the next start also kills the processes such a session left behind (see `tests.k8s.procs`).

Admission: the default plugin set stays on, including ServiceAccount. Pods therefore need their namespace's
"default" ServiceAccount (created by the serviceaccount controller; `create_namespace` waits for it) and
get the usual projected API-access volume, exactly as on a real cluster; TokenRequest works for any existing
ServiceAccount. RBAC is the only authorizer.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from tests.k8s import certs, procs
from tests.k8s.wait import wait_for

K8S_DIR = Path(__file__).resolve().parent
REPO_CRDS = K8S_DIR.parents[1] / "crds"
BUILD_SCRIPT = K8S_DIR / "build-binaries.sh"
BINARIES = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kubectl",
    # The real node (tests/k8s/node.py).
    "kubelet",
    "kube-scheduler",
    "kube-proxy",
    "coredns",
)
SA_ISSUER = "https://kubernetes.default.svc.cluster.local"
CONTROLLERS = (
    "garbage-collector-controller",
    "namespace-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "job-controller",
    # CronJob: the baseline bench/schedule_latency.py measures TestJob ticks against.
    "cronjob-controller",
    "ttl-after-finished-controller",
    # Publishes kube-root-ca.crt into every namespace: the projected API-access volume that the ServiceAccount
    # admission plugin adds to every pod refers to it.
    "root-ca-certificate-publisher-controller",
)
# With a real node (tests/k8s/node.py) the cluster also runs workloads as a user's does: Deployments (the chart),
# Services with endpoints (kube-proxy), node heartbeats and the not-ready taint (without the node-lifecycle
# controller the taint set at registration never lifts), and garbage collection of finished pods.
REAL_NODE_CONTROLLERS = (
    *CONTROLLERS,
    "deployment-controller",
    "replicaset-controller",
    "statefulset-controller",
    "daemonset-controller",
    "endpoints-controller",
    "endpointslice-controller",
    "endpointslice-mirroring-controller",
    "node-lifecycle-controller",
    "pod-garbage-collector-controller",
    "disruption-controller",
)


class BuildError(RuntimeError):
    """build-binaries.sh failed; the message names the failed step."""


class ControlPlaneError(RuntimeError):
    """A component did not start or became unhealthy; the message includes the tail of its log."""


class _PortTaken(ControlPlaneError):
    pass


def default_bin_dir() -> Path:
    """The cache dir build-binaries.sh builds into (the script owns the cache key)."""
    out = subprocess.run(["bash", str(BUILD_SCRIPT), "--print-bin-dir"], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def binaries_present(bin_dir: Path) -> bool:
    return (bin_dir / ".stamp").is_file() and all(os.access(bin_dir / b, os.X_OK) for b in BINARIES)


def ensure_binaries() -> Path:
    """Return the bin dir, running build-binaries.sh first if the cache is incomplete (may take ~15 min)."""
    bin_dir = default_bin_dir()
    if binaries_present(bin_dir):
        return bin_dir
    print(
        f"[k8s] {bin_dir} is incomplete: running {BUILD_SCRIPT} (a cold build takes 10-20 min)",
        file=sys.stderr,
    )
    proc = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, check=False)
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        failed = [line for line in proc.stderr.splitlines() if "[k8s] FAILED" in line]
        step = failed[-1] if failed else f"[k8s] FAILED: build-binaries.sh exited with {proc.returncode}"
        tail = "\n".join(proc.stderr.splitlines()[-25:])
        raise BuildError(f"{step}\n--- last lines of build-binaries.sh output ---\n{tail}")
    if not binaries_present(bin_dir):
        raise BuildError(f"[k8s] FAILED: build-binaries.sh succeeded but {bin_dir} is incomplete")
    return bin_dir


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_bound(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # ignore TIME_WAIT leftovers
        try:
            s.bind((host, port))
        except OSError:
            return True
        return False


def write_kubeconfig(path: Path, server: str, ca_path: Path, user: dict[str, str], name: str = "supertest") -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority": str(ca_path)}}],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


@dataclass
class ControlPlane:
    """A running control plane. Create with `ControlPlane.start()`; stop with `stop()` or a `with` block."""

    bin_dir: Path
    work_dir: Path
    server_url: str
    ca_path: Path
    kubeconfig_path: Path
    ports: dict[str, int]
    # The address the apiserver binds and advertises: loopback, or the real node's IP so pods reach it through the
    # "kubernetes" Service (see tests/k8s/node.py).
    host: str = "127.0.0.1"
    ca: certs.KeyPair | None = None
    startup_seconds: float = 0.0
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    args: dict[str, list[str]] = field(default_factory=dict)  # per component, to restart one (fault tier)
    keep_work_dir: bool = False
    _stopped: bool = False

    # ----------------------------------------------------------------------------------------------- start
    @classmethod
    def start(
        cls, *, bin_dir: Path | None = None, timeout: float = 90.0, attempts: int = 3, node_ip: str | None = None
    ) -> ControlPlane:
        """Build/locate the binaries, kill leftovers of dead sessions and start a fresh control plane.

        `node_ip`: serve on that (local, non-loopback) address for a real kubelet, kube-proxy and pods, with the
        controllers a workload cluster needs; without it, a loopback-only plane for the node agent.
        """
        bin_dir = bin_dir or ensure_binaries()
        for leftover in procs.reap_stale_sessions():
            print(f"[k8s] killed leftover from a dead session: {leftover}", file=sys.stderr)
        for attempt in range(1, attempts + 1):
            try:
                return cls._start_once(bin_dir, timeout, node_ip)
            except _PortTaken:
                # Another process grabbed a port between free_port() and the bind: retry with fresh ports.
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")

    @classmethod
    def _start_once(cls, bin_dir: Path, timeout: float, node_ip: str | None) -> ControlPlane:
        began = time.monotonic()
        work_dir = Path(tempfile.mkdtemp(prefix="supertest-k8s-"))
        procs.REGISTRY.add_dir(work_dir)
        ports = {"etcd": free_port(), "etcd-peer": free_port(), "apiserver": free_port()}
        pki = work_dir / "pki"
        pki.mkdir()
        ca = certs.make_ca()
        ca_path, _ = ca.write(pki, "ca")
        host = node_ip or "127.0.0.1"
        cp = cls(
            bin_dir=bin_dir,
            work_dir=work_dir,
            server_url=f"https://{host}:{ports['apiserver']}",
            host=host,
            ca=ca,
            ca_path=ca_path,
            kubeconfig_path=work_dir / "admin.kubeconfig",
            ports=ports,
            keep_work_dir=bool(os.environ.get("SUPERTEST_K8S_KEEP")),
        )
        try:
            cp._boot(ca, timeout)
        except BaseException:
            cp.stop()
            raise
        cp.startup_seconds = time.monotonic() - began
        return cp

    def _boot(self, ca: certs.KeyPair, timeout: float) -> None:
        pki = self.work_dir / "pki"
        serving = certs.issue(
            ca,
            "kube-apiserver",
            server=True,
            dns_names=("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"),
            ip_addresses=tuple(dict.fromkeys(("127.0.0.1", "10.0.0.1", self.host))),
        )
        serving_crt, serving_key = serving.write(pki, "apiserver")
        admin_crt, admin_key = certs.issue(ca, "supertest-admin", organizations=("system:masters",), client=True).write(
            pki, "admin"
        )
        sa_key, sa_pub = certs.write_service_account_keys(pki)
        write_kubeconfig(
            self.kubeconfig_path,
            self.server_url,
            self.ca_path,
            {"client-certificate": str(admin_crt), "client-key": str(admin_key)},
        )
        deadline = time.monotonic() + timeout
        self._spawn("etcd", self._etcd_args())
        self._spawn("kube-apiserver", self._apiserver_args(serving_crt, serving_key, sa_key, sa_pub))
        self._wait_ready("kube-apiserver", self._apiserver_ready, deadline)
        self._spawn("kube-controller-manager", self._controller_manager_args(sa_key))
        self._wait_ready("kube-controller-manager", self._controller_manager_ready, deadline)

    def _etcd_args(self) -> list[str]:
        client, peer = f"http://127.0.0.1:{self.ports['etcd']}", f"http://127.0.0.1:{self.ports['etcd-peer']}"
        return [
            "--name=default",
            f"--data-dir={self.work_dir / 'etcd'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=default={peer}",
            "--unsafe-no-fsync",  # test data: durability is irrelevant, fsync latency is not
            "--log-level=warn",
        ]

    @property
    def has_real_node(self) -> bool:
        return self.host != "127.0.0.1"

    def _apiserver_args(self, crt: Path, key: Path, sa_key: Path, sa_pub: Path) -> list[str]:
        return [
            f"--etcd-servers=http://127.0.0.1:{self.ports['etcd']}",
            f"--bind-address={self.host}",
            f"--advertise-address={self.host}",
            f"--secure-port={self.ports['apiserver']}",
            f"--cert-dir={self.work_dir / 'apiserver-certs'}",
            f"--tls-cert-file={crt}",
            f"--tls-private-key-file={key}",
            f"--client-ca-file={self.ca_path}",
            "--authorization-mode=RBAC",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--allow-privileged=true",
            f"--service-account-issuer={SA_ISSUER}",
            f"--service-account-key-file={sa_pub}",
            f"--service-account-signing-key-file={sa_key}",
            *self._node_facing_apiserver_args(),
            "--enable-priority-and-fairness=false",
            "--profiling=false",
            "--v=1",
        ]

    def _node_facing_apiserver_args(self) -> list[str]:
        if not self.has_real_node:
            # Loopback endpoints for the "kubernetes" Service fail validation; nothing here needs them.
            return ["--endpoint-reconciler-type=none"]
        assert self.ca is not None
        pki = self.work_dir / "pki"
        # The apiserver's client identity towards kubelets (logs, exec): system:masters passes the kubelet's
        # webhook authorization.
        crt, key = certs.issue(
            self.ca, "kube-apiserver-kubelet-client", organizations=("system:masters",), client=True
        ).write(pki, "apiserver-kubelet-client")
        return [
            f"--kubelet-client-certificate={crt}",
            f"--kubelet-client-key={key}",
            # The node's name does not resolve on this machine; its InternalIP (the node IP) does.
            "--kubelet-preferred-address-types=InternalIP",
        ]

    def _controller_manager_args(self, sa_key: Path) -> list[str]:
        return [
            f"--kubeconfig={self.kubeconfig_path}",
            f"--authentication-kubeconfig={self.kubeconfig_path}",
            f"--authorization-kubeconfig={self.kubeconfig_path}",
            "--bind-address=127.0.0.1",
            "--secure-port=0",  # no HTTPS endpoint: readiness is checked via the API
            "--leader-elect=false",
            "--use-service-account-credentials=false",
            f"--controllers={','.join(REAL_NODE_CONTROLLERS if self.has_real_node else CONTROLLERS)}",
            f"--service-account-private-key-file={sa_key}",
            f"--root-ca-file={self.ca_path}",
            "--v=1",
        ]

    def _spawn(self, name: str, args: list[str]) -> None:
        logs = self.work_dir / "logs"
        logs.mkdir(exist_ok=True)
        self.args[name] = args
        with (logs / f"{name}.log").open("ab") as log:
            self.processes[name] = procs.spawn([str(self.bin_dir / name), *args], label=name, log=log)

    # ----------------------------------------------------------------------------------------------- faults
    def kill_apiserver(self) -> None:
        """SIGKILL kube-apiserver (etcd keeps the state): an apiserver crash, for the fault tier."""
        proc = self.processes["kube-apiserver"]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def start_apiserver(self, timeout: float = 60.0) -> None:
        """Start kube-apiserver again after kill_apiserver(), same port, certificates and etcd."""
        assert self.processes["kube-apiserver"].poll() is not None, "kube-apiserver is still running"
        self._spawn("kube-apiserver", self.args["kube-apiserver"])
        self._wait_ready("kube-apiserver", self._apiserver_ready, time.monotonic() + timeout)

    def log_path(self, component: str) -> Path:
        return self.work_dir / "logs" / f"{component}.log"

    def log_tail(self, component: str, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path(component).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _check_alive(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                tail = self.log_tail(name)
                error = _PortTaken if "address already in use" in tail else ControlPlaneError
                raise error(f"{name} exited with code {proc.returncode}; last log lines:\n{tail}")

    def _wait_ready(self, name: str, ready: Any, deadline: float) -> None:
        def check() -> bool:
            self._check_alive()
            return bool(ready())

        try:
            wait_for(check, timeout=max(deadline - time.monotonic(), 0.1), interval=0.1, message=f"{name} ready")
        except AssertionError as exc:
            raise ControlPlaneError(f"{exc}; last log lines of {name}:\n{self.log_tail(name)}") from None

    # ----------------------------------------------------------------------------------------------- health
    def _ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca_path))
        pki = self.work_dir / "pki"
        ctx.load_cert_chain(pki / "admin.crt", pki / "admin.key")
        return ctx

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, str]:
        """GET `path` on the apiserver as the admin user; returns (status, body)."""
        conn = http.client.HTTPSConnection(
            self.host, self.ports["apiserver"], context=self._ssl_context(), timeout=timeout
        )
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read().decode(errors="replace")
        finally:
            conn.close()

    def _apiserver_ready(self) -> bool:
        try:
            status, _ = self.get("/readyz", timeout=2)
        except OSError:
            return False
        return status == 200

    def _controller_manager_ready(self) -> bool:
        # The serviceaccount controller creating default/default proves kube-controller-manager runs and
        # syncs.
        return self.serviceaccount_exists("default", "default")

    def healthy(self) -> bool:
        return all(p.poll() is None for p in self.processes.values()) and self._apiserver_ready()

    # ----------------------------------------------------------------------------------------------- clients
    def api_client(self, kubeconfig: Path | None = None) -> k8s.ApiClient:
        """A new official-client ApiClient (admin unless `kubeconfig` is given); close it when done."""
        api: k8s.ApiClient = k8s_config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig or self.kubeconfig_path)
        )
        return api

    def kubectl(
        self,
        *args: str,
        kubeconfig: Path | None = None,
        check: bool = True,
        input: str | None = None,
        timeout: float = 60.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run the pinned kubectl against this control plane (text mode, output captured)."""
        argv = [str(self.bin_dir / "kubectl"), f"--kubeconfig={kubeconfig or self.kubeconfig_path}", *args]
        return subprocess.run(argv, capture_output=True, text=True, check=check, input=input, timeout=timeout)

    def install_crds(self, files: list[Path] | None = None, timeout: float = 60.0) -> list[str]:
        """Apply CRD manifests (by default every one in the repository's crds/) and wait until each is Established;
        returns their names."""
        files = files if files is not None else sorted(REPO_CRDS.glob("*.yaml"))
        names = [
            doc["metadata"]["name"]
            for f in files
            for doc in yaml.safe_load_all(f.read_text())
            if doc and doc.get("kind") == "CustomResourceDefinition"
        ]
        self.kubectl("apply", *(arg for f in files for arg in ("-f", str(f))), timeout=timeout)
        wanted = [f"crd/{name}" for name in names]
        self.kubectl("wait", "--for=condition=Established", *wanted, f"--timeout={int(timeout)}s", timeout=timeout + 10)
        return names

    def serviceaccount_exists(self, namespace: str, name: str) -> bool:
        with self.api_client() as api:
            try:
                k8s.CoreV1Api(api).read_namespaced_service_account(name, namespace)
            except ApiException as exc:
                if exc.status in (401, 403, 404):  # RBAC bootstrap may still be running
                    return False
                raise
            except OSError:
                return False
        return True

    def serviceaccount_token(self, namespace: str, name: str, expiration_seconds: int = 3600) -> str:
        """A bound token for the ServiceAccount, from the TokenRequest API."""
        request = k8s.AuthenticationV1TokenRequest(
            spec=k8s.V1TokenRequestSpec(audiences=[SA_ISSUER], expiration_seconds=expiration_seconds)
        )
        with self.api_client() as api:
            resp = k8s.CoreV1Api(api).create_namespaced_service_account_token(name, namespace, request)
        assert resp.status is not None
        return str(resp.status.token)

    def serviceaccount_kubeconfig(self, namespace: str, name: str, expiration_seconds: int = 3600) -> Path:
        """Write a kubeconfig authenticating as system:serviceaccount:<namespace>:<name>; return its path."""
        token = self.serviceaccount_token(namespace, name, expiration_seconds)
        path = self.work_dir / f"sa-{namespace}-{name}.kubeconfig"
        return write_kubeconfig(path, self.server_url, self.ca_path, {"token": token}, name=f"{namespace}-{name}")

    # -------------------------------------------------------------------------------------------- namespaces
    def create_namespace(self, name: str, wait_serviceaccount: bool = True, timeout: float = 30.0) -> str:
        """Create a namespace; by default wait until its "default" ServiceAccount exists (pods need it)."""
        with self.api_client() as api:
            k8s.CoreV1Api(api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
        if wait_serviceaccount:
            wait_for(
                lambda: self.serviceaccount_exists(name, "default"),
                timeout=timeout,
                message=f"ServiceAccount {name}/default",
            )
        return name

    def delete_namespace(self, name: str, timeout: float = 30.0) -> bool:
        """Delete a namespace and wait up to `timeout` for it to vanish; False if it is still terminating.

        kube-controller-manager's namespace controller waits a fixed 5 s (namespaceDeletionGracePeriod) before
        it starts deleting the content, so a waited deletion always takes over 5 s; `timeout=0` does not wait.
        """
        with self.api_client() as api:
            core = k8s.CoreV1Api(api)
            try:
                core.delete_namespace(name)
            except ApiException as exc:
                if exc.status == 404:
                    return True
                raise
            if timeout <= 0:
                return False

            def gone() -> bool:
                try:
                    core.read_namespace(name)
                except ApiException as exc:
                    if exc.status == 404:
                        return True
                    raise
                return False

            try:
                wait_for(gone, timeout=timeout, interval=0.2, message=f"namespace {name} deletion")
            except AssertionError:
                return False
        return True

    # ----------------------------------------------------------------------------------------------- stop
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes.values()]

    def leftovers(self) -> list[str]:
        """Processes of this control plane still alive and ports still bound (empty after a clean stop)."""
        found = [f"process group {pid} still has members" for pid in self.pids() if procs.group_members(pid)]
        found += [
            f"port {port} ({name}) still bound"
            for name, port in self.ports.items()
            if port_is_bound(port, self.host if name == "apiserver" else "127.0.0.1")
        ]
        return found

    def stop(self) -> None:
        """Stop kube-controller-manager, kube-apiserver, then etcd (reverse start order); idempotent."""
        if self._stopped:
            return
        self._stopped = True
        for name in reversed(list(self.processes)):
            procs.stop(self.processes[name], grace=5.0)
        if not self.keep_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)
        procs.REGISTRY.remove_dir(self.work_dir)

    def __enter__(self) -> ControlPlane:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def namespace_for_test(test_name: str) -> str:
    """A unique DNS-1123 namespace name derived from a test name."""
    base = re.sub(r"[^a-z0-9-]+", "-", test_name.lower()).strip("-")[:40].strip("-") or "test"
    return f"{base}-{os.urandom(3).hex()}"


if __name__ == "__main__":  # smoke run: start, print facts, stop
    with ControlPlane.start() as plane:
        print(f"started in {plane.startup_seconds:.2f}s: {plane.server_url} kubeconfig={plane.kubeconfig_path}")
        print(plane.kubectl("get", "--raw=/version").stdout)
        with contextlib.suppress(KeyboardInterrupt):
            if "--hold" in sys.argv:
                input("press enter to stop ")
