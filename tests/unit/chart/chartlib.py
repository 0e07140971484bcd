"""Helpers for the chart tests: the helm binary (built from the Go proxy and cached), rendering, manifest lookups."""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "charts" / "supertest"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
BUILD_HELM = REPO / "tests" / "k8s" / "build-helm.sh"
RELEASE = "st"

Manifest = dict[str, Any]


@functools.cache
def helm_binary() -> Path:
    """build-helm.sh prints the binary's path last; a warm cache answers in well under a second."""
    out = subprocess.run(["bash", str(BUILD_HELM)], capture_output=True, text=True, timeout=3000)
    assert out.returncode == 0, f"build-helm.sh failed:\n{out.stderr[-4000:]}"
    path = Path(out.stdout.strip().splitlines()[-1])
    assert path.is_file(), path
    return path


def helm(
    *args: str, check: bool = True, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([str(helm_binary()), *args], capture_output=True, text=True, timeout=timeout, env=env)
    if check:
        assert out.returncode == 0, f"helm {' '.join(args)} failed:\n{out.stderr}"
    return out


def template_args(
    namespace: str = "supertest",
    values_files: Iterable[Path] = (),
    sets: Sequence[str] = (),
    release: str = RELEASE,
) -> list[str]:
    args = ["template", release, str(CHART), "--namespace", namespace]
    for f in values_files:
        args += ["-f", str(f)]
    for s in sets:
        args += ["--set", s]
    return args


def render_text(
    namespace: str = "supertest", values_files: Iterable[Path] = (), sets: Sequence[str] = (), release: str = RELEASE
) -> str:
    return helm(*template_args(namespace, values_files, sets, release)).stdout


def render(
    namespace: str = "supertest", values_files: Iterable[Path] = (), sets: Sequence[str] = (), release: str = RELEASE
) -> list[Manifest]:
    return [d for d in yaml.safe_load_all(render_text(namespace, values_files, sets, release)) if d]


def find(manifests: Iterable[Manifest], kind: str, name: str | None = None) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)]


def one(manifests: Iterable[Manifest], kind: str, name: str) -> Manifest:
    found = find(manifests, kind, name)
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def container_env(deployment: Manifest, container: str | None = None) -> dict[str, Any]:
    """name -> value (a string) or valueFrom (a dict) of a workload's container."""
    containers = deployment["spec"]["template"]["spec"]["containers"]
    c = containers[0] if container is None else next(c for c in containers if c["name"] == container)
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


def split_crds(manifests: Iterable[Manifest]) -> tuple[list[Manifest], list[Manifest]]:
    crds, rest = [], []
    for m in manifests:
        (crds if m["kind"] == "CustomResourceDefinition" else rest).append(m)
    return crds, rest
