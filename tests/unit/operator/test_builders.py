from __future__ import annotations

import pytest
from pydantic import ValidationError
from supertest_operator.builders import (
    INLINE_SCRIPT_BYTES,
    SCRIPTS_DIR,
    WORK_DIR,
    StoredScript,
    build_configmap,
    build_pod,
    child_name,
    reserved_env_names,
    script_files,
)
from supertest_operator.run import RunRef
from supertest_operator.settings import OperatorSettings

from supertest.kube.models import JobRunSpec, TestRunSpec
from supertest.kube.names import JOBRUN, TESTRUN

REF = RunRef(TESTRUN, "ns", "demo", "uid-1")


def _env(pod: dict) -> dict:  # type: ignore[type-arg]
    return {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}


def test_child_names_are_stable_and_distinct_per_attempt() -> None:
    assert child_name("demo") == "demo-scripts"
    assert child_name("demo", 1) == "demo-a1"
    assert child_name("demo", 2) == "demo-a2"
    assert len(child_name("x" * 52)) <= 63


def test_small_inline_scripts_travel_in_the_pod_and_need_no_configmap() -> None:
    spec = JobRunSpec.model_validate(
        {
            "tests": [
                {"name": "login", "script": "a()"},
                {"name": "cm", "scriptFrom": {"configMapKeyRef": {"name": "mine", "key": "k"}}},
                {"name": "cart", "script": "b()", "language": "typescript"},
            ]
        }
    )
    files = script_files(spec)
    assert build_configmap(REF, files) is None
    pod = build_pod(REF, spec, files, 1, _settings(), annotations={"supertest.dev/title": "t"})
    annotations = pod["metadata"]["annotations"]
    assert annotations == {
        "supertest.dev/title": "t",
        "scripts.supertest.dev/0": "a()",
        "scripts.supertest.dev/2": "b()",
    }
    sources = pod["spec"]["volumes"][0]["projected"]["sources"]
    assert sources == [
        {
            "downwardAPI": {
                "items": [
                    {
                        "path": "01-login.spec.js",
                        "fieldRef": {"fieldPath": "metadata.annotations['scripts.supertest.dev/0']"},
                    },
                    {
                        "path": "03-cart.spec.ts",
                        "fieldRef": {"fieldPath": "metadata.annotations['scripts.supertest.dev/2']"},
                    },
                ]
            }
        },
        {"configMap": {"name": "mine", "items": [{"key": "k", "path": "02-cm.spec.js"}]}},
    ]


def test_large_inline_scripts_get_an_owned_configmap_instead() -> None:
    # Counted in bytes, not characters: 'é' is two bytes, so this is one byte over the limit.
    script = "é" + "x" * (INLINE_SCRIPT_BYTES - 1)
    spec = TestRunSpec.model_validate({"script": script, "language": "typescript"})
    files = script_files(spec)
    cm = build_configmap(REF, files)
    assert cm is not None
    assert cm["metadata"]["name"] == "demo-scripts"
    assert cm["data"] == {"test.spec.ts": script}
    assert cm["immutable"] is True
    owner = cm["metadata"]["ownerReferences"][0]
    assert owner["uid"] == "uid-1" and owner["kind"] == "TestRun" and owner["controller"] is True
    assert cm["metadata"]["labels"]["supertest.dev/run"] == "demo"
    pod = build_pod(REF, spec, files, 1, _settings())
    assert not any(k.startswith("scripts.supertest.dev/") for k in pod["metadata"]["annotations"])
    sources = pod["spec"]["volumes"][0]["projected"]["sources"]
    assert sources == [
        {"configMap": {"name": "demo-scripts", "items": [{"key": "test.spec.ts", "path": "test.spec.ts"}]}}
    ]
    # One byte less fits in the pod.
    small = script_files(TestRunSpec.model_validate({"script": script[1:] + "x"}))
    assert build_configmap(REF, small) is None


def test_configmap_ref_scripts_need_no_configmap_and_mount_the_users_key() -> None:
    spec = TestRunSpec.model_validate({"scriptFrom": {"configMapKeyRef": {"name": "mine", "key": "login.js"}}})
    files = script_files(spec)
    assert build_configmap(REF, files) is None
    pod = build_pod(REF, spec, files, 1, _settings())
    sources = pod["spec"]["volumes"][0]["projected"]["sources"]
    assert sources == [{"configMap": {"name": "mine", "items": [{"key": "login.js", "path": "test.spec.js"}]}}]


def test_job_files_keep_their_order() -> None:
    spec = JobRunSpec.model_validate({"tests": [{"name": "b", "script": "1"}, {"name": "a", "script": "2"}]})
    assert [f.file_name for f in script_files(spec)] == ["01-b.spec.js", "02-a.spec.js"]
    with pytest.raises(ValueError, match="resolved first"):
        script_files(JobRunSpec.model_validate({"jobRef": "j1"}))


def test_stored_tests_take_their_stored_script_and_language() -> None:
    spec = JobRunSpec.model_validate(
        {
            "tests": [
                {"name": "inline", "script": "1"},
                {"name": "login", "testId": "t1"},
                {"name": "cm", "scriptFrom": {"configMapKeyRef": {"name": "m", "key": "k"}}},
            ]
        }
    )
    files = script_files(spec, {"t1": StoredScript("stored()", "typescript")})
    assert [(f.file_name, f.content) for f in files] == [
        ("01-inline.spec.js", "1"),
        ("02-login.spec.ts", "stored()"),
        ("03-cm.spec.js", None),
    ]
    assert files[2].config_map_ref is not None and files[2].config_map_ref.key == "k"
    with pytest.raises(ValidationError, match="exactly one of script, scriptFrom"):
        JobRunSpec.model_validate({"tests": [{"name": "x", "script": "1", "testId": "t1"}]})


def _settings() -> OperatorSettings:
    return OperatorSettings(
        REDIS_URL="redis://r:6379/0",
        S3_ENDPOINT="http://s3",
        AWS_ACCESS_KEY_ID="AKIA1",
        AWS_SECRET_ACCESS_KEY="not-a-placeholder",
        S3_CREDENTIALS_SECRET="s3-creds",
        RUNNER_DIRECT_CREDENTIALS=True,
    )


def test_pod_is_hardened_and_carries_the_runner_contract(settings: OperatorSettings) -> None:
    spec = TestRunSpec.model_validate(
        {
            "script": "s",
            "timeoutSeconds": 60,
            "workers": 3,
            "env": [{"name": "BASE_URL", "value": "http://x"}],
            "resources": {"limits": {"cpu": "2", "memory": "3Gi"}},
        }
    )
    pod = build_pod(REF, spec, script_files(spec), 2, settings)
    meta, pspec = pod["metadata"], pod["spec"]
    assert meta["name"] == "demo-a2"
    assert meta["labels"] == {
        "supertest.dev/run": "demo",
        "supertest.dev/kind": "test",
        "app.kubernetes.io/managed-by": "supertest-operator",
        "supertest.dev/attempt": "2",
    }
    assert meta["ownerReferences"][0]["blockOwnerDeletion"] is True
    assert pspec["restartPolicy"] == "Never"
    assert pspec["automountServiceAccountToken"] is False
    assert pspec["activeDeadlineSeconds"] == 60 + settings.timeout_grace_seconds
    assert pspec["securityContext"]["runAsNonRoot"] is True
    assert pspec["securityContext"]["runAsUser"] == 1000
    assert pspec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = pspec["containers"][0]
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert container["command"] == ["python", "-m", "supertest_runner"]
    assert container["image"] == "ghcr.io/supertest/runner:1.0"
    assert container["resources"]["limits"] == {"memory": "3Gi", "cpu": "2"}
    assert container["resources"]["requests"]["cpu"] == settings.runner_cpu_request
    env = _env(pod)
    assert env["SUPERTEST_RUN_ID"]["value"] == "demo"
    assert env["SUPERTEST_RUN_KIND"]["value"] == "test"
    assert env["SUPERTEST_SCRIPTS_DIR"]["value"] == SCRIPTS_DIR
    assert env["SUPERTEST_WORK_DIR"]["value"] == WORK_DIR
    assert env["SUPERTEST_TIMEOUT_SECONDS"]["value"] == "60"
    assert env["MAX_CONCURRENT_TESTS"]["value"] == "3"
    assert env["REDIS_URL"]["value"] == "redis://redis:6379/0"
    assert env["S3_ENDPOINT"]["value"] == "http://s3:9000"
    assert env["BASE_URL"]["value"] == "http://x"
    secret = {"secretKeyRef": {"name": "supertest-s3", "key": "AWS_SECRET_ACCESS_KEY"}}
    assert env["AWS_SECRET_ACCESS_KEY"] == {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": secret}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts[SCRIPTS_DIR]["readOnly"] is True
    assert {"/tmp", WORK_DIR, "/dev/shm"} <= set(mounts)
    volumes = {v["name"]: v for v in pspec["volumes"]}
    assert "emptyDir" in volumes["work"] and "emptyDir" in volumes["tmp"]


def test_without_a_secret_the_credentials_are_plain_env(settings: OperatorSettings) -> None:
    plain = settings.model_copy(update={"s3_credentials_secret": None})
    spec = TestRunSpec.model_validate({"script": "s"})
    env = _env(build_pod(REF, spec, script_files(spec), 1, plain))
    assert env["AWS_ACCESS_KEY_ID"]["value"] == "AKIAEXAMPLE"
    assert env["AWS_SECRET_ACCESS_KEY"]["value"] == "a-real-looking-secret"


def test_default_timeout_and_job_kind(settings: OperatorSettings) -> None:
    spec = JobRunSpec.model_validate({"tests": [{"name": "a", "script": "1"}]})
    ref = RunRef(JOBRUN, "ns", "j", "u")
    pod = build_pod(ref, spec, script_files(spec), 1, settings)
    assert _env(pod)["SUPERTEST_TIMEOUT_SECONDS"]["value"] == str(settings.default_timeout_seconds)
    assert _env(pod)["SUPERTEST_RUN_KIND"]["value"] == "job"
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "JobRun"


def test_reserved_env_names() -> None:
    assert reserved_env_names(["BASE_URL", "AWS_SECRET_ACCESS_KEY", "SUPERTEST_RUN_ID", "PATH"]) == [
        "AWS_SECRET_ACCESS_KEY",
        "SUPERTEST_RUN_ID",
        "PATH",
    ]


def test_test_retries_reach_playwright(settings: OperatorSettings) -> None:
    """spec.testRetries is Playwright's `retries` (PW_RETRIES); unset, a failing test is not retried."""
    retried = TestRunSpec.model_validate({"script": "s", "testRetries": 2})
    assert _env(build_pod(REF, retried, script_files(retried), 1, settings))["PW_RETRIES"]["value"] == "2"
    default = JobRunSpec.model_validate({"tests": [{"name": "a", "script": "1"}]})
    ref = RunRef(JOBRUN, "ns", "j", "u")
    assert _env(build_pod(ref, default, script_files(default), 1, settings))["PW_RETRIES"]["value"] == "0"


def test_test_retries_are_bounded() -> None:
    import pytest
    from pydantic import ValidationError

    for bad in (-1, 6):
        with pytest.raises(ValidationError):
            TestRunSpec.model_validate({"script": "s", "testRetries": bad})


def test_quarantined_tests_reach_the_runner_as_json(settings: OperatorSettings) -> None:
    import json

    spec = TestRunSpec.model_validate({"script": "s"})
    pod = build_pod(REF, spec, script_files(spec), 1, settings, quarantined=["b > x", "a > y"])
    assert json.loads(_env(pod)["SUPERTEST_QUARANTINED_TESTS"]["value"]) == ["a > y", "b > x"]
    assert "SUPERTEST_QUARANTINED_TESTS" not in _env(build_pod(REF, spec, script_files(spec), 1, settings))


def test_only_tests_reach_the_runner_as_json(settings: OperatorSettings) -> None:
    import json

    spec = TestRunSpec.model_validate({"script": "s", "onlyTests": ["test.spec.js > b", "test.spec.js > a"]})
    pod = build_pod(REF, spec, script_files(spec), 1, settings)
    assert json.loads(_env(pod)["SUPERTEST_ONLY_TESTS"]["value"]) == ["test.spec.js > b", "test.spec.js > a"]
    plain = TestRunSpec.model_validate({"script": "s"})
    assert "SUPERTEST_ONLY_TESTS" not in _env(build_pod(REF, plain, script_files(plain), 1, settings))


def test_the_rerun_manifest_is_the_original_linked_and_limited() -> None:
    from supertest_operator.builders import build_rerun, rerun_name

    from supertest.kube.names import MAX_RUN_NAME

    long_ref = RunRef(JOBRUN, "ns", "n" * MAX_RUN_NAME, "uid-9")
    name = rerun_name(long_ref.name, long_ref.uid)
    assert len(name) <= MAX_RUN_NAME and name == rerun_name(long_ref.name, long_ref.uid)  # stable: one per run
    assert name != rerun_name(long_ref.name, "uid-10")  # a new run of the same name gets its own
    spec = {"tests": [{"name": "01-a", "script": "s"}], "workers": 2, "cancel": False}
    manifest = build_rerun(long_ref, spec, "nightly", name, ["01-a.spec.js > t"])
    assert manifest["kind"] == "JobRun" and manifest["metadata"]["name"] == name
    assert manifest["metadata"]["annotations"]["supertest.dev/title"] == "Re-run failed of nightly"
    assert manifest["spec"] == {
        "tests": [{"name": "01-a", "script": "s"}],
        "workers": 2,
        "rerunOf": long_ref.name,
        "onlyTests": ["01-a.spec.js > t"],
    }
    assert "ownerReferences" not in manifest["metadata"]  # it outlives the original's TTL
    JobRunSpec.model_validate(manifest["spec"])  # what the CRD's typed view accepts
