"""The TestJob the API writes for a scheduled job, and JobRuns of a TestJob (jobRef)."""

from __future__ import annotations

import re

import pytest

from supertest.db.models import JobRecord, JobTestRecord, TestRecord
from supertest.kube import testjobs as tj
from supertest.kube.manifests import run_manifest
from supertest.kube.models import JobRunSpec, TestJobSpec
from supertest.kube.names import MAX_TESTJOB_NAME
from supertest.launch import RunRequest

DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def job(**kw: object) -> JobRecord:
    record = JobRecord(
        id="3f2a9c0d11e4b7a8",
        name="Nightly smoke: Checkout & Search",
        description="",
        schedule="0 3 * * *",
        time_zone="Europe/Berlin",
        concurrency_policy="Forbid",
        starting_deadline_seconds=None,
        suspend=False,
        successful_runs_history_limit=3,
        failed_runs_history_limit=1,
    )
    for key, value in kw.items():
        setattr(record, key, value)
    return record


def with_tests(record: JobRecord, *titles: tuple[str, str, str]) -> JobRecord:
    for i, (test_id, title, language) in enumerate(titles):
        link = JobTestRecord(position=i, test_id=test_id)
        link.test = TestRecord(id=test_id, title=title, script="test()", language=language)
        record.tests.append(link)
    return record


@pytest.mark.parametrize(
    ("job_id", "name"),
    [
        ("3f2a9c0d11e4b7a8", "Nightly smoke: Checkout & Search"),
        ("3f2a9c0d11e4b7a8", "x" * 200),
        ("3f2a9c0d11e4b7a8", "Überprüfung ÄÖÜ"),
        ("3f2a9c0d11e4b7a8", "!!!"),
        ("3F2A9C0D11E4B7A8", "---a---"),
        ("3f2a9c0d11e4b7a8", "a" * 33 + "-" + "b" * 20),
    ],
)
def test_testjob_names_are_dns_labels_within_the_limit(job_id: str, name: str) -> None:
    made = tj.testjob_name(job_id, name)
    assert DNS_1123.match(made), made
    assert len(made) <= MAX_TESTJOB_NAME
    assert made.endswith("-3f2a9c0d")
    assert made == tj.testjob_name(job_id, name)


def test_testjob_name_reads_like_the_job() -> None:
    assert tj.testjob_name("3f2a9c0d11e4b7a8", "Nightly smoke: Checkout & Search") == (
        "nightly-smoke-checkout-search-3f2a9c0d"
    )
    assert tj.testjob_name("3f2a9c0d11e4b7a8", "!!!") == "job-3f2a9c0d"
    assert tj.testjob_name("aaaaaaaa1", "same") != tj.testjob_name("bbbbbbbb1", "same")


def test_paths() -> None:
    assert tj.collection_path("ns") == "/apis/supertest.dev/v1alpha1/namespaces/ns/testjobs"
    assert tj.item_path("ns", "x") == "/apis/supertest.dev/v1alpha1/namespaces/ns/testjobs/x"


def test_build_testjob_names_stored_tests_in_order() -> None:
    record = with_tests(job(), ("t2", "Search renders", "javascript"), ("t1", "Log in (SSO) ✓", "typescript"))
    manifest = tj.build_testjob(record, "nightly-3f2a9c0d")
    assert manifest["apiVersion"] == "supertest.dev/v1alpha1" and manifest["kind"] == "TestJob"
    assert manifest["metadata"] == {
        "name": "nightly-3f2a9c0d",
        "labels": {"app.kubernetes.io/managed-by": "supertest-api"},
        "annotations": {"supertest.dev/job-id": "3f2a9c0d11e4b7a8", "supertest.dev/title": record.name},
    }
    assert manifest["spec"] == {
        "schedule": "0 3 * * *",
        "timeZone": "Europe/Berlin",
        "concurrencyPolicy": "Forbid",
        "suspend": False,
        "successfulRunsHistoryLimit": 3,
        "failedRunsHistoryLimit": 1,
        "tests": [
            {"name": "01-Search-renders", "testId": "t2", "language": "javascript"},
            {"name": "02-Log-in-SSO", "testId": "t1", "language": "typescript"},
        ],
    }
    # What the operator parses: the CRD's own rules, re-checked by the typed view.
    parsed = TestJobSpec.model_validate(manifest["spec"])
    assert [t.test_id for t in parsed.tests] == ["t2", "t1"]


def test_build_testjob_sets_the_deadline_only_when_there_is_one() -> None:
    record = with_tests(job(starting_deadline_seconds=90, suspend=True), ("t", "T", "javascript"))
    spec = tj.build_testjob(record, "n")["spec"]
    assert spec["startingDeadlineSeconds"] == 90 and spec["suspend"] is True
    with pytest.raises(ValueError, match="no schedule"):
        tj.build_testjob(job(schedule=None), "n")


def test_a_jobrun_of_a_testjob_names_it_instead_of_tests() -> None:
    request = RunRequest(kind="job", scripts=(), title="Nightly", job_id="gj123", job_ref="nightly-3f2a9c0d")
    manifest = run_manifest("jr-abc", request)
    assert manifest["spec"]["jobRef"] == "nightly-3f2a9c0d"
    assert "tests" not in manifest["spec"]
    assert manifest["metadata"]["annotations"]["supertest.dev/job-id"] == "gj123"
    assert JobRunSpec.model_validate(manifest["spec"]).job_ref == "nightly-3f2a9c0d"
    assert request.spec_dict()["jobRef"] == "nightly-3f2a9c0d"
