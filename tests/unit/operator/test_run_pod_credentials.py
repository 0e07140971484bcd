"""The run-pod contract with ingest: no platform credential in the pod spec, only a reference to its own token."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from supertest_operator.builders import (
    ScriptFile,
    ShardRole,
    build_pod,
    build_token_secret,
    token_expiry,
    token_secret_name,
)
from supertest_operator.run import RunRef
from supertest_operator.settings import OperatorSettings

from supertest.kube.models import JobRunSpec, TestRunSpec
from supertest.kube.names import JOBRUN, TESTRUN
from supertest.run_token import InvalidRunToken, verify
from supertest.sharding import ShardPlan

KEY = "r" * 48
NOW = datetime(2026, 1, 1, tzinfo=UTC)
REF = RunRef(TESTRUN, "team-a", "demo", "uid-1")
SECRETS = ("redis-password", "s3-secret-key", "AKIAPLATFORM", "dbpass")


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> OperatorSettings:
    for var in ("DATABASE_URL", "REDIS_URL", "S3_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var, raising=False)
    return OperatorSettings(
        REDIS_URL="redis://:redis-password@redis:6379/0",
        DATABASE_URL="postgresql://u:dbpass@db/supertest",
        S3_ENDPOINT="http://s3:9000",
        AWS_ACCESS_KEY_ID="AKIAPLATFORM",
        AWS_SECRET_ACCESS_KEY="s3-secret-key",
        INGEST_URL="http://supertest-api.supertest.svc:8000",
        RUN_TOKEN_KEY=KEY,
    )


def test_the_pod_spec_holds_no_platform_credential_and_only_a_reference_to_its_token(
    settings: OperatorSettings,
) -> None:
    for ref, spec in (
        (REF, TestRunSpec.model_validate({"script": "s"})),
        (
            RunRef(JOBRUN, "team-a", "nightly", "uid-2"),
            JobRunSpec.model_validate({"tests": [{"name": "a", "script": "s"}]}),
        ),
    ):
        pod = build_pod(ref, spec, [ScriptFile("a.spec.ts", "s")], 2, settings)
        text = json.dumps(pod)
        for secret in SECRETS:
            assert secret not in text
        env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
        for name in ("REDIS_URL", "DATABASE_URL", "S3_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            assert name not in env
        assert env["SUPERTEST_INGEST_URL"]["value"] == "http://supertest-api.supertest.svc:8000"
        assert env["SUPERTEST_RUN_NAMESPACE"]["value"] == "team-a"
        assert env["SUPERTEST_RUN_TOKEN"] == {
            "name": "SUPERTEST_RUN_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": token_secret_name(ref.name, 2), "key": "token"}},
        }


def test_the_token_secret_is_owned_by_the_run_and_scoped_to_it(settings: OperatorSettings) -> None:
    spec = TestRunSpec.model_validate({"script": "s", "timeoutSeconds": 60})
    secret = build_token_secret(REF, spec, 1, settings, NOW)
    assert secret["metadata"]["name"] == "demo-a1-token"
    owner = secret["metadata"]["ownerReferences"][0]
    assert owner["uid"] == "uid-1" and owner["controller"] is True
    token = secret["stringData"]["token"]
    expires = token_expiry(spec, settings, NOW)
    claims = verify(KEY.encode(), token, "team-a", "demo", now=NOW.timestamp())
    assert claims.kind == "test" and claims.expires_at == expires
    # The run's deadline (start wait + timeout + grace) and the upload window bound it.
    assert NOW.timestamp() + 60 < expires <= NOW.timestamp() + settings.start_timeout_seconds + 60 + 30 + 30 + 300
    with pytest.raises(InvalidRunToken):
        verify(KEY.encode(), token, "team-a", "other", now=NOW.timestamp())
    with pytest.raises(InvalidRunToken):
        verify(KEY.encode(), token, "team-a", "demo", now=expires + 1)


def test_kubernetes_mode_needs_ingest_and_a_real_key() -> None:
    with pytest.raises(ValidationError, match="INGEST_URL and RUN_TOKEN_KEY are required"):
        OperatorSettings(REDIS_URL="redis://r")
    with pytest.raises(ValidationError, match="INGEST_URL needs RUN_TOKEN_KEY"):
        OperatorSettings(REDIS_URL="redis://r", INGEST_URL="http://api")
    with pytest.raises(ValidationError, match="RUN_TOKEN_KEY must be"):
        OperatorSettings(REDIS_URL="redis://r", INGEST_URL="http://api", RUN_TOKEN_KEY="changeme")


def test_each_shard_pod_and_the_merge_pod_name_a_token_of_their_own(settings: OperatorSettings) -> None:
    """A shard admitted late (capacity) and the merge pod (after every shard and its retries) start long after the
    run's first pods: each names its own Secret, minted when it is created, so its token covers its whole life."""
    spec = JobRunSpec.model_validate({"tests": [{"name": "a", "script": "s"}], "shards": 2, "timeoutSeconds": 60})
    ref = RunRef(JOBRUN, "team-a", "nightly", "uid-2")
    files = [ScriptFile("a.spec.ts", "s")]
    roles = [ShardRole(2, ShardPlan(0, ("a.spec.ts",), 0.0)), ShardRole(2, ShardPlan(1, (), 0.0)), ShardRole(2)]
    names = []
    for role in roles:
        pod = build_pod(ref, spec, files, 1, settings, shard=role)
        env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
        secret_name = env["SUPERTEST_RUN_TOKEN"]["valueFrom"]["secretKeyRef"]["name"]
        assert secret_name == f"{pod['metadata']['name']}-token"
        later = datetime(2026, 1, 1, 5, tzinfo=UTC)  # five hours after NOW: far past a token minted at admission
        secret = build_token_secret(ref, spec, 1, settings, later, role)
        assert secret["metadata"]["name"] == secret_name
        claims = verify(KEY.encode(), secret["stringData"]["token"], "team-a", "nightly", now=later.timestamp() + 60)
        assert claims.expires_at == token_expiry(spec, settings, later)
        names.append(secret_name)
    assert names == ["nightly-s0-a1-token", "nightly-s1-a1-token", "nightly-merge-a1-token"]
    # Unsharded pods keep the one name per attempt.
    assert token_secret_name("nightly", 1) == "nightly-a1-token"
