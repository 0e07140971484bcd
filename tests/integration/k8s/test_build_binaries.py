"""build-binaries.sh: the cached run is fast, and a failing Go proxy fails loudly, naming the step."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.k8s.controlplane import BUILD_SCRIPT, BuildError, ControlPlane, ensure_binaries


def test_cached_run_takes_seconds(control_plane: ControlPlane) -> None:
    began = time.monotonic()
    result = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, check=True)
    elapsed = time.monotonic() - began
    assert "are cached in" in result.stderr
    assert elapsed < 5, f"cached build-binaries.sh run took {elapsed:.1f}s"


def test_proxy_failure_names_the_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An empty cache root and no network access to modules: the first download step must fail.
    monkeypatch.setenv("SUPERTEST_CACHE", str(tmp_path))
    monkeypatch.setenv("GOPROXY", "off")
    with pytest.raises(BuildError) as exc:
        ensure_binaries()
    assert "[k8s] FAILED: downloading etcd" in str(exc.value)
    assert "from the Go proxy" in str(exc.value)
    bin_dirs = list(tmp_path.glob("k8s/*/bin"))
    assert bin_dirs == [], "a failed build must not publish a bin dir"
