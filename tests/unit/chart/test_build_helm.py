"""tests/k8s/build-helm.sh: cached by version, a warm run is near-instant, the binary's path is the last line."""

from __future__ import annotations

import re
import subprocess
import time

import pytest

from tests.unit.chart.chartlib import BUILD_HELM, REPO, helm_binary

# A cold build compiles helm from the Go proxy (minutes on 2 cores).
pytestmark = pytest.mark.timeout(1800)


def pinned_version() -> str:
    gomod = (REPO / "tests" / "k8s" / "go" / "helm" / "go.mod").read_text()
    match = re.search(r"^\s*(?:require\s+)?helm\.sh/helm/v3 (v3\.\d+\.\d+)\s*$", gomod, re.MULTILINE)
    assert match, "go.mod must pin helm.sh/helm/v3"
    return match.group(1)


def test_warm_run_is_fast_and_prints_the_binary_last() -> None:
    built = helm_binary()  # builds once if the cache is cold
    started = time.monotonic()
    out = subprocess.run(["bash", str(BUILD_HELM)], capture_output=True, text=True, timeout=60, check=True)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"warm run took {elapsed:.2f}s"
    assert out.stdout.strip().splitlines()[-1] == str(built)
    assert "is cached" in out.stderr
    version = pinned_version()
    assert f"/helm/{version}/bin/helm" in str(built)
    reported = subprocess.run([str(built), "version", "--short"], capture_output=True, text=True, check=True)
    assert reported.stdout.startswith(version)


def test_helm_assumes_the_kubernetes_version_of_its_client_libraries() -> None:
    """The ldflags replace helm's stale built-in default (v1.20), which the chart's kubeVersion would refuse."""
    chart = str(REPO / "charts" / "supertest")
    show = ["--show-only", "templates/api/serviceaccount.yaml"]
    default = subprocess.run([str(helm_binary()), "template", "x", chart, *show], capture_output=True, text=True)
    assert default.returncode == 0, default.stderr
    old = subprocess.run(
        [str(helm_binary()), "template", "x", chart, *show, "--kube-version", "1.28.0"], capture_output=True, text=True
    )
    assert old.returncode != 0
    assert "chart requires kubeVersion" in old.stderr


def test_helm_docs_is_built_by_the_same_go_tool_script_and_reports_its_pinned_version() -> None:
    """build-helm-docs.sh shares build-go-tool.sh with helm: cached by version, the binary's path last."""
    script = REPO / "tests" / "k8s" / "build-helm-docs.sh"
    gomod = (REPO / "tests" / "k8s" / "go" / "helm-docs" / "go.mod").read_text()
    match = re.search(r"^require github\.com/norwoodj/helm-docs (v\d+\.\d+\.\d+)$", gomod, re.MULTILINE)
    assert match, "go.mod must pin github.com/norwoodj/helm-docs"
    first = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=1800, check=True)
    binary = first.stdout.strip().splitlines()[-1]
    assert binary.endswith(f"/helm-docs/{match.group(1)}/bin/helm-docs")
    again = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=60, check=True)
    assert "is cached" in again.stderr
    reported = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
    assert reported.stdout.strip() == f"helm-docs version {match.group(1).removeprefix('v')}"
