"""The container images, built for real by scripts/build-images.sh (buildah, no Docker engine) and run with podman.

The build is cached by the hash of each image's inputs, so after the first (cold, minutes) build this costs seconds.
Nothing here skips: without buildah/podman the script fails, and so does this module.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.unit.chart.chartlib import REPO

# A cold build of both images on a loaded 2-core machine takes several minutes; the cached one, seconds.
pytestmark = pytest.mark.timeout(3600)

BUILD_SCRIPT = REPO / "scripts" / "build-images.sh"
CONTAINERS_CONF = REPO / "scripts" / "images" / "containers.conf"
# Both images are meant to run like this in a pod: read-only root, scratch space only on emptyDirs.
LOCKED_DOWN = ["--rm", "--network", "none", "--read-only", "--tmpfs", "/tmp", "--tmpfs", "/work"]

PASSING = """
import { test, expect } from '@playwright/test';
test('shows the heading', async ({ page }) => {
  await page.setContent('<h1>Supertest</h1>');
  await expect(page.locator('h1')).toHaveText('Supertest');
});
"""


def _env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def podman(*args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, env=_env())
    if check:
        assert out.returncode == 0, f"podman {' '.join(args)} exited {out.returncode}:\n{out.stdout}\n{out.stderr}"
    return out


@pytest.fixture(scope="module")
def images() -> dict[str, str]:
    """Build (or find cached) every image; the script's stdout is the KEY=VALUE contract."""
    out = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=3000, env=_env())
    assert out.returncode == 0, f"scripts/build-images.sh failed ({out.returncode}):\n{out.stderr[-6000:]}"
    contract = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    for key in ("SUPERTEST_IMAGE", "RUNNER_IMAGE", "PAUSE_IMAGE"):
        assert contract.get(key, "").startswith("localhost/"), contract
        assert contract.get(f"{key}_ID"), f"{key} was not built: {contract}"
    return contract


def test_the_contract_is_stable_and_also_written_to_the_cache(images: dict[str, str]) -> None:
    printed = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--print-env"], capture_output=True, text=True, timeout=120, env=_env(), check=True
    ).stdout
    assert dict(line.split("=", 1) for line in printed.splitlines()) == images
    cache = Path(os.environ.get("SUPERTEST_CACHE", Path.home() / ".cache" / "supertest"))
    assert (cache / "images" / "current.env").read_text() == printed


@pytest.mark.parametrize("key", ["SUPERTEST_IMAGE", "RUNNER_IMAGE", "PAUSE_IMAGE"])
def test_each_image_is_exported_as_an_oci_archive_naming_its_tag(images: dict[str, str], key: str) -> None:
    # What `ctr -n k8s.io images import` reads: an OCI layout whose index names the image.
    with tarfile.open(images[f"{key}_ARCHIVE"]) as archive:
        index = json.load(archive.extractfile("index.json"))  # type: ignore[arg-type]
    names = [m.get("annotations", {}).get("org.opencontainers.image.ref.name") for m in index["manifests"]]
    assert any(images[key].endswith(str(name)) for name in names), names


def test_runner_runs_as_uid_1000_on_a_read_only_root(images: dict[str, str]) -> None:
    out = podman("run", *LOCKED_DOWN, images["RUNNER_IMAGE"], "sh", "-c", "id -u; id -g; touch /probe || echo RO")
    assert out.stdout.split() == ["1000", "1000", "RO"], out.stdout + out.stderr


def test_runner_carries_no_build_tools_no_apt_lists_and_no_docs(images: dict[str, str]) -> None:
    script = (
        "for t in npm npx gcc cc g++ make pip pip3 apt-get curl; do command -v $t && echo HAS $t; done;"
        "ls -A /var/lib/apt/lists | grep -v '^lock$' | grep -v '^partial$' && echo HAS apt-lists;"
        "find /usr/share/doc -type f ! -name copyright | head -n 3 | sed 's/^/HAS /';"
        "find /usr/share/man /usr/share/locale -type f | head -n 3 | sed 's/^/HAS /';"
        "true"
    )
    out = podman("run", *LOCKED_DOWN, images["RUNNER_IMAGE"], "sh", "-c", script)
    found = [line for line in out.stdout.splitlines() if line.startswith("HAS ")]
    # apt-get itself is part of Debian's minbase (Priority: required); only its lists and caches must be gone.
    assert found in ([], ["HAS apt-get"]), out.stdout


def test_runner_tools_answer(images: dict[str, str]) -> None:
    out = podman(
        "run", *LOCKED_DOWN, images["RUNNER_IMAGE"], "sh", "-c",
        "chromium --version && node --version && ffmpeg -hide_banner -version | head -n 1"
        " && python3 -m supertest_runner --help",
    )  # fmt: skip
    assert "Chromium 156" in out.stdout, out.stdout
    assert "v20." in out.stdout, out.stdout
    assert "SUPERTEST_RUN_ID" in out.stdout, out.stdout


@pytest.mark.browser
def test_runner_image_runs_a_playwright_test_offline_with_video(images: dict[str, str], tmp_path: Path) -> None:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "heading.spec.ts").write_text(PASSING)
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    artifacts.chmod(0o777)  # the container's uid 1000 writes here
    out = podman(
        "run", *LOCKED_DOWN, "--tmpfs", "/dev/shm",
        "-v", f"{scripts}:/scripts:ro", "-v", f"{artifacts}:/artifacts",
        "-e", "SUPERTEST_RUN_ID=image-smoke", "-e", "SUPERTEST_SCRIPTS_DIR=/scripts", "-e", "ARTIFACTS_DIR=/artifacts",
        images["RUNNER_IMAGE"],
        timeout=300, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 passed" in out.stdout, out.stdout
    run_dir = artifacts / "test" / "runs" / "image-smoke"
    assert (run_dir / "report" / "index.html").is_file()
    assert json.loads((run_dir / "results.json").read_text())
    # PW_VIDEO defaults to on: the video proves the image's own minimal ffmpeg encodes what Playwright sends it.
    videos = list((run_dir / "report").rglob("*.webm"))
    assert videos, sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*"))
    assert videos[0].read_bytes()[:4] == b"\x1a\x45\xdf\xa3"  # EBML: a Matroska/WebM file, not an empty stub


def test_app_image_runs_as_uid_10001_and_has_the_cli(images: dict[str, str]) -> None:
    out = podman("run", *LOCKED_DOWN, images["SUPERTEST_IMAGE"], "sh", "-c", "id -u && supertest --help")
    assert out.stdout.splitlines()[0] == "10001", out.stdout
    assert "migrate" in out.stdout, out.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def app_url(images: dict[str, str]) -> Iterator[str]:
    """`supertest api` in local mode from the app image (read-only root, SQLite on its /tmp), on a free port."""
    port = _free_port()
    name = f"supertest-image-test-{port}"
    podman(
        "run", "-d", "--name", name, "--network", "host", "--read-only", "--tmpfs", "/tmp",
        "-e", "SUPERTEST_HOST=127.0.0.1", "-e", f"SUPERTEST_PORT={port}",
        images["SUPERTEST_IMAGE"], "sh", "-c", "supertest migrate && exec supertest api",
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            logs = podman("logs", name, check=False)
            assert time.monotonic() < deadline, f"the API did not start:\n{logs.stdout}\n{logs.stderr}"
            time.sleep(0.3)
        yield url
    finally:
        podman("rm", "-f", "-t", "2", name, check=False)


def test_app_image_serves_the_built_ui(app_url: str) -> None:
    page = httpx.get(f"{app_url}/", timeout=10)
    # Without a build the API answers 503 with a page naming scripts/build-ui.sh.
    assert page.status_code == 200, page.text[:500]
    assert "<title>Supertest</title>" in page.text
    assert "build-ui.sh" not in page.text
