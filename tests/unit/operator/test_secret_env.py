"""Kubernetes mode: a secret variable reaches the pod as a secretKeyRef (never its value), the runner learns
which names to mask, and a run may reference only the platform's supertest-vars-* Secrets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from supertest_operator.builders import runner_env
from supertest_operator.run import RunRef
from supertest_operator.settings import OperatorSettings

from supertest.kube.models import TestRunSpec
from supertest.kube.names import TESTRUN


def spec(env: list[dict[str, object]]) -> TestRunSpec:
    return TestRunSpec.model_validate({"script": "x", "env": env})


def test_secret_variables_are_secret_key_refs_and_masked_by_name(settings: OperatorSettings) -> None:
    s = spec(
        [
            {"name": "BASE_URL", "value": "https://shop.example"},
            {
                "name": "API_TOKEN",
                "valueFrom": {"secretKeyRef": {"name": "supertest-vars-project", "key": "API_TOKEN"}},
            },
        ]
    )
    ref = RunRef(TESTRUN, "default", "tr-1", "uid-1")
    env = {e["name"]: e for e in runner_env(ref, s, settings, 60)}
    assert env["API_TOKEN"] == {
        "name": "API_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": "supertest-vars-project", "key": "API_TOKEN"}},
    }
    assert "value" not in env["API_TOKEN"]
    assert env["BASE_URL"]["value"] == "https://shop.example"
    assert env["SUPERTEST_MASK_NAMES"]["value"] == "API_TOKEN"


def test_no_mask_names_without_secrets_and_no_other_secrets(settings: OperatorSettings) -> None:
    ref = RunRef(TESTRUN, "default", "tr-1", "uid-1")
    names = [e["name"] for e in runner_env(ref, spec([{"name": "A", "value": "b"}]), settings, 60)]
    assert "SUPERTEST_MASK_NAMES" not in names
    with pytest.raises(ValidationError):
        spec([{"name": "X", "valueFrom": {"secretKeyRef": {"name": "supertest-s3-credentials", "key": "k"}}}])
