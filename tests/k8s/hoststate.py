"""What a real kubelet, kube-proxy and containerd change on this machine, recorded before and put back after.

A kubelet is not a polite guest: it sets sysctls (vm.overcommit_memory, kernel.panic, ...), creates iptables
chains, cgroups, mounts and network namespaces, and kube-proxy writes NAT rules. The e2e tier runs one on the
developer's own machine, so `tests/k8s/node.py` records a `HostSnapshot` before the node starts, restores it on
teardown, and `diff()` proves nothing is left. The snapshot is also kept on disk while the node runs, so a
session killed midway is undone by the next one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

# Every sysctl the kubelet, kube-proxy or the node fixture itself may write (kubelet: setupKernelTunables;
# kube-proxy: conntrack and route_localnet; fixture: forwarding and bridge netfilter for Service hairpins).
SYSCTLS = (
    "vm.overcommit_memory",
    "vm.panic_on_oom",
    "kernel.panic",
    "kernel.panic_on_oops",
    "kernel.keys.root_maxkeys",
    "kernel.keys.root_maxbytes",
    "net.ipv4.ip_forward",
    "net.ipv4.conf.all.forwarding",
    "net.ipv4.conf.all.route_localnet",
    "net.ipv6.conf.all.forwarding",
    "net.bridge.bridge-nf-call-iptables",
    "net.bridge.bridge-nf-call-ip6tables",
    "net.netfilter.nf_conntrack_max",
    "net.netfilter.nf_conntrack_tcp_timeout_established",
    "net.netfilter.nf_conntrack_tcp_timeout_close_wait",
)
# iptables front ends: Debian's default is the nf_tables one; the legacy one is checked too, because a component
# that picks the other backend would otherwise leave rules behind unseen.
SAVE_COMMANDS = ("iptables-save", "ip6tables-save", "iptables-legacy-save", "ip6tables-legacy-save")
_COUNTERS = re.compile(r"\[\d+:\d+\]")


def sysctl_path(name: str) -> Path:
    return Path("/proc/sys") / name.replace(".", "/")


def read_sysctls() -> dict[str, str]:
    values = {}
    for name in SYSCTLS:
        try:
            values[name] = sysctl_path(name).read_text().strip()
        except OSError:  # module not loaded (e.g. nf_conntrack before anything used it): nothing to restore
            continue
    return values


def write_sysctl(name: str, value: str) -> None:
    sysctl_path(name).write_text(value)


def iptables_save(command: str) -> str | None:
    """The ruleset as `command` prints it, counters and comments removed; None when the tool is missing."""
    if shutil.which(command) is None:
        return None
    out = subprocess.run([command], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return None
    lines = [_COUNTERS.sub("[]", line) for line in out.stdout.splitlines() if line and not line.startswith("#")]
    return "\n".join(lines) + "\n"


def _tables(ruleset: str) -> dict[str, list[str]]:
    tables: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in ruleset.splitlines():
        if line.startswith("*"):
            current = tables.setdefault(line[1:], [])
        elif line != "COMMIT" and current is not None:
            current.append(line)
    return tables


def effective_rules(ruleset: str) -> dict[str, list[str]]:
    """Tables that hold something: a table with only its built-in chains at policy ACCEPT and no rule is the same
    as no table (iptables-nft keeps an emptied table around)."""
    return {
        name: lines
        for name, lines in _tables(ruleset).items()
        if any(not (line.startswith(":") and line.endswith(" ACCEPT []")) for line in lines)
    }


def mountpoints(prefixes: tuple[str, ...] = ("/",)) -> list[str]:
    """Mount points under any of `prefixes` (the node's own directories: other tools may mount elsewhere)."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if any(point == p.rstrip("/") or point.startswith(p.rstrip("/") + "/") for p in prefixes):
            points.append(point)
    return points


def netns_names() -> list[str]:
    try:
        return sorted(os.listdir("/run/netns"))
    except FileNotFoundError:
        return []


def link_names() -> list[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    return sorted(line.split(":")[1].strip().split("@")[0] for line in out.splitlines())


def loopback_addresses() -> list[str]:
    out = subprocess.run(["ip", "-o", "addr", "show", "dev", "lo"], capture_output=True, text=True, check=True)
    return sorted(line.split()[3] for line in out.stdout.splitlines())


def cgroup_hierarchies() -> list[Path]:
    """Each mounted cgroup hierarchy (v1 controllers, plus the v2 unified one on hybrid hosts)."""
    roots = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        fstype = fields[fields.index("-") + 1]
        if fstype in ("cgroup", "cgroup2"):
            roots.append(Path(fields[4]))
    return sorted(set(roots))


def kubepods_cgroups() -> list[str]:
    return sorted(str(root / "kubepods") for root in cgroup_hierarchies() if (root / "kubepods").exists())


@dataclass
class HostSnapshot:
    sysctls: dict[str, str]
    iptables: dict[str, str] = field(default_factory=dict)
    mounts: list[str] = field(default_factory=list)
    netns: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    lo_addresses: list[str] = field(default_factory=list)
    kubepods: list[str] = field(default_factory=list)

    @classmethod
    def take(cls, mount_prefixes: tuple[str, ...]) -> HostSnapshot:
        rulesets = {cmd: iptables_save(cmd) for cmd in SAVE_COMMANDS}
        return cls(
            sysctls=read_sysctls(),
            iptables={cmd: rules for cmd, rules in rulesets.items() if rules is not None},
            mounts=sorted(set(mountpoints(mount_prefixes))),
            netns=netns_names(),
            links=link_names(),
            lo_addresses=loopback_addresses(),
            kubepods=kubepods_cgroups(),
        )

    def restore(self) -> None:
        """Put back what the node may have changed: the sysctls and every iptables ruleset."""
        self.restore_sysctls()
        self.restore_iptables()

    def restore_sysctls(self) -> None:
        current = read_sysctls()
        for name, value in self.sysctls.items():
            if current.get(name) != value:
                write_sysctl(name, value)

    def restore_iptables(self) -> None:
        """Put every ruleset back as it was; tables that did not exist before are flushed and their chains
        deleted (iptables-restore only rewrites the tables named in its input)."""
        for save_cmd, before in self.iptables.items():
            after = iptables_save(save_cmd)
            if after is None or effective_rules(after) == effective_rules(before):
                continue
            base = save_cmd.removesuffix("-save")
            extra_tables = set(_tables(after)) - set(_tables(before))
            for table in sorted(extra_tables):
                subprocess.run([base, "-t", table, "-F"], check=True, capture_output=True)
                subprocess.run([base, "-t", table, "-X"], check=True, capture_output=True)
            subprocess.run([f"{base}-restore"], input=before, text=True, check=True, capture_output=True)

    def diff(self, other: HostSnapshot) -> list[str]:
        """What differs between this snapshot (before) and `other` (after), in words; empty when the same."""
        problems = []
        for name, value in self.sysctls.items():
            if other.sysctls.get(name, value) != value:
                problems.append(f"sysctl {name}: {value} before, {other.sysctls[name]} after")
        for cmd, rules in self.iptables.items():
            if effective_rules(other.iptables.get(cmd, rules)) != effective_rules(rules):
                problems.append(f"{cmd}: rules differ:\n{_ruleset_diff(rules, other.iptables.get(cmd, ''))}")
        for label, before, after in (
            ("mount", self.mounts, other.mounts),
            ("netns", self.netns, other.netns),
            ("link", self.links, other.links),
            ("lo address", self.lo_addresses, other.lo_addresses),
            ("kubepods cgroup", self.kubepods, other.kubepods),
        ):
            problems += [f"{label} left behind: {item}" for item in sorted(set(after) - set(before))]
            problems += [f"{label} gone: {item}" for item in sorted(set(before) - set(after))]
        return problems


def _ruleset_diff(before: str, after: str) -> str:
    b, a = effective_rules(before), effective_rules(after)
    lines = []
    for table in sorted(set(a) | set(b)):
        added = [line for line in a.get(table, []) if line not in b.get(table, [])]
        removed = [line for line in b.get(table, []) if line not in a.get(table, [])]
        lines += [f"  *{table} + {line}" for line in added] + [f"  *{table} - {line}" for line in removed]
    return "\n".join(lines[:40])
