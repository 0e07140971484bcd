"""Kubernetes mode: a secret variable reaches the run pod through a secretKeyRef (the pod spec never holds the
value) and the runner masks it in what it relays (pod output, results.json in S3)."""

from __future__ import annotations

import base64

from kubernetes import client as k8s

from tests.e2e.conftest import Cluster, E2eEnv, OperatorFactory, make_testrun
from tests.e2e.scripts import PRINTS_TOKEN as SCRIPT
from tests.e2e.scripts import TOKEN as SECRET


def test_secret_key_ref_reaches_the_pod_and_is_masked(
    e2e: E2eEnv, cluster: Cluster, start_operator: OperatorFactory
) -> None:
    start_operator()
    cluster.core.create_namespaced_secret(
        cluster.ns,
        k8s.V1Secret(
            metadata=k8s.V1ObjectMeta(name="supertest-vars-project"),
            data={"API_TOKEN": base64.b64encode(SECRET.encode()).decode()},
        ),
    )
    ref = {"secretKeyRef": {"name": "supertest-vars-project", "key": "API_TOKEN"}}
    cluster.apply(make_testrun("secret-env", SCRIPT, timeoutSeconds=120, env=[{"name": "API_TOKEN", "valueFrom": ref}]))
    run = cluster.wait_phase("secret-env", {"Passed", "Failed", "Error", "TimedOut"})
    assert run["status"]["phase"] == "Passed", cluster.describe("secret-env")

    pod = cluster.pods()[0]
    env = {e.name: e for e in pod.spec.containers[0].env}
    assert env["API_TOKEN"].value is None
    assert env["API_TOKEN"].value_from.secret_key_ref.name == "supertest-vars-project"
    assert env["SUPERTEST_MASK_NAMES"].value == "API_TOKEN"
    assert SECRET not in str(pod.spec)

    logs = e2e.pod_logs(cluster.ns, pod.metadata.name)
    assert "token is ***" in logs and SECRET not in logs
    s3 = e2e.s3.client()
    results = s3.get_object(Bucket=e2e.buckets["test"], Key="runs/secret-env/results.json")["Body"].read().decode()
    assert "token is ***" in results and SECRET not in results
