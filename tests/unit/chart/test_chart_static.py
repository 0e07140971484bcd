"""The chart's files without helm: values conventions, documentation, schema and the CRD copy."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
import yaml

from tests.unit.chart.chartlib import CHART, CI_VALUES, REPO

COMPONENTS = ("api", "operator", "runner", "migrations", "postgres", "redis", "objectStore")
COMMON_KEYS = {
    "image",
    "resources",
    "securityContext",
    "podSecurityContext",
    "extraEnv",
    "nodeSelector",
    "tolerations",
    "affinity",
}


def load_script(name: str) -> ModuleType:
    path = CHART / "hack" / name
    spec = importlib.util.spec_from_file_location(name.replace("-", "_").removesuffix(".py"), path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return dict(yaml.safe_load((CHART / "values.yaml").read_text()))


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return dict(json.loads((CHART / "values.schema.json").read_text()))


@pytest.mark.parametrize("component", COMPONENTS)
def test_every_component_block_has_the_same_common_keys(values: dict[str, Any], component: str) -> None:
    block = values[component]
    assert set(block) >= COMMON_KEYS, f"{component} lacks {COMMON_KEYS - set(block)}"
    assert set(block["image"]) == {"repository", "tag", "pullPolicy"}


def test_schema_requires_the_common_keys_in_every_component(schema: dict[str, Any]) -> None:
    for component in COMPONENTS:
        required = set(schema["properties"][component]["required"])
        assert required >= COMMON_KEYS, component


def test_every_values_key_carries_a_comment() -> None:
    gen = load_script("check-values-comments.py")
    keys = gen.parse_keys((CHART / "values.yaml").read_text())
    assert len(keys) > 150  # the parser saw the whole file
    assert gen.undocumented(keys) == []


def test_comment_check_catches_an_undocumented_key() -> None:
    gen = load_script("check-values-comments.py")
    text = "# -- documented\na: 1\nb:\n  # -- documented\n  c: 2\nd:\n  e: 3\n"
    assert gen.undocumented(gen.parse_keys(text)) == ["b", "d", "d.e"]


def test_readme_is_what_helm_docs_generates() -> None:
    """helm-docs (built from the Go module proxy on first use) renders README.md from values.yaml and the template."""
    out = subprocess.run(
        ["bash", str(CHART / "hack" / "gen-readme.sh"), "--check"], capture_output=True, text=True, timeout=1800
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]


def test_readme_check_fails_on_a_stale_readme(tmp_path: Path) -> None:
    """A copy of the repository's layout (chart and helm-docs build scripts) with one description changed."""
    chart = tmp_path / "charts" / "supertest"
    shutil.copytree(CHART, chart)
    (tmp_path / "tests" / "k8s").mkdir(parents=True)
    for script in ("build-helm-docs.sh", "build-go-tool.sh"):
        shutil.copy(REPO / "tests" / "k8s" / script, tmp_path / "tests" / "k8s" / script)
    shutil.copytree(REPO / "tests" / "k8s" / "go" / "helm-docs", tmp_path / "tests" / "k8s" / "go" / "helm-docs")
    values = chart / "values.yaml"
    values.write_text(values.read_text().replace("# -- Override the chart name", "# -- Overrides the chart name"))
    out = subprocess.run(
        ["bash", str(chart / "hack" / "gen-readme.sh"), "--check"], capture_output=True, text=True, timeout=1800
    )
    assert out.returncode == 1
    assert '+| nameOverride | string | `""` | Overrides the chart name' in out.stdout
    assert "README.md is stale" in out.stderr


def test_chart_crds_are_identical_to_the_repository_crds() -> None:
    sources = sorted(p.name for p in (REPO / "crds").glob("*.yaml"))
    assert sources, "crds/ is empty"
    assert sorted(p.name for p in (CHART / "files" / "crds").glob("*.yaml")) == sources
    out = subprocess.run(
        [sys.executable, str(CHART / "hack" / "sync-crds.py"), "--check"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr


def _all_objects(node: Any, path: str = "#") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        if node.get("type") == "object" or (isinstance(node.get("type"), list) and "object" in node["type"]):
            found.append((path, node))
        for key, child in node.items():
            found += _all_objects(child, f"{path}/{key}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            found += _all_objects(child, f"{path}/{i}")
    return found


def test_schema_is_strict(schema: dict[str, Any]) -> None:
    jsonschema.Draft7Validator.check_schema(schema)
    loose = [
        path
        for path, node in _all_objects(schema)
        # Open maps (labels, annotations, resource lists, nodeSelector) constrain their values instead.
        if "properties" in node and node.get("additionalProperties") is not False
    ]
    assert loose == []


@pytest.mark.parametrize("values_file", [CHART / "values.yaml", *CI_VALUES], ids=lambda p: Path(p).name)
def test_values_files_validate(schema: dict[str, Any], values_file: Path) -> None:
    merged = yaml.safe_load((CHART / "values.yaml").read_text())
    _merge(merged, yaml.safe_load(values_file.read_text()) or {})
    errors = [f"{e.json_path}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(merged)]
    assert errors == []


def _merge(base: dict[str, Any], override: dict[str, Any]) -> None:
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def test_ci_values_cover_the_required_scenarios() -> None:
    assert [p.name for p in CI_VALUES] == [
        "cluster-wide-rbac-values.yaml",
        "default-values.yaml",
        "external-services-values.yaml",
        "ingress-metrics-values.yaml",
        "real-node-values.yaml",  # the release tests/e2e/kubelet/test_chart_release.py installs on the real node
    ]


def test_chart_metadata() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["kubeVersion"].startswith(">=")
    assert chart["type"] == "application"
