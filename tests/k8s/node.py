"""A real single-node cluster for the e2e tier: a `ControlPlane` serving on the node IP, plus containerd + runc,
a CNI bridge, kubelet, kube-scheduler, kube-proxy and CoreDNS.

    with RealNode.start(ensure_images()) as node:
        node.cp.kubectl("get", "nodes")            # supertest-node   Ready

What it looks like from a pod, and why:
* The node's address is NODE_IP, a /32 on `lo` (the kubelet refuses a loopback node IP, and this machine has no
  spare interface). The apiserver, the "kubernetes" Service's endpoint, CoreDNS and the services the tests start
  for pods (Postgres, Redis, the S3 server) listen on it.
* Pods get addresses on the bridge `BRIDGE` (POD_SUBNET) with routes to exactly three destinations: the pod
  subnet, the Service range and the node IP. There is no default route, no masquerade, and a FORWARD rule drops
  anything from the bridge that would leave through another interface: pod traffic never leaves this machine.
* Services work as on any cluster (kube-proxy, iptables mode). Cluster DNS is CoreDNS as a host process on
  NODE_IP:53 behind the usual `kube-system/kube-dns` Service at DNS_IP (a selector-less Service with an
  EndpointSlice), so pods resolve `<svc>.<ns>.svc.cluster.local` exactly as elsewhere.
* Images are never pulled: `import_images` loads the archives `scripts/build-images.sh` writes into containerd
  (whose root is kept in the cache, so an image is imported once per content), and pods use
  `imagePullPolicy: IfNotPresent`.

Host state: everything the node changes (sysctls, iptables, mounts, network namespaces, links, cgroups, the lo
address) is recorded before start by `tests.k8s.hoststate` and put back by `stop()`. A session that died midway
is cleaned up by the next `start()`, from the pristine snapshot kept in the cache.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType

import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from tests.k8s import certs, procs
from tests.k8s.controlplane import ControlPlane, ControlPlaneError, free_port, write_kubeconfig
from tests.k8s.hoststate import HostSnapshot, kubepods_cgroups, mountpoints, write_sysctl
from tests.k8s.images import BuiltImages
from tests.k8s.wait import wait_for

NODE_NAME = "supertest-node"
NODE_IP = "10.99.0.1"
POD_SUBNET = "10.98.0.0/24"
POD_GATEWAY = "10.98.0.1"
SERVICE_CIDR = "10.0.0.0/24"  # ControlPlane's --service-cluster-ip-range
DNS_IP = "10.0.0.10"
CLUSTER_DOMAIN = "cluster.local"
BRIDGE = "st-cni0"
FORWARD_CHAIN = "SUPERTEST-NODE-FORWARD"
# Short and fixed: containerd's socket path must fit a sockaddr_un, and a dead session's leftovers must be findable.
RUN_DIR = Path("/run/supertest-node")
STATE_DIR = procs.cache_root() / "k8s" / "node"
# Kept across sessions on purpose: the content store holds the imported images (about 2 min to import the runner).
CONTAINERD_ROOT = STATE_DIR / "containerd-root"
# Written while a node runs: its owner, its scratch dir and the host snapshot from before it started, so that the
# next session can undo a node whose session died.
ACTIVE = STATE_DIR / "active.json"
# Held (flock) for a node's whole life: one node per machine, so a second session (another work tree, a bench)
# waits for the first to finish instead of failing. The kernel drops the lock when its holder dies.
NODE_LOCK = STATE_DIR / "node.lock"
NODE_LOCK_WAIT_SECONDS = 3600.0
CONTAINER_LOG_LINKS = Path("/var/log/containers")  # hard-coded in the kubelet


class NodeError(ControlPlaneError):
    """The node did not come up; the message includes the tail of the failing component's log."""


def _run(*argv: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check, timeout=timeout)


def missing_host_tools() -> list[str]:
    wanted = ("containerd", "containerd-shim-runc-v2", "runc", "ctr", "iptables", "ip", "conntrack")
    missing = [tool for tool in wanted if shutil.which(tool) is None]
    missing += [
        f"/usr/lib/cni/{p}" for p in ("bridge", "host-local", "loopback") if not Path(f"/usr/lib/cni/{p}").exists()
    ]
    return missing


@dataclass
class RealNode:
    cp: ControlPlane
    images: BuiltImages
    work_dir: Path
    ports: dict[str, int]
    snapshot: HostSnapshot
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    startup_seconds: float = 0.0
    lock_fd: int | None = None
    _stopped: bool = False

    # ------------------------------------------------------------------------------------------------ paths
    @property
    def containerd_socket(self) -> Path:
        return RUN_DIR / "containerd.sock"

    @property
    def kubelet_root(self) -> Path:
        return self.work_dir / "kubelet"

    @property
    def pod_logs(self) -> Path:
        return self.work_dir / "pod-logs"

    @staticmethod
    def owned_prefixes(work_dir: Path | None = None) -> tuple[str, ...]:
        """Directories whose mounts belong to the node (checked and unmounted on teardown)."""
        dirs = [str(RUN_DIR), str(CONTAINERD_ROOT), "/run/netns"]
        if work_dir is not None:
            dirs.append(str(work_dir))
        return tuple(dirs)

    # ------------------------------------------------------------------------------------------------ start
    @classmethod
    def start(cls, images: BuiltImages, timeout: float = 300.0) -> RealNode:
        """Start the control plane and the node and wait until the node is Ready with cluster DNS; imports missing
        images first (the timeout includes that: about two minutes for a new runner image)."""
        if os.geteuid() != 0:
            raise NodeError("a real kubelet needs root (cgroups, mounts, network namespaces, iptables)")
        missing = missing_host_tools()
        if missing:
            raise NodeError(f"missing host tools {missing}: run scripts/install-system-deps.sh")
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        lock_fd = acquire_node_lock()
        try:
            return cls._start_locked(images, timeout, lock_fd)
        except BaseException:
            with contextlib.suppress(OSError):  # a node that failed in _boot has closed it in stop()
                os.close(lock_fd)
            raise

    @classmethod
    def _start_locked(cls, images: BuiltImages, timeout: float, lock_fd: int) -> RealNode:
        began = time.monotonic()
        reap_dead_node()
        work_dir = Path(tempfile.mkdtemp(prefix="supertest-node-"))
        snapshot = HostSnapshot.take(cls.owned_prefixes(work_dir))
        record = {"owner_pid": os.getpid(), "work_dir": str(work_dir), "snapshot": asdict(snapshot)}
        ACTIVE.write_text(json.dumps(record))
        add_node_address()
        try:
            cp = ControlPlane.start(node_ip=NODE_IP)
        except BaseException:
            undo_host(work_dir, snapshot)
            raise
        node = cls(
            cp=cp,
            images=images,
            work_dir=work_dir,
            ports={
                "kubelet": free_port(),
                "kubelet-healthz": free_port(),
                "proxy-healthz": free_port(),
                "proxy-metrics": free_port(),
                "dns-health": free_port(),
                "dns-ready": free_port(),
            },
            snapshot=snapshot,
            lock_fd=lock_fd,
        )
        try:
            node._boot(time.monotonic() + timeout)
        except BaseException:
            node.stop()
            raise
        node.startup_seconds = time.monotonic() - began
        return node

    def _boot(self, deadline: float) -> None:
        for d in (self.work_dir, RUN_DIR, CONTAINERD_ROOT, self.pod_logs):
            d.mkdir(parents=True, exist_ok=True)
        self._configure_host()
        self._start_containerd(deadline)
        self.import_images(self.images.archives)
        kubeconfigs = self._write_credentials()
        self._spawn("kube-scheduler", self._scheduler_args(kubeconfigs["admin"]))
        self._spawn("kubelet", self._kubelet_args(kubeconfigs["node"]))
        self._publish_cluster_dns()
        self._spawn("coredns", ["-conf", str(self._write_corefile(kubeconfigs["admin"]))])
        self._spawn("kube-proxy", [f"--config={self._write_proxy_config(kubeconfigs['admin'])}", "--v=1"])
        self._wait("node Ready", self.node_ready, deadline)
        self._wait("CoreDNS ready", self._coredns_ready, deadline)

    def _configure_host(self) -> None:
        # A Service whose endpoint is another pod on the same bridge needs the host to route the packet back out
        # (forwarding) and to see the reply (bridge netfilter); both are restored on stop().
        write_sysctl("net.ipv4.ip_forward", "1")
        with contextlib.suppress(OSError):
            write_sysctl("net.bridge.bridge-nf-call-iptables", "1")
        # Nothing from the pod bridge is forwarded to another interface: pods reach this machine and each other only.
        _run("iptables", "-N", FORWARD_CHAIN, check=False)
        _run("iptables", "-F", FORWARD_CHAIN)
        _run("iptables", "-A", FORWARD_CHAIN, "-i", BRIDGE, "!", "-o", BRIDGE, "-j", "DROP")
        if _run("iptables", "-C", "FORWARD", "-j", FORWARD_CHAIN, check=False).returncode != 0:
            _run("iptables", "-I", "FORWARD", "1", "-j", FORWARD_CHAIN)
        cni_dir = self.work_dir / "cni"
        cni_dir.mkdir(exist_ok=True)
        conflist = {
            "cniVersion": "1.0.0",
            "name": "supertest",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": BRIDGE,
                    "isGateway": True,
                    "isDefaultGateway": False,
                    "ipMasq": False,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": POD_SUBNET, "gateway": POD_GATEWAY}]],
                        # No default route: only the Service range and the node are reachable beyond the bridge.
                        "routes": [{"dst": SERVICE_CIDR}, {"dst": f"{NODE_IP}/32"}],
                        "dataDir": str(self.work_dir / "cni-ipam"),
                    },
                },
                {"type": "loopback"},
            ],
        }
        (cni_dir / "10-supertest.conflist").write_text(json.dumps(conflist, indent=1))
        (self.work_dir / "resolv.conf").write_text("# pods resolve through cluster DNS only\n")

    # ------------------------------------------------------------------------------------------- containerd
    def _start_containerd(self, deadline: float) -> None:
        config = f"""version = 2
root = "{CONTAINERD_ROOT}"
state = "{RUN_DIR / "containerd-state"}"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
                    "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{self.containerd_socket}"
[ttrpc]
  address = "{RUN_DIR / "containerd.sock.ttrpc"}"
[plugins."io.containerd.internal.v1.opt"]
  path = "{RUN_DIR / "opt"}"  # not /opt/containerd: nothing of the node stays on the host
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{self.images.pause}"
  # Root here lacks CAP_SYS_RESOURCE: containerd may only lower OOM scores.
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    # Images are imported, never pulled; a pull would fail (no registry is reachable) and must not be tried.
    discard_unpacked_layers = false
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{self.work_dir / "cni"}"
"""
        path = self.work_dir / "containerd.toml"
        path.write_text(config)
        self._spawn("containerd", ["--config", str(path), "--log-level", "warn"], binary=shutil.which("containerd"))
        self._wait("containerd", lambda: self.ctr("version", check=False).returncode == 0, deadline)
        # A killed session may have left sandboxes in the (kept) metadata store; they belong to no pod now.
        self._remove_all_containers()

    def ctr(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return _run(
            "ctr", f"--address={self.containerd_socket}", "--namespace=k8s.io", *args, check=check, timeout=timeout
        )

    def image_names(self) -> set[str]:
        return set(self.ctr("images", "ls", "-q").stdout.split())

    def import_images(self, archives: dict[str, Path]) -> list[str]:
        """Import each image whose name containerd does not know yet; returns the names imported. Names carry a
        hash of the image's inputs, so a known name is the same content."""
        imported = []
        present = self.image_names()
        # containerd's root is kept across sessions: drop our images of earlier builds, or every code change would
        # leave another gigabyte behind.
        stale = [n for n in present if n.startswith("localhost/") and n not in archives]
        if stale:
            self.ctr("images", "rm", *stale, check=False)
        present -= set(stale)
        for name, archive in archives.items():
            if name in present:
                continue
            began = time.monotonic()
            self.ctr("images", "import", str(archive))
            if name not in self.image_names():
                raise NodeError(
                    f"importing {archive} did not create {name}; containerd has {sorted(self.image_names())}"
                )
            print(f"[node] imported {name} in {time.monotonic() - began:.1f}s", file=sys.stderr)
            imported.append(name)
        return imported

    def _remove_all_containers(self) -> None:
        tasks = self.ctr("tasks", "ls", "-q", check=False).stdout.split()
        for task in tasks:
            self.ctr("tasks", "kill", "--signal=SIGKILL", "--all", task, check=False)
        for task in tasks:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.ctr("tasks", "delete", "--force", task, check=False, timeout=20)
        for container in self.ctr("containers", "ls", "-q", check=False).stdout.split():
            self.ctr("containers", "delete", container, check=False)

    # ------------------------------------------------------------------------------------------ credentials
    def _write_credentials(self) -> dict[str, Path]:
        assert self.cp.ca is not None
        pki = self.work_dir / "pki"
        pki.mkdir(exist_ok=True)
        crt, key = certs.issue(
            self.cp.ca, f"system:node:{NODE_NAME}", organizations=("system:nodes",), client=True
        ).write(pki, "kubelet-client")
        node_kubeconfig = write_kubeconfig(
            self.work_dir / "kubelet.kubeconfig",
            self.cp.server_url,
            self.cp.ca_path,
            {"client-certificate": str(crt), "client-key": str(key)},
        )
        # The control plane authorizes with RBAC only (no Node authorizer): bind the node role to the nodes group,
        # as kubeadm did before the Node authorizer existed.
        binding = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "supertest-system-nodes"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:node"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:nodes"}],
        }
        self.cp.kubectl("apply", "-f", "-", input=yaml.safe_dump(binding))
        return {"node": node_kubeconfig, "admin": self.cp.kubeconfig_path}

    # ----------------------------------------------------------------------------------------- components
    def _scheduler_args(self, kubeconfig: Path) -> list[str]:
        return [
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            "--secure-port=0",
            "--v=1",
        ]

    def _kubelet_args(self, kubeconfig: Path) -> list[str]:
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "address": NODE_IP,
            "port": self.ports["kubelet"],
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": self.ports["kubelet-healthz"],
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": True},
                "x509": {"clientCAFile": str(self.cp.ca_path)},
            },
            "authorization": {"mode": "Webhook"},
            "containerRuntimeEndpoint": f"unix://{self.containerd_socket}",
            # This machine: cgroup v1 (hybrid), no systemd as init, swap allowed.
            "cgroupDriver": "cgroupfs",
            "failCgroupV1": False,
            "failSwapOn": False,
            "clusterDNS": [DNS_IP],
            "clusterDomain": CLUSTER_DOMAIN,
            "resolvConf": str(self.work_dir / "resolv.conf"),
            "podLogsDir": str(self.pod_logs),
            # Imported images have no registry to come back from: never garbage-collect them, never evict for disk.
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
            "serializeImagePulls": False,
            "maxPods": 110,
            "nodeStatusUpdateFrequency": "2s",
            "syncFrequency": "5s",
        }
        path = self.work_dir / "kubelet.yaml"
        path.write_text(yaml.safe_dump(config))
        return [
            f"--config={path}",
            f"--kubeconfig={kubeconfig}",
            f"--root-dir={self.kubelet_root}",
            f"--node-ip={NODE_IP}",
            f"--hostname-override={NODE_NAME}",
            "--v=1",
        ]

    def _write_proxy_config(self, kubeconfig: Path) -> Path:
        config = {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(kubeconfig)},
            "mode": "iptables",
            "hostnameOverride": NODE_NAME,
            "clusterCIDR": POD_SUBNET,
            "healthzBindAddress": f"127.0.0.1:{self.ports['proxy-healthz']}",
            "metricsBindAddress": f"127.0.0.1:{self.ports['proxy-metrics']}",
            # 0 = leave the host's conntrack settings alone.
            "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
            # No NodePort on 127.0.0.1 (that would need route_localnet); NodePorts only on the node IP.
            "iptables": {"localhostNodePorts": False, "masqueradeAll": False},
            "nodePortAddresses": [f"{NODE_IP}/32"],
        }
        path = self.work_dir / "kube-proxy.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    def _write_corefile(self, kubeconfig: Path) -> Path:
        corefile = f""".:53 {{
    bind {NODE_IP}
    errors
    health 127.0.0.1:{self.ports["dns-health"]}
    ready 127.0.0.1:{self.ports["dns-ready"]}
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        kubeconfig {kubeconfig}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    cache 30
    loadbalance
}}
"""
        path = self.work_dir / "Corefile"
        path.write_text(corefile)
        return path

    def _publish_cluster_dns(self) -> None:
        """kube-system/kube-dns at DNS_IP, its endpoint the CoreDNS process on the node IP."""
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
            "spec": {
                "clusterIP": DNS_IP,
                "ports": [
                    {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                ],
            },
        }
        slice_ = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "kube-dns-node",
                "namespace": "kube-system",
                "labels": {"kubernetes.io/service-name": "kube-dns"},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [NODE_IP], "conditions": {"ready": True}}],
            "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP"},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
            ],
        }
        self.cp.kubectl("apply", "-f", "-", input=yaml.safe_dump_all([service, slice_]))

    def _spawn(self, name: str, args: list[str], binary: str | None = None) -> None:
        logs = self.work_dir / "logs"
        logs.mkdir(exist_ok=True)
        exe = binary or str(self.cp.bin_dir / name)
        with (logs / f"{name}.log").open("ab") as log:
            self.processes[name] = procs.spawn([exe, *args], label=name, log=log)

    def log_tail(self, name: str, lines: int = 30) -> str:
        try:
            return "\n".join((self.work_dir / "logs" / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _wait(self, what: str, ready: object, deadline: float) -> None:
        def check() -> bool:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise NodeError(f"{name} exited with {proc.returncode}; last log lines:\n{self.log_tail(name)}")
            return bool(ready())  # type: ignore[operator]

        try:
            wait_for(check, timeout=max(deadline - time.monotonic(), 0.1), interval=0.2, message=what)
        except AssertionError as exc:
            tails = "\n".join(f"--- {n} ---\n{self.log_tail(n, 15)}" for n in self.processes)
            raise NodeError(f"{exc}\n{tails}") from None

    # ------------------------------------------------------------------------------------------------ health
    def node_ready(self) -> bool:
        with self.cp.api_client() as api:
            try:
                node = k8s.CoreV1Api(api).read_node(NODE_NAME)
            except ApiException as exc:
                if exc.status == 404:
                    return False
                raise
        conditions = {c.type: c.status for c in (node.status.conditions or [])}
        taints = [t.key for t in (node.spec.taints or [])]
        return conditions.get("Ready") == "True" and "node.kubernetes.io/not-ready" not in taints

    def _coredns_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ports['dns-ready']}/ready", timeout=2) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    # -------------------------------------------------------------------------------------------------- stop
    def stop(self) -> list[str]:
        """Stop every component, remove what they made and restore the host; returns what still differs from
        the snapshot taken before start (empty when the machine is as it was)."""
        if self._stopped:
            return []
        self._stopped = True
        for name in ("kube-proxy", "coredns", "kube-scheduler"):
            if name in self.processes:
                procs.stop(self.processes[name])
        if "kubelet" in self.processes and "containerd" in self.processes:
            self._drain_pods()
        if "kubelet" in self.processes:
            procs.stop(self.processes["kubelet"])
        if "containerd" in self.processes:
            with contextlib.suppress(Exception):
                self._remove_all_containers()
            procs.stop(self.processes["containerd"])
        self.cp.stop()
        undo_host(self.work_dir, self.snapshot)
        diff = self.snapshot.diff(HostSnapshot.take(self.owned_prefixes(self.work_dir)))
        if self.lock_fd is not None:
            os.close(self.lock_fd)
            self.lock_fd = None
        return diff

    def _drain_pods(self, timeout: float = 40) -> None:
        """Delete every pod and let the kubelet stop them: that runs CNI DEL (veth, IP lease) and unmounts volumes
        the regular way. The scheduler is already stopped, so controllers' replacements stay Pending."""
        with contextlib.suppress(Exception), self.cp.api_client() as api:
            core = k8s.CoreV1Api(api)
            for pod in core.list_pod_for_all_namespaces().items:
                with contextlib.suppress(ApiException):
                    core.delete_namespaced_pod(pod.metadata.name, pod.metadata.namespace, grace_period_seconds=0)
            with contextlib.suppress(AssertionError):
                wait_for(
                    lambda: not self.ctr("tasks", "ls", "-q", check=False).stdout.split(),
                    timeout=timeout,
                    interval=0.5,
                    message="the kubelet stopping every pod",
                )

    def __enter__(self) -> RealNode:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def add_node_address() -> None:
    if f"{NODE_IP}/32" not in _run("ip", "-o", "addr", "show", "dev", "lo").stdout:
        _run("ip", "addr", "add", f"{NODE_IP}/32", "dev", "lo")


# ---------------------------------------------------------------------------------------------- host cleanup
def _kill_cgroup_members() -> None:
    for cgroup in kubepods_cgroups():
        for procs_file in Path(cgroup).rglob("cgroup.procs"):
            with contextlib.suppress(OSError):
                for pid in procs_file.read_text().split():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), signal.SIGKILL)


def _remove_cgroups() -> None:
    for cgroup in kubepods_cgroups():
        # Deepest first: a cgroup directory can be removed only when it has no children and no members.
        for d in sorted((p for p in Path(cgroup).rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):
                d.rmdir()
        with contextlib.suppress(OSError):
            Path(cgroup).rmdir()


def _kill_shims() -> None:
    """containerd's shims daemonize (they outlive containerd by design); ours are the ones with our socket."""
    marker = str(RUN_DIR).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"containerd-shim" in cmdline and marker in cmdline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGKILL)


def cleanup_host(work_dir: Path | None) -> None:
    """Remove everything a node (alive or dead) left: processes in pod cgroups, shims, mounts, network namespaces,
    the bridge, cgroups, log links and scratch directories. Safe to run when nothing is left."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        _kill_shims()
        _kill_cgroup_members()
        prefixes = RealNode.owned_prefixes(work_dir)
        # Deepest first; lazy unmount, because a dying process may still hold one for a moment.
        for point in sorted(mountpoints(prefixes), key=len, reverse=True):
            if point in ("/run/netns",):
                continue
            _run("umount", "-l", point, check=False)
        netns_dir = Path("/run/netns")
        if netns_dir.is_dir():
            for ns in netns_dir.glob("cni-*"):
                _run("ip", "netns", "delete", ns.name, check=False)
        _remove_cgroups()
        if not kubepods_cgroups() and not [p for p in mountpoints(prefixes) if p != "/run/netns"]:
            break
        time.sleep(0.2)  # processes killed above take a moment to leave their cgroups
    _run("ip", "link", "delete", BRIDGE, check=False)
    _run("ip", "addr", "delete", f"{NODE_IP}/32", "dev", "lo", check=False)
    if CONTAINER_LOG_LINKS.is_dir() and work_dir is not None:
        for link in CONTAINER_LOG_LINKS.iterdir():
            with contextlib.suppress(OSError):
                if link.is_symlink() and os.readlink(link).startswith(str(work_dir)):
                    link.unlink()
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    if work_dir is not None:
        shutil.rmtree(work_dir, ignore_errors=True)


def undo_host(work_dir: Path | None, before: HostSnapshot | None) -> None:
    """Remove what a node made and put the host back as `before` recorded it; the node is then no longer active.
    The one ending of a node, whether it stopped, failed to start or died with its session."""
    cleanup_host(work_dir)
    if before is not None:
        before.restore()
    ACTIVE.unlink(missing_ok=True)


def acquire_node_lock() -> int:
    """Wait (up to NODE_LOCK_WAIT_SECONDS) for the machine's node lock; returns the fd that holds it."""
    fd = os.open(NODE_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + NODE_LOCK_WAIT_SECONDS
    said = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                raise NodeError(f"another session held {NODE_LOCK} for {NODE_LOCK_WAIT_SECONDS:.0f} s") from None
            if not said:
                print(f"[node] another session runs the real node; waiting for {NODE_LOCK}", file=sys.stderr)
                said = True
            time.sleep(2.0)  # polling a lock: there is no event to wait on across processes


def reap_dead_node() -> None:
    """Undo what a node left when its session died (SIGKILL, lost machine) and restore the pristine host state."""
    if not ACTIVE.exists():
        return
    try:
        data = json.loads(ACTIVE.read_text())
    except (OSError, ValueError):
        data = {}
    owner = data.get("owner_pid")
    if owner and owner != os.getpid() and procs.is_running(int(owner)):
        raise NodeError(f"another session (pid {owner}) runs the real node; only one can run on a machine")
    for leftover in procs.reap_stale_sessions():
        print(f"[node] killed leftover from a dead session: {leftover}", file=sys.stderr)
    work_dir = Path(data["work_dir"]) if data.get("work_dir") else None
    undo_host(work_dir, HostSnapshot(**data["snapshot"]) if data.get("snapshot") else None)
    print("[node] cleaned up after a session that died with the node running", file=sys.stderr)
