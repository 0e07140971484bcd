"""skaffold.yaml validates against the JSON schema of the apiVersion it declares.

The schema ships in skaffold's Go module (docs-v2/content/en/schemas/<version>.json, ~240 kB). It is read
from the Go module cache under ${SUPERTEST_CACHE:-~/.cache/supertest}/go, downloaded once from the Go proxy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.unit.chart.chartlib import REPO

# The first test of a fresh machine builds helm from the Go proxy (build-helm.sh, minutes on 2 cores)
# or downloads a Go module; the project's default per-test timeout is too short for that one cold start.
pytestmark = pytest.mark.timeout(1800)

# The newest skaffold v2 release the Go proxy serves here; its latest schema is skaffold/v4beta13.
SKAFFOLD_MODULE = "github.com/GoogleContainerTools/skaffold/v2@v2.16.1"


@cache
def schema_for(api_version: str) -> dict[str, Any]:
    go = shutil.which("go") or "/usr/local/go/bin/go"
    cache_root = Path(os.environ.get("SUPERTEST_CACHE", Path.home() / ".cache" / "supertest"))
    env = {
        **os.environ,
        "GOPATH": str(cache_root / "go"),
        "GOCACHE": str(cache_root / "go-build"),
        "GOTOOLCHAIN": "local",
        "GOFLAGS": "-mod=mod",
    }
    out = subprocess.run(
        [go, "mod", "download", "-json", SKAFFOLD_MODULE], capture_output=True, text=True, env=env, timeout=900
    )
    assert out.returncode == 0, f"go mod download {SKAFFOLD_MODULE} failed:\n{out.stdout}\n{out.stderr}"
    module_dir = Path(json.loads(out.stdout)["Dir"])
    path = module_dir / "docs-v2" / "content" / "en" / "schemas" / f"{api_version.removeprefix('skaffold/')}.json"
    assert path.is_file(), f"{SKAFFOLD_MODULE} has no schema for {api_version}"
    return dict(json.loads(path.read_text()))


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return dict(yaml.safe_load((REPO / "skaffold.yaml").read_text()))


def errors(schema: dict[str, Any], document: dict[str, Any]) -> list[str]:
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{e.json_path}: {e.message[:200]}" for e in validator.iter_errors(document)]


def test_skaffold_yaml_validates_against_its_schema(config: dict[str, Any]) -> None:
    assert errors(schema_for(config["apiVersion"]), config) == []


def test_schema_check_catches_a_typo(config: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(config))
    broken["build"]["artifacts"][0]["dockerr"] = broken["build"]["artifacts"][0].pop("docker")
    assert errors(schema_for(config["apiVersion"]), broken)


def test_builds_both_images_and_deploys_the_chart(config: dict[str, Any]) -> None:
    dockerfiles = {a["docker"]["dockerfile"] for a in config["build"]["artifacts"]}
    assert dockerfiles == {"Dockerfile", "runner-image/Dockerfile"}
    release = config["manifests"]["helm"]["releases"][0]
    assert release["chartPath"] == "charts/supertest"
    dev = next(p for p in config["profiles"] if p["name"] == "dev")
    dev_values = dev["patches"][0]["value"]
    assert all(dev_values[f"{s}.enabled"] for s in ("postgres", "redis", "objectStore"))
