from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from supertest_api.kubernetes.launcher import queue_full_from

from supertest.admission import QueueFull
from supertest.kube.client import KubeError
from supertest.kube.counting import count_waiting, pod_is_live
from supertest.kube.manifests import run_manifest
from supertest.kube.models import (
    MAX_JOB_TESTS,
    MAX_RUN_SCRIPT_BYTES,
    MAX_SCRIPT_LENGTH,
    human_duration,
    parse_spec,
)
from supertest.launch import RunRequest, ScriptSpec
from supertest.sharding import MAX_SHARDS, MIN_SHARDS

REPO = Path(__file__).resolve().parents[3]


def test_counting() -> None:
    runs = [
        {"metadata": {}, "spec": {}, "status": {}},
        {"metadata": {}, "spec": {}, "status": {"phase": "Queued"}},
        {"metadata": {}, "spec": {"cancel": True}, "status": {"phase": "Queued"}},
        {"metadata": {"deletionTimestamp": "x"}, "spec": {}, "status": {"phase": "Queued"}},
        {"metadata": {}, "spec": {}, "status": {"phase": "Running"}},
    ]
    assert count_waiting(runs) == 2
    assert pod_is_live({"status": {"phase": "Pending"}}) and not pod_is_live({"status": {"phase": "Failed"}})


def test_run_manifests_from_api_requests() -> None:
    test = RunRequest(
        kind="test",
        scripts=(ScriptSpec("login", "s", "typescript"),),
        title="Login",
        priority=3,
        timeout_seconds=60,
        env={"BASE_URL": "http://x"},
        test_id="t1",
    )
    manifest = run_manifest("tr-abc", test)
    assert manifest["kind"] == "TestRun" and manifest["metadata"]["labels"] == {"supertest.dev/trigger": "api"}
    assert manifest["spec"]["script"] == "s" and manifest["spec"]["language"] == "typescript"
    assert manifest["spec"]["testId"] == "t1" and manifest["spec"]["env"] == [{"name": "BASE_URL", "value": "http://x"}]
    parse_spec("test", manifest["spec"])  # what the operator will accept
    job = RunRequest(kind="job", scripts=(ScriptSpec("A test!", "1"), ScriptSpec("A test!", "2")), job_id="j1")
    jm = run_manifest("jr-abc", job)
    assert [t["name"] for t in jm["spec"]["tests"]] == ["01-A-test", "02-A-test"]
    assert jm["metadata"]["annotations"]["supertest.dev/job-id"] == "j1"
    parse_spec("job", jm["spec"])


def test_webhook_denial_maps_to_queue_full() -> None:
    text = str(QueueFull(10, 10))
    error = KubeError(429, "TooManyRequests", f'admission webhook "x" denied the request: {text}')
    full = queue_full_from(error)
    assert full is not None and (full.queued, full.capacity) == (10, 10) and str(full) == text
    assert queue_full_from(KubeError(500, "x", text)) is None
    assert queue_full_from(KubeError(403, "Forbidden", "no")) is None


def test_human_duration() -> None:
    assert [human_duration(ms) for ms in (5, 1500, 65_000, 3_720_000)] == ["5ms", "1s", "1m5s", "1h2m"]


@pytest.mark.parametrize("crd", ["testrun.yaml", "jobrun.yaml"])
def test_crds_are_typed_and_complete(crd: str) -> None:
    doc = yaml.safe_load((REPO / "crds" / crd).read_text())
    assert "x-kubernetes-preserve-unknown-fields" not in (REPO / "crds" / crd).read_text()
    version = doc["spec"]["versions"][0]
    assert doc["spec"]["group"] == "supertest.dev" and version["name"] == "v1alpha1"
    assert doc["spec"]["names"]["categories"] == ["supertest"]
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"] if not c.get("priority")]
    assert columns == ["Phase", "Passed", "Failed", "Shards", "Duration", "Age"]
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
    assert set(status["phase"]["enum"]) == {
        "Queued",
        "Starting",
        "Running",
        "Passed",
        "Failed",
        "Error",
        "Cancelled",
        "TimedOut",
    }
    for field in (
        "conditions",
        "queuedAt",
        "startTime",
        "completionTime",
        "podName",
        "attempts",
        "reportURL",
        "summary",
        "message",
        "observedGeneration",
    ):
        assert field in status


def _spec_schema(crd: str) -> dict[str, Any]:
    doc = yaml.safe_load((REPO / "crds" / crd).read_text())
    return dict(doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"])


def test_limits_the_api_checks_are_the_crds() -> None:
    """The API refuses up front what the CRD would refuse; these constants are its copy of the CRD's limits."""
    jobrun = _spec_schema("jobrun.yaml")
    assert jobrun["tests"]["maxItems"] == MAX_JOB_TESTS
    assert jobrun["tests"]["items"]["properties"]["script"]["maxLength"] == MAX_SCRIPT_LENGTH
    testjob = _spec_schema("testjob.yaml")
    assert testjob["tests"]["maxItems"] == MAX_JOB_TESTS
    assert _spec_schema("testrun.yaml")["script"]["maxLength"] == MAX_SCRIPT_LENGTH
    assert MAX_RUN_SCRIPT_BYTES < 1024 * 1024  # a ConfigMap holds at most 1 MiB
    for crd in ("testrun.yaml", "jobrun.yaml"):
        shards = _spec_schema(crd)["shards"]
        assert (shards["minimum"], shards["maximum"], shards["default"]) == (MIN_SHARDS, MAX_SHARDS, 1)
    assert _spec_schema("testjob.yaml")["runTemplate"]["properties"]["shards"]["maximum"] == MAX_SHARDS
