"""Secret variables in Kubernetes mode, end to end on the real kubelet (issue #17, Done when 3).

A project secret is set through the API (which writes it into the Secret `supertest-vars-project` with the
ServiceAccount of deploy/rbac/api.yaml); a test run submitted through the API prints it. The pod spec names it
through a secretKeyRef and never holds the value, the kubelet resolves it in the real container, and the runner
masks it in the SSE stream, the stored logs and results.json. The API never returns the value.
"""

from __future__ import annotations

import base64

import httpx
import pytest

from tests.e2e.conftest import Cluster, E2eEnv, OperatorFactory, apply_rbac, can_i
from tests.e2e.scripts import PRINTS_TOKEN as SCRIPT
from tests.e2e.scripts import TOKEN as SECRET
from tests.e2e.test_api_and_rbac import sse_events

# Whichever test of the tier runs first may build both images (minutes on a cold machine).
pytestmark = pytest.mark.timeout(1800)


def test_secret_set_through_the_api_reaches_the_pod_by_reference_and_is_masked(
    e2e: E2eEnv, cluster: Cluster, start_operator: OperatorFactory, api: tuple[str, dict[str, str]]
) -> None:
    apply_rbac(cluster, "operator.yaml")
    start_operator(kubeconfig=str(e2e.cp.serviceaccount_kubeconfig(cluster.ns, "supertest-operator")))
    url, auth = api
    # The API may write Secrets but never read one back.
    assert can_i(cluster, "supertest-api", "create", "secrets")
    assert not can_i(cluster, "supertest-api", "get", "secrets")

    created = httpx.post(
        f"{url}/api/variables", json={"name": "API_TOKEN", "value": SECRET, "secret": True}, headers=auth, timeout=30
    )
    assert created.status_code == 201, created.text
    assert created.json()["secret"] is True and created.json()["value"] is None
    listed = httpx.get(f"{url}/api/variables", headers=auth, timeout=10)
    assert listed.status_code == 200, listed.text
    assert [(v["name"], v["secret"], v["value"]) for v in listed.json()["items"]] == [("API_TOKEN", True, None)]
    assert SECRET not in created.text + listed.text
    stored = cluster.core.read_namespaced_secret("supertest-vars-project", cluster.ns)
    assert base64.b64decode(stored.data["API_TOKEN"]).decode() == SECRET

    submitted = httpx.post(
        f"{url}/api/test", json={"script": SCRIPT, "title": "prints its token"}, headers=auth, timeout=30
    )
    assert submitted.status_code == 202, submitted.text
    run_id = submitted.json()["runId"]
    events = sse_events(f"{url}/api/test-status/sse/{run_id}", auth)
    phases = [e["phase"] for e in events if e["type"] == "status"]
    assert phases[-1] == "Passed", events  # the script saw the real value
    log_lines = [str(e.get("line")) for e in events if e["type"] == "log"]
    assert any("token is ***" in line for line in log_lines), log_lines
    assert SECRET not in str(events)

    run = cluster.run(run_id)
    env_entries = {e["name"]: e for e in run["spec"]["env"]}  # type: ignore[index]
    assert env_entries["API_TOKEN"] == {
        "name": "API_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": "supertest-vars-project", "key": "API_TOKEN"}},
    }
    (pod,) = cluster.pods(f"supertest.dev/run={run_id}")
    env = {e.name: e for e in pod.spec.containers[0].env}
    assert env["API_TOKEN"].value is None
    assert env["API_TOKEN"].value_from.secret_key_ref.name == "supertest-vars-project"
    assert env["API_TOKEN"].value_from.secret_key_ref.key == "API_TOKEN"
    assert env["SUPERTEST_MASK_NAMES"].value == "API_TOKEN"
    assert SECRET not in str(pod.spec)

    for name in ("logs.txt", "results.json"):
        stored_file = httpx.get(
            f"{url}/api/test-results/{run_id}/{name}", headers=auth, timeout=30, follow_redirects=True
        )
        assert stored_file.status_code == 200, (name, stored_file.text)
        assert "token is ***" in stored_file.text and SECRET not in stored_file.text, name
