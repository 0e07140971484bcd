"""The chart's template layout: templates/<component>/<kind>.yaml, one kind per file (issue #14).

Checked on rendered output, so a template that starts emitting a second kind fails here, not in review.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from tests.unit.chart.chartlib import CHART, CI_VALUES, render_text

# Every optional template on: peering (kopf CRD, lease Role), webhook (ClusterRole), PDBs, ingress, metrics,
# persistence, helm test. Cluster-wide turns role.yaml into a ClusterRole, which the naming rule allows.
EVERYTHING_ON = [
    "operator.replicas=2",
    "operator.webhook.enabled=true",
    "api.replicas=2",
    "api.ingress.enabled=true",
    "metrics.serviceMonitor.enabled=true",
    "postgres.persistence.enabled=true",
    "helmTest.enabled=true",
]
SOURCE = re.compile(r"^# Source: supertest/(\S+)$", re.MULTILINE)
COMPONENTS = {"api", "operator", "runner", "bundled", "buckets", "migrations", "crds", "shared", "tests"}


def kinds_by_file(text: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for doc in text.split("\n---\n"):
        source = SOURCE.search(doc)
        body = yaml.safe_load(doc)
        if source and body:
            found[source.group(1)].add(body["kind"])
    return found


def kind_named_by(path: str) -> str:
    """postgres-statefulset.yaml -> statefulset; role.yaml -> role."""
    return Path(path).stem.rsplit("-", 1)[-1]


@pytest.mark.parametrize(
    ("values_files", "sets"),
    [([], []), *(([f], []) for f in CI_VALUES), ([], EVERYTHING_ON), ([], [*EVERYTHING_ON, "rbac.clusterWide=true"])],
    ids=["defaults", *(f.name for f in CI_VALUES), "everything-on", "everything-on-cluster-wide"],
)
def test_each_template_file_renders_one_kind_named_by_its_file(values_files: list[Path], sets: list[str]) -> None:
    files = kinds_by_file(render_text(values_files=values_files, sets=sets))
    assert files, "nothing rendered"
    for path, kinds in files.items():
        parts = Path(path).parts
        assert len(parts) == 3 and parts[0] == "templates" and parts[1] in COMPONENTS, path
        assert len(kinds) == 1, f"{path} renders {sorted(kinds)}"
        (kind,) = kinds
        # role.yaml holds a ClusterRole when rbac.clusterWide (and kopfpeering.yaml a ClusterKopfPeering).
        assert kind_named_by(path) in {kind.lower(), kind.lower().removeprefix("cluster")}, f"{path} renders a {kind}"


def test_no_template_sits_outside_a_component_folder() -> None:
    top = sorted(p.name for p in (CHART / "templates").iterdir() if p.is_file())
    assert top == ["NOTES.txt", "_helpers.tpl"]
