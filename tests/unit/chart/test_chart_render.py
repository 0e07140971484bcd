"""helm lint and helm template: the schema's rejections and what each switch renders."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.fernet import Fernet
from pydantic_settings import BaseSettings
from supertest_operator.settings import OperatorSettings

from supertest.settings import ApiSettings, ArtifactsSettings, CoreSettings
from tests.unit.chart.chartlib import (
    CHART,
    CI_VALUES,
    RELEASE,
    REPO,
    container_env,
    find,
    helm,
    one,
    render,
    template_args,
)

# The first test of a fresh machine builds helm from the Go proxy (build-helm.sh, minutes on 2 cores)
# or downloads a Go module; the project's default per-test timeout is too short for that one cold start.
pytestmark = pytest.mark.timeout(1800)

FULL = f"{RELEASE}-supertest"
# Read by processes the chart runs but not by our settings classes: kopf's peer identity, and HOME.
NON_SETTINGS_ENV = {"POD_ID", "HOME"}


def aliases(settings: type[BaseSettings]) -> set[str]:
    return {f.alias for f in settings.model_fields.values() if f.alias}


def test_helm_lint_strict_with_every_ci_values_file() -> None:
    helm("lint", "--strict", str(CHART))
    for values in CI_VALUES:
        helm("lint", "--strict", str(CHART), "-f", str(values))


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("api.replicass=2", "additional properties 'replicass' not allowed"),
        ("operator.image.tagg=x", "additional properties 'tagg' not allowed"),
        ("config.runningCapacity=lots", "got string, want integer"),
        ("config.runningCapacity=0", "minimum"),
        ("api.image.pullPolicy=Sometimes", "value must be one of"),
        ("runner.nodeSelector.disk=ssd", "maxProperties"),
        ("crds.install=maybe", "got string, want boolean"),
    ],
)
def test_schema_rejects_typos_and_wrong_types(override: str, expected: str) -> None:
    out = helm(*template_args(sets=[override]), check=False)
    assert out.returncode != 0, f"--set {override} rendered"
    assert "values don't meet the specifications of the schema" in out.stderr
    assert expected in out.stderr, out.stderr


def test_required_external_settings_fail_with_a_clear_message() -> None:
    out = helm(*template_args(sets=["postgres.enabled=false"]), check=False)
    assert out.returncode != 0
    assert "postgres.external.url or postgres.external.existingSecret is required" in out.stderr


def test_runner_extra_env_takes_name_value_pairs_only() -> None:
    args = template_args(sets=["runner.extraEnv[0].name=X", "runner.extraEnv[0].valueFrom.fieldRef.fieldPath=a"])
    out = helm(*args, check=False)
    assert out.returncode != 0
    assert "valueFrom" in out.stderr or "additional properties" in out.stderr


@pytest.mark.parametrize("values_file", CI_VALUES, ids=lambda p: Path(p).name)
def test_env_names_are_exactly_what_the_processes_read(values_file: Path) -> None:
    manifests = render(values_files=[values_file])
    api = one(manifests, "Deployment", f"{FULL}-api")
    operator = one(manifests, "Deployment", f"{FULL}-operator")
    api_env, operator_env = container_env(api), container_env(operator)
    assert set(api_env) - NON_SETTINGS_ENV <= aliases(ApiSettings), set(api_env) - aliases(ApiSettings)
    assert set(operator_env) - NON_SETTINGS_ENV <= aliases(OperatorSettings)
    for env in (api_env, operator_env):
        assert env["RUN_BACKEND"] == "kubernetes"
        for name in ("DATABASE_URL", "REDIS_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            assert "secretKeyRef" in env[name], f"{name} must come from a Secret"
        for name in ("S3_ENDPOINT", "S3_TEST_BUCKET_NAME", "S3_JOB_BUCKET_NAME", "AWS_REGION", "RUNNING_CAPACITY"):
            assert env[name], name
        for name in ("QUEUED_CAPACITY", "MAX_CONCURRENT_TESTS", "TEST_EXECUTION_TIMEOUT_MS"):
            assert env[name].isdigit(), name
    assert "secretKeyRef" in api_env["SESSION_SECRET"]
    assert operator_env["S3_CREDENTIALS_SECRET"]
    assert json.loads(operator_env["RUNNER_EXTRA_ENV"]) is not None
    for job in find(manifests, "Job"):
        env = container_env(job)
        assert set(env) - NON_SETTINGS_ENV - {"S3_ENDPOINT"} <= aliases(CoreSettings), job["metadata"]["name"]


def test_capacity_values_map_to_the_seed_env_vars() -> None:
    sets = [
        "config.runningCapacity=7",
        "config.queuedCapacity=70",
        "config.maxConcurrentTests=3",
        "config.testExecutionTimeoutMs=60000",
    ]
    for name in ("api", "operator"):
        env = container_env(one(render(sets=sets), "Deployment", f"{FULL}-{name}"))
        assert (env["RUNNING_CAPACITY"], env["QUEUED_CAPACITY"]) == ("7", "70")
        assert (env["MAX_CONCURRENT_TESTS"], env["TEST_EXECUTION_TIMEOUT_MS"]) == ("3", "60000")


def test_crds_install_and_keep() -> None:
    crds = find(render(), "CustomResourceDefinition")
    assert sorted(c["metadata"]["name"] for c in crds) == [
        "jobruns.supertest.dev",
        "testjobs.supertest.dev",
        "testruns.supertest.dev",
    ]
    assert all(c["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep" for c in crds)
    unkept = find(render(sets=["crds.keep=false"]), "CustomResourceDefinition")
    assert all("helm.sh/resource-policy" not in (c["metadata"].get("annotations") or {}) for c in unkept)
    assert find(render(sets=["crds.install=false"]), "CustomResourceDefinition") == []


def test_rendered_crds_keep_the_repository_schema() -> None:
    import yaml

    for crd in find(render(), "CustomResourceDefinition"):
        source = yaml.safe_load((CHART / "files" / "crds" / f"{crd['spec']['names']['singular']}.yaml").read_text())
        assert crd["spec"] == source["spec"]


def test_namespaced_rbac_by_default() -> None:
    manifests = render()
    roles = {r["metadata"]["name"] for r in find(manifests, "Role")}
    assert roles == {f"{FULL}-operator", f"{FULL}-api", f"{FULL}-api-secrets"}
    assert {r["metadata"]["name"] for r in find(manifests, "ClusterRole")} == {f"{FULL}-operator-cluster"}
    env = container_env(one(manifests, "Deployment", f"{FULL}-operator"))
    assert env["SUPERTEST_NAMESPACES"] == "supertest"
    api_rules = one(manifests, "Role", f"{FULL}-api")["rules"]
    assert api_rules == [
        {
            "apiGroups": ["supertest.dev"],
            "resources": ["testruns", "jobruns"],
            "verbs": ["create", "get", "list", "watch", "patch"],
        },
        {
            "apiGroups": ["supertest.dev"],
            "resources": ["testjobs"],
            "verbs": ["create", "get", "list", "watch", "patch", "update", "delete"],
        },
    ]


def test_cluster_wide_rbac() -> None:
    manifests = render(sets=["rbac.clusterWide=true"])
    # The variables' Secrets are written in the release namespace only, whatever the mode.
    assert [r["metadata"]["name"] for r in find(manifests, "Role")] == [f"{FULL}-api-secrets"]
    assert [r["metadata"]["name"] for r in find(manifests, "RoleBinding")] == [f"{FULL}-api-secrets"]
    names = {r["metadata"]["name"] for r in find(manifests, "ClusterRole")}
    assert names == {f"{FULL}-operator", f"{FULL}-api", f"{FULL}-operator-cluster"}
    assert container_env(one(manifests, "Deployment", f"{FULL}-operator"))["SUPERTEST_NAMESPACES"] == ""


def test_single_operator_is_standalone_and_recreated() -> None:
    manifests = render()
    operator = one(manifests, "Deployment", f"{FULL}-operator")
    assert operator["spec"]["strategy"]["type"] == "Recreate"
    assert "PEERING_NAME" not in container_env(operator)
    assert not [m for m in manifests if m["apiVersion"].startswith("kopf.dev")]
    assert find(manifests, "PodDisruptionBudget") == []


@pytest.mark.parametrize(("cluster_wide", "kind"), [(False, "KopfPeering"), (True, "ClusterKopfPeering")])
def test_replicas_enable_kopf_peering(cluster_wide: bool, kind: str) -> None:
    sets = ["operator.replicas=2", f"rbac.clusterWide={str(cluster_wide).lower()}"]
    manifests = render(sets=sets)
    operator = one(manifests, "Deployment", f"{FULL}-operator")
    assert container_env(operator)["PEERING_NAME"] == "supertest"
    crd = one(manifests, "CustomResourceDefinition", f"{kind.lower()}s.kopf.dev")
    assert crd["spec"]["scope"] == ("Cluster" if cluster_wide else "Namespaced")
    peering = one(manifests, kind, "supertest")
    assert peering["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    one(manifests, "PodDisruptionBudget", f"{FULL}-operator")


def test_migrations_hook_with_external_database() -> None:
    manifests = render(values_files=[CHART / "ci" / "external-services-values.yaml"])
    job = one(manifests, "Job", f"{FULL}-migrate")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["supertest", "migrate"]
    assert container_env(job)["DATABASE_URL"] == {"secretKeyRef": {"name": "supertest-database", "key": "url"}}
    api = one(manifests, "Deployment", f"{FULL}-api")
    assert "initContainers" not in api["spec"]["template"]["spec"]


def test_migrations_init_container_with_bundled_database() -> None:
    manifests = render()
    assert find(manifests, "Job", f"{FULL}-migrate") == []
    init = one(manifests, "Deployment", f"{FULL}-api")["spec"]["template"]["spec"]["initContainers"]
    assert [c["command"] for c in init] == [["supertest", "migrate"]]


def test_bundled_services_share_generated_credentials() -> None:
    manifests = render()
    conn = one(manifests, "Secret", f"{FULL}-connections")["stringData"]
    assert conn["POSTGRES_PASSWORD"] in conn["DATABASE_URL"]
    assert conn["REDIS_PASSWORD"] in conn["REDIS_URL"]
    s3 = one(manifests, "Secret", f"{FULL}-s3")["stringData"]
    assert set(s3) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert len(one(manifests, "Secret", f"{FULL}-session")["stringData"]["SESSION_SECRET"]) >= 16
    names = {s["metadata"]["name"] for s in find(manifests, "StatefulSet")}
    assert names == {f"{FULL}-postgres", f"{FULL}-redis", f"{FULL}-objectstore"}
    endpoint = container_env(one(manifests, "Deployment", f"{FULL}-api"))["S3_ENDPOINT"]
    assert endpoint == f"http://{FULL}-objectstore.supertest.svc:7070"


def test_external_services_render_no_bundled_workloads() -> None:
    manifests = render(values_files=[CHART / "ci" / "external-services-values.yaml"])
    assert find(manifests, "StatefulSet") == []
    # Only the Redis URL is chart-managed: Postgres, S3, the session secret and the Fernet, run-token and
    # artifacts keys are the user's.
    assert {s["metadata"]["name"] for s in find(manifests, "Secret")} == {f"{FULL}-connections"}
    operator_env = container_env(one(manifests, "Deployment", f"{FULL}-operator"))
    assert operator_env["S3_CREDENTIALS_SECRET"] == "supertest-s3-credentials"
    assert operator_env["S3_ENDPOINT"] == "https://s3.eu-west-1.amazonaws.com"
    assert json.loads(operator_env["RUNNER_EXTRA_ENV"]) == {"TZ": "Europe/Berlin"}
    one(manifests, "NetworkPolicy", f"{FULL}-run-pods")
    one(manifests, "PodDisruptionBudget", f"{FULL}-api")


def test_every_pod_runs_non_root_with_a_read_only_root() -> None:
    for manifest in render():
        spec: dict[str, Any] | None = None
        if manifest["kind"] in ("Deployment", "StatefulSet", "Job"):
            spec = manifest["spec"]["template"]["spec"]
        elif manifest["kind"] == "Pod":
            spec = manifest["spec"]
        if spec is None:
            continue
        assert spec["securityContext"]["runAsNonRoot"] is True, manifest["metadata"]["name"]
        for c in spec["containers"] + spec.get("initContainers", []):
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, c["name"]
            assert c["securityContext"]["allowPrivilegeEscalation"] is False, c["name"]


def test_ingress_and_service_monitors() -> None:
    manifests = render(values_files=[CHART / "ci" / "ingress-metrics-values.yaml"])
    ingress = one(manifests, "Ingress", f"{FULL}-api")
    assert ingress["spec"]["rules"][0]["host"] == "supertest.example.com"
    monitors = find(manifests, "ServiceMonitor")
    assert {m["metadata"]["name"] for m in monitors} == {f"{FULL}-api", f"{FULL}-operator"}
    assert all(m["metadata"]["labels"]["release"] == "prometheus" for m in monitors)


def test_helm_test_pod_uses_the_api_service_account() -> None:
    pod = one(render(), "Pod", f"{FULL}-test-run-passes")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["spec"]["serviceAccountName"] == f"{FULL}-api"
    script = pod["spec"]["containers"][0]["command"][-1]
    compile(script, "helm-test", "exec")  # the embedded Python is at least valid syntax


def test_migration_hook_secret_for_an_external_url() -> None:
    url = "postgresql://u:p@db.example.internal:5432/supertest"
    manifests = render(
        values_files=[CHART / "ci" / "external-services-values.yaml"],
        sets=["postgres.external.existingSecret=", f"postgres.external.url={url}"],
    )
    hook_secret = one(manifests, "Secret", f"{FULL}-migrations")
    assert hook_secret["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert int(hook_secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < 0  # before the Job
    assert hook_secret["stringData"]["DATABASE_URL"] == url
    job = one(manifests, "Job", f"{FULL}-migrate")
    assert container_env(job)["DATABASE_URL"] == {"secretKeyRef": {"name": f"{FULL}-migrations", "key": "DATABASE_URL"}}
    assert one(manifests, "Secret", f"{FULL}-connections")["stringData"]["DATABASE_URL"] == url


Rule = tuple[str, str, str, str]  # apiGroup, resource, verb, resourceName ("" = any)


def triples(rules: Iterable[dict[str, Any]]) -> set[Rule]:
    return {
        (group, resource, verb, name)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
        for name in rule.get("resourceNames") or [""]
    }


def deploy_rbac(kind: str, name: str) -> set[Rule]:
    docs = [d for f in sorted((REPO / "deploy" / "rbac").glob("*.yaml")) for d in yaml.safe_load_all(f.read_text())]
    found = [d for d in docs if d and d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"deploy/rbac has no single {kind}/{name}"
    return triples(found[0]["rules"])


def unnamed(rules: set[Rule]) -> set[Rule]:
    return {(g, r, v, "") for g, r, v, _ in rules}


def test_rbac_mirrors_deploy_rbac() -> None:
    """The chart grants what deploy/rbac grants (peering rendered), narrowing some verbs to resourceNames."""
    manifests = render(sets=["operator.replicas=2"])
    api = triples(one(manifests, "Role", f"{FULL}-api")["rules"])
    api |= triples(one(manifests, "Role", f"{FULL}-api-secrets")["rules"])
    assert api == deploy_rbac("Role", "supertest-api")
    operator = triples(one(manifests, "Role", f"{FULL}-operator")["rules"])
    operator |= triples(one(manifests, "Role", f"{FULL}-operator-lease")["rules"])
    assert unnamed(operator) == deploy_rbac("Role", "supertest-operator")
    cluster = triples(one(manifests, "ClusterRole", f"{FULL}-operator-cluster")["rules"])
    # Both: no get/list/watch (kopf creates try-or-fail), patch on the operator's own configuration name only.
    reference = deploy_rbac("ClusterRole", "supertest-operator-webhook")
    assert unnamed(cluster) == unnamed(reference)
    # Node loss lists Nodes (cluster-scoped), in both.
    assert ("nodes", "list", "") in {(res, v, n) for _, res, v, n in reference}
    assert {(res, v, n) for _, res, v, n in reference if res != "nodes"} == {
        (res, verb, name)
        for res in ("validatingwebhookconfigurations", "mutatingwebhookconfigurations")
        for verb, name in (("create", ""), ("patch", "supertest.dev"))
    }
    assert {(v, n) for _, res, v, n in cluster if res == "validatingwebhookconfigurations"} == {
        ("create", ""),
        ("patch", f"{FULL}.supertest.dev"),
    }
    assert {(v, n) for _, res, v, n in operator if res == "leases"} == {
        ("create", ""),
        ("get", "supertest-operator-supertest"),
        ("update", "supertest-operator-supertest"),
    }


def test_lease_namespace_is_the_release_namespace_in_every_mode() -> None:
    for cluster_wide in ("false", "true"):
        manifests = render(sets=["operator.replicas=2", f"rbac.clusterWide={cluster_wide}"])
        env = container_env(one(manifests, "Deployment", f"{FULL}-operator"))
        assert env["LEASE_NAMESPACE"] == "supertest"
        lease_role = one(manifests, "Role", f"{FULL}-operator-lease")
        assert lease_role["metadata"]["namespace"] == "supertest"
        assert "supertest-operator-supertest" in json.dumps(lease_role["rules"])


def test_without_webhook_or_cluster_peering_the_only_cluster_rule_is_listing_nodes() -> None:
    # Node loss (handlers/node_loss.py) lists Nodes, which are cluster-scoped; nothing else is cluster-wide.
    manifests = render(sets=["operator.webhook.enabled=false"])
    assert one(manifests, "ClusterRole", f"{FULL}-operator-cluster")["rules"] == [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}
    ]
    assert len(find(manifests, "ClusterRoleBinding")) == 1


def test_secrets_key_is_a_generated_fernet_key_the_api_and_operator_read() -> None:
    manifests = render()
    key = one(manifests, "Secret", f"{FULL}-secrets-key")["stringData"]["SECRETS_KEY"]
    box = Fernet(key.encode())  # raises unless urlsafe base64 of 32 bytes
    assert box.decrypt(box.encrypt(b"x")) == b"x"
    ref = {"secretKeyRef": {"name": f"{FULL}-secrets-key", "key": "SECRETS_KEY"}}
    for component in ("api", "operator"):
        assert container_env(one(manifests, "Deployment", f"{FULL}-{component}"))["SECRETS_KEY"] == ref
    # The pods roll when the key changes.
    other = render(sets=["secretsKey.existingSecret=mine"])
    annotation = "checksum/secrets"
    before = one(manifests, "Deployment", f"{FULL}-api")["spec"]["template"]["metadata"]["annotations"][annotation]
    after = one(other, "Deployment", f"{FULL}-api")["spec"]["template"]["metadata"]["annotations"][annotation]
    assert before != after


def test_secrets_key_from_an_existing_secret() -> None:
    manifests = render(sets=["secretsKey.existingSecret=vault-synced", "secretsKey.existingSecretKey=fernet"])
    assert find(manifests, "Secret", f"{FULL}-secrets-key") == []
    env = container_env(one(manifests, "Deployment", f"{FULL}-operator"))
    assert env["SECRETS_KEY"] == {"secretKeyRef": {"name": "vault-synced", "key": "fernet"}}


def test_api_may_write_but_not_read_secrets_in_the_release_namespace_only() -> None:
    role = one(render(), "Role", f"{FULL}-api-secrets")
    assert role["metadata"]["namespace"] == "supertest"
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "patch", "update", "delete"]}
    ]
    binding = one(render(), "RoleBinding", f"{FULL}-api-secrets")
    assert binding["roleRef"]["name"] == f"{FULL}-api-secrets"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": f"{FULL}-api", "namespace": "supertest"}]


def test_run_pods_get_the_ingest_url_and_only_the_api_and_operator_get_the_token_key() -> None:
    manifests = render()
    key_secret = f"{FULL}-run-token-key"
    secret = next(s for s in find(manifests, "Secret") if s["metadata"]["name"] == key_secret)
    assert len(secret["stringData"]["RUN_TOKEN_KEY"]) >= 32
    for component in ("api", "operator"):
        deployment = next(d for d in find(manifests, "Deployment") if d["metadata"]["name"] == f"{FULL}-{component}")
        env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["RUN_TOKEN_KEY"]["valueFrom"]["secretKeyRef"] == {"name": key_secret, "key": "RUN_TOKEN_KEY"}
        if component == "operator":
            assert env["INGEST_URL"]["value"] == f"http://{FULL}-api.supertest.svc:80"
            assert "RUNNER_DIRECT_CREDENTIALS" not in env
    role = next(r for r in find(manifests, "Role") if r["metadata"]["name"].endswith("-operator"))
    assert {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]} in role["rules"]


def test_artifacts_origin_is_a_second_container_and_service_port() -> None:
    manifests = render()
    api = one(manifests, "Deployment", f"{FULL}-api")
    containers = {c["name"]: c for c in api["spec"]["template"]["spec"]["containers"]}
    artifacts = containers["artifacts"]
    assert artifacts["command"] == ["supertest", "artifacts"]
    env = container_env(api, "artifacts")
    # It serves files and nothing else: no database, Redis or session secret reaches it.
    assert not {"DATABASE_URL", "REDIS_URL", "SESSION_SECRET"} & set(env)
    assert set(env) - NON_SETTINGS_ENV <= aliases(ArtifactsSettings)
    assert "secretKeyRef" in env["ARTIFACTS_SIGNING_KEY"]
    api_env = container_env(api)
    assert api_env["ARTIFACTS_URL"] == "http://*:8081"
    assert api_env["ARTIFACTS_SIGNING_KEY"]["secretKeyRef"] == env["ARTIFACTS_SIGNING_KEY"]["secretKeyRef"]
    service = one(manifests, "Service", f"{FULL}-api")
    assert {"name": "artifacts", "port": 8081, "targetPort": "artifacts", "protocol": "TCP"} in service["spec"]["ports"]
    key = one(manifests, "Secret", f"{FULL}-artifacts")["stringData"]["ARTIFACTS_SIGNING_KEY"]
    assert len(key) >= 32
    custom = render(sets=["api.artifacts.url=https://artifacts.internal/"])
    assert container_env(one(custom, "Deployment", f"{FULL}-api"))["ARTIFACTS_URL"] == "https://artifacts.internal"


def test_the_automatic_quarantine_threshold_is_set_as_a_whole_percent() -> None:
    """`helm --set` passes decimals as text, which the schema would refuse; percent in, a fraction to the processes."""
    for override, fraction in (([], "0"), (["config.autoQuarantineFlakyPercent=20"], "0.2")):
        operator = one(render(sets=override), "Deployment", f"{FULL}-operator")
        assert container_env(operator)["AUTO_QUARANTINE_FLAKY_RATE"] == fraction
    out = helm(*template_args(sets=["config.autoQuarantineFlakyPercent=120"]), check=False)
    assert out.returncode != 0 and "maximum" in out.stderr
