"""Proves that the test control plane is a real Kubernetes: admission, RBAC, controllers, webhooks, pods."""

from __future__ import annotations

import base64
import json
import ssl
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from tests.k8s import certs, procs
from tests.k8s.controlplane import ControlPlane, namespace_for_test
from tests.k8s.node_agent import DEADLINE_MESSAGE, NodeAgent
from tests.k8s.wait import wait_for

GROUP, VERSION, PLURAL = "test.supertest.dev", "v1", "widgets"


# --------------------------------------------------------------------------------------------------- helpers
def make_pod(name: str, command: list[str], **spec: Any) -> k8s.V1Pod:
    container = {"name": "main", "image": "ignored.invalid/image:1", "command": command}
    container.update(spec.pop("container", {}))
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "probe"}},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 2,
            "containers": [container],
            **spec,
        },
    }
    return k8s.V1Pod.from_dict(body)


def read_pod(api: k8s.ApiClient, namespace: str, name: str) -> k8s.V1Pod:
    return k8s.CoreV1Api(api).read_namespaced_pod(name, namespace)


def wait_pod_phase(
    api: k8s.ApiClient, namespace: str, name: str, phases: tuple[str, ...], timeout: float = 60
) -> k8s.V1Pod:
    last: list[k8s.V1Pod] = []

    def check() -> k8s.V1Pod | None:
        pod = read_pod(api, namespace, name)
        last[:] = [pod]
        return pod if pod.status.phase in phases else None

    return wait_for(
        check,
        timeout=timeout,
        interval=0.1,
        message=lambda: f"pod {namespace}/{name} in {phases}; last status: {last[0].status if last else None}",
    )


def api_error(exc: pytest.ExceptionInfo[ApiException]) -> tuple[int, str]:
    """HTTP status and the apiserver's Status message."""
    return int(exc.value.status or 0), str(json.loads(exc.value.body)["message"])


def is_gone(read: Any) -> bool:
    try:
        read()
    except ApiException as exc:
        if exc.status == 404:
            return True
        raise
    return False


# --------------------------------------------------------------------------------------------------- CRD
@pytest.fixture(scope="module")
def widget_crd(control_plane: ControlPlane) -> Iterator[str]:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": PLURAL, "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "required": ["size"],
                                    "properties": {
                                        "size": {"type": "integer", "minimum": 1, "maximum": 10},
                                        "color": {"type": "string", "enum": ["red", "blue"]},
                                    },
                                },
                                "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
                            },
                        }
                    },
                }
            ],
        },
    }
    with control_plane.api_client() as api:
        ext = k8s.ApiextensionsV1Api(api)
        ext.create_custom_resource_definition(k8s.V1CustomResourceDefinition.from_dict(crd))

        def established() -> bool:
            conds = ext.read_custom_resource_definition(f"{PLURAL}.{GROUP}").status.conditions or []
            return any(c.type == "Established" and c.status == "True" for c in conds)

        wait_for(established, timeout=30, message="CRD Established")
        yield f"{PLURAL}.{GROUP}"
        ext.delete_custom_resource_definition(f"{PLURAL}.{GROUP}")


def widget(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Widget", "metadata": {"name": name}, "spec": spec}


def test_crd_schema_rejects_invalid_object(widget_crd: str, k8s_api: k8s.ApiClient, k8s_namespace: str) -> None:
    custom = k8s.CustomObjectsApi(k8s_api)
    with pytest.raises(ApiException) as exc:
        custom.create_namespaced_custom_object(
            GROUP, VERSION, k8s_namespace, PLURAL, widget("bad", {"size": 0, "color": "green"})
        )
    status, body = api_error(exc)
    assert status == 422
    assert "spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1" in body
    assert 'spec.color: Unsupported value: "green"' in body

    with pytest.raises(ApiException) as exc:
        custom.create_namespaced_custom_object(GROUP, VERSION, k8s_namespace, PLURAL, widget("empty", {}))
    assert "spec.size: Required value" in api_error(exc)[1]
    created = custom.create_namespaced_custom_object(GROUP, VERSION, k8s_namespace, PLURAL, widget("ok", {"size": 3}))
    assert created["spec"] == {"size": 3}


def test_status_subresource(widget_crd: str, k8s_api: k8s.ApiClient, k8s_namespace: str) -> None:
    custom = k8s.CustomObjectsApi(k8s_api)
    custom.create_namespaced_custom_object(GROUP, VERSION, k8s_namespace, PLURAL, widget("w", {"size": 1}))

    # Writing status through the main resource is ignored once the status subresource exists.
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, k8s_namespace, PLURAL, "w", {"spec": {"size": 2}, "status": {"phase": "Hacked"}}
    )
    obj = custom.get_namespaced_custom_object(GROUP, VERSION, k8s_namespace, PLURAL, "w")
    assert obj["spec"]["size"] == 2
    assert "status" not in obj

    # ... and writing spec through /status is ignored while status is stored.
    custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, k8s_namespace, PLURAL, "w", {"spec": {"size": 9}, "status": {"phase": "Ready"}}
    )
    obj = custom.get_namespaced_custom_object(GROUP, VERSION, k8s_namespace, PLURAL, "w")
    assert obj["status"] == {"phase": "Ready"}
    assert obj["spec"]["size"] == 2


# --------------------------------------------------------------------------------------------------- pods
PROBE_SCRIPT = r"""
import json, os, pathlib
names = ["POD_NAME", "POD_NAMESPACE", "POD_UID", "POD_APP", "NODE", "POD_IP", "CM_GREETING", "SECRET_TOKEN",
         "FROM_CM_color", "DATA_DIR", "CONFIG_FILE", "NODE_AGENT_POD_ROOT", "PATH", "HOME", "LANG"]
print(json.dumps({
    "env": {n: os.environ.get(n) for n in names},
    "cwd": os.getcwd(),
    "config_file": pathlib.Path(os.environ["CONFIG_FILE"]).read_text(),
    "config_items": sorted(str(p.relative_to(os.environ["CONFIG_DIR"]))
                           for p in pathlib.Path(os.environ["CONFIG_DIR"]).rglob("*") if p.is_file()),
    "arg": __import__("sys").argv[1],
}))
pathlib.Path(os.environ["DATA_DIR"], "written").write_text("scratch")
"""


def config_objects(api: k8s.ApiClient, namespace: str) -> None:
    core = k8s.CoreV1Api(api)
    core.create_namespaced_config_map(
        namespace,
        k8s.V1ConfigMap.from_dict(
            {
                "metadata": {"name": "app-config"},
                "data": {"greeting": "hello", "settings.json": '{"retries": 2}', "color": "teal"},
            }
        ),
    )
    core.create_namespaced_secret(
        namespace,
        k8s.V1Secret.from_dict(
            {
                "metadata": {"name": "app-secret"},
                "stringData": {"token": "s3cr3t"},
            }
        ),
    )


def env_and_volume_spec() -> dict[str, Any]:
    def field(path: str) -> dict[str, Any]:
        return {"valueFrom": {"fieldRef": {"fieldPath": path}}}

    return {
        "container": {
            "args": ["/data/from-arg"],
            "workingDir": "/data/work",
            "env": [
                {"name": "POD_NAME", **field("metadata.name")},
                {"name": "POD_NAMESPACE", **field("metadata.namespace")},
                {"name": "POD_UID", **field("metadata.uid")},
                {"name": "POD_APP", **field("metadata.labels['app']")},
                {"name": "NODE", **field("spec.nodeName")},
                {"name": "POD_IP", **field("status.podIP")},
                {
                    "name": "CM_GREETING",
                    "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "greeting"}},
                },
                {
                    "name": "SECRET_TOKEN",
                    "valueFrom": {"secretKeyRef": {"name": "app-secret", "key": "token"}},
                },
                {"name": "DATA_DIR", "value": "/data"},
                {"name": "CONFIG_DIR", "value": "/etc/app"},
                {"name": "CONFIG_FILE", "value": "/etc/app/conf/settings.json"},
            ],
            "envFrom": [{"prefix": "FROM_CM_", "configMapRef": {"name": "app-config"}}],
            "volumeMounts": [
                {"name": "config", "mountPath": "/etc/app"},
                {"name": "scratch", "mountPath": "/data"},
            ],
        },
        "volumes": [
            {
                "name": "config",
                "configMap": {
                    "name": "app-config",
                    "items": [{"key": "settings.json", "path": "conf/settings.json"}],
                },
            },
            {"name": "scratch", "emptyDir": {}},
        ],
    }


def test_env_and_volumes_are_seen_by_the_process(
    node_agent: NodeAgent, k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    config_objects(k8s_api, k8s_namespace)
    pod = make_pod("probe", ["python", "-c", PROBE_SCRIPT], **env_and_volume_spec())
    k8s.CoreV1Api(k8s_api).create_namespaced_pod(k8s_namespace, pod)
    done = wait_pod_phase(k8s_api, k8s_namespace, "probe", ("Succeeded", "Failed"))
    output = node_agent.logs(k8s_namespace, "probe")
    assert done.status.phase == "Succeeded", output
    report = json.loads(output.strip().splitlines()[-1])
    env = report["env"]
    pod_root = Path(env["NODE_AGENT_POD_ROOT"])
    assert env["POD_NAME"] == "probe"
    assert env["POD_NAMESPACE"] == k8s_namespace
    assert env["POD_UID"] == done.metadata.uid
    assert env["POD_APP"] == "probe"
    assert env["NODE"] == node_agent.node_name == done.spec.node_name
    assert env["POD_IP"] == "127.0.0.1" == done.status.pod_ip
    assert (env["CM_GREETING"], env["SECRET_TOKEN"], env["FROM_CM_color"]) == ("hello", "s3cr3t", "teal")
    assert env["LANG"]
    assert env["HOME"]
    assert env["PATH"].split(":")[0] == str(Path(sys.executable).parent)  # the venv python comes first
    # Mount paths are remapped into the pod's directory, in env, args and workingDir alike.
    assert Path(env["DATA_DIR"]) == pod_root / "volumes" / "scratch"
    assert report["arg"] == f"{env['DATA_DIR']}/from-arg"
    assert report["cwd"] == f"{env['DATA_DIR']}/work"
    assert report["config_file"] == '{"retries": 2}'
    assert report["config_items"] == ["conf/settings.json"]  # `items` selects and renames keys
    assert (Path(env["DATA_DIR"]) / "written").read_text() == "scratch"
    status = done.status.container_statuses[0]
    assert status.state.terminated.exit_code == 0
    assert status.state.terminated.reason == "Completed"
    assert {c.type: c.status for c in done.status.conditions} == {
        "PodScheduled": "True",
        "Initialized": "True",
        "ContainersReady": "False",
        "Ready": "False",
    }


def test_job_runs_to_completion(node_agent: NodeAgent, k8s_api: k8s.ApiClient, k8s_namespace: str) -> None:
    config_objects(k8s_api, k8s_namespace)
    check = (
        "import os, pathlib, sys;"
        "ok = os.environ['GREETING'] == 'hello'"
        " and pathlib.Path('/cfg/greeting'.replace('/cfg', os.environ['CFG'])).read_text() == 'hello'"
        " and os.environ['JOB_POD'].startswith('hello-job-');"
        "print('checks ok' if ok else dict(os.environ)); sys.exit(0 if ok else 1)"
    )
    template = make_pod(
        "unused",
        ["python", "-c", check],
        container={
            "env": [
                {
                    "name": "GREETING",
                    "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "greeting"}},
                },
                {"name": "JOB_POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "CFG", "value": "/cfg"},
            ],
            "volumeMounts": [{"name": "cfg", "mountPath": "/cfg"}],
        },
        volumes=[{"name": "cfg", "configMap": {"name": "app-config"}}],
    )
    job = k8s.V1Job.from_dict(
        {
            "metadata": {"name": "hello-job"},
            "spec": {
                "backoffLimit": 0,
                "ttlSecondsAfterFinished": 300,
                "template": {
                    "metadata": {"labels": {"app": "hello"}},
                    "spec": k8s.ApiClient().sanitize_for_serialization(template.spec),
                },
            },
        }
    )
    batch = k8s.BatchV1Api(k8s_api)
    batch.create_namespaced_job(k8s_namespace, job)

    def complete() -> bool:
        conds = batch.read_namespaced_job_status("hello-job", k8s_namespace).status.conditions or []
        assert not any(c.type == "Failed" and c.status == "True" for c in conds), conds
        return any(c.type == "Complete" and c.status == "True" for c in conds)

    wait_for(complete, timeout=60, message="Job hello-job Complete")
    pods = k8s.CoreV1Api(k8s_api).list_namespaced_pod(k8s_namespace, label_selector="job-name=hello-job").items
    assert len(pods) == 1
    assert pods[0].status.phase == "Succeeded"
    assert "checks ok" in node_agent.logs(k8s_namespace, pods[0].metadata.name)


def test_active_deadline_fails_the_pod(node_agent: NodeAgent, k8s_api: k8s.ApiClient, k8s_namespace: str) -> None:
    pod = make_pod("sleeper", ["python", "-c", "import time; time.sleep(600)"], activeDeadlineSeconds=2)
    k8s.CoreV1Api(k8s_api).create_namespaced_pod(k8s_namespace, pod)
    wait_pod_phase(k8s_api, k8s_namespace, "sleeper", ("Running",))
    pid = node_agent.pid(k8s_namespace, "sleeper")
    assert pid is not None
    done = wait_pod_phase(k8s_api, k8s_namespace, "sleeper", ("Succeeded", "Failed"), timeout=30)
    assert done.status.phase == "Failed"
    assert done.status.reason == "DeadlineExceeded"
    assert done.status.message == DEADLINE_MESSAGE
    assert done.status.container_statuses[0].state.terminated is not None
    wait_for(lambda: not procs.is_running(pid), timeout=10, message=f"pid {pid} gone")


def test_exit_code_is_reported(node_agent: NodeAgent, k8s_api: k8s.ApiClient, k8s_namespace: str) -> None:
    pod = make_pod("exit3", ["python", "-c", "import sys; print('bye'); sys.exit(3)"])
    k8s.CoreV1Api(k8s_api).create_namespaced_pod(k8s_namespace, pod)
    done = wait_pod_phase(k8s_api, k8s_namespace, "exit3", ("Succeeded", "Failed"))
    assert done.status.phase == "Failed"
    terminated = done.status.container_statuses[0].state.terminated
    assert (terminated.exit_code, terminated.reason) == (3, "Error")
    assert terminated.started_at is not None
    assert terminated.finished_at is not None
    assert done.status.start_time is not None
    assert done.status.host_ip == "127.0.0.1"
    assert node_agent.logs(k8s_namespace, "exit3") == "bye\n"


def test_deleting_a_running_pod_kills_its_process(
    node_agent: NodeAgent, k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    # The child shell shares the process group: the whole group must die, not just the leader.
    pod = make_pod("victim", ["sh", "-c", "sleep 600 & wait"], terminationGracePeriodSeconds=30)
    core = k8s.CoreV1Api(k8s_api)
    core.create_namespaced_pod(k8s_namespace, pod)
    wait_pod_phase(k8s_api, k8s_namespace, "victim", ("Running",))
    pid = node_agent.pid(k8s_namespace, "victim")
    assert pid is not None
    assert procs.is_running(pid)
    wait_for(lambda: len(procs.group_members(pid)) == 2, timeout=10, message="sh and its sleep child")
    core.delete_namespaced_pod("victim", k8s_namespace)  # default grace period (30s, capped by the agent)
    wait_for(
        lambda: is_gone(lambda: core.read_namespaced_pod("victim", k8s_namespace)),
        timeout=20,
        message="pod victim deleted",
    )
    assert not procs.is_running(pid)
    assert procs.group_members(pid) == []


def test_namespace_deletion_finishes_running_pods(
    control_plane: ControlPlane, node_agent: NodeAgent, k8s_api: k8s.ApiClient
) -> None:
    # The namespace controller deletes the pod gracefully; the agent must kill it and finish the deletion.
    namespace = control_plane.create_namespace(namespace_for_test("ns-deletion"))
    k8s.CoreV1Api(k8s_api).create_namespaced_pod(namespace, make_pod("stay", ["sleep", "600"]))
    wait_pod_phase(k8s_api, namespace, "stay", ("Running",))
    pid = node_agent.pid(namespace, "stay")
    assert pid is not None
    assert control_plane.delete_namespace(namespace, timeout=30), "namespace still terminating after 30s"
    assert not procs.is_running(pid)


def test_restart_policy_on_failure_restarts(node_agent: NodeAgent, k8s_api: k8s.ApiClient, k8s_namespace: str) -> None:
    # Fails on the first run, succeeds on the second (state kept in the emptyDir-free pod root).
    script = (
        "import os, pathlib, sys; marker = pathlib.Path(os.environ['NODE_AGENT_POD_ROOT'], 'ran');"
        "first = not marker.exists(); marker.touch(); sys.exit(1 if first else 0)"
    )
    k8s.CoreV1Api(k8s_api).create_namespaced_pod(
        k8s_namespace, make_pod("flaky", ["python", "-c", script], restartPolicy="OnFailure")
    )
    done = wait_pod_phase(k8s_api, k8s_namespace, "flaky", ("Succeeded", "Failed"), timeout=30)
    status = done.status.container_statuses[0]
    assert done.status.phase == "Succeeded"
    assert status.restart_count == 1
    assert status.last_state.terminated.exit_code == 1


# ----------------------------------------------------------------------------------------------- controllers
def test_garbage_collector_deletes_dependents(k8s_api: k8s.ApiClient, k8s_namespace: str) -> None:
    core = k8s.CoreV1Api(k8s_api)
    owner = core.create_namespaced_config_map(k8s_namespace, k8s.V1ConfigMap.from_dict({"metadata": {"name": "owner"}}))
    core.create_namespaced_config_map(
        k8s_namespace,
        k8s.V1ConfigMap.from_dict(
            {
                "metadata": {
                    "name": "child",
                    "ownerReferences": [
                        {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}
                    ],
                }
            }
        ),
    )
    core.delete_namespaced_config_map("owner", k8s_namespace)
    wait_for(
        lambda: is_gone(lambda: core.read_namespaced_config_map("child", k8s_namespace)),
        timeout=30,
        message="child ConfigMap garbage-collected",
    )


# --------------------------------------------------------------------------------------------------- RBAC
def test_serviceaccount_role_is_namespaced(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    core, rbac = k8s.CoreV1Api(k8s_api), k8s.RbacAuthorizationV1Api(k8s_api)
    core.create_namespaced_service_account(
        k8s_namespace, k8s.V1ServiceAccount.from_dict({"metadata": {"name": "reader"}})
    )
    rbac.create_namespaced_role(
        k8s_namespace,
        k8s.V1Role.from_dict(
            {
                "metadata": {"name": "cm-reader"},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}],
            }
        ),
    )
    rbac.create_namespaced_role_binding(
        k8s_namespace,
        k8s.V1RoleBinding.from_dict(
            {
                "metadata": {"name": "cm-reader"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-reader"},
                "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": k8s_namespace}],
            }
        ),
    )
    kubeconfig = control_plane.serviceaccount_kubeconfig(k8s_namespace, "reader")

    inside = control_plane.kubectl("get", "configmaps", "-n", k8s_namespace, "-o", "name", kubeconfig=kubeconfig)
    assert "configmap/kube-root-ca.crt" in inside.stdout
    with control_plane.api_client(kubeconfig) as sa_api:
        sa_core = k8s.CoreV1Api(sa_api)
        assert sa_core.list_namespaced_config_map(k8s_namespace).items is not None
        with pytest.raises(ApiException) as exc:
            sa_core.list_namespaced_config_map("default")
        assert exc.value.status == 403
        with pytest.raises(ApiException) as exc:
            sa_core.list_namespaced_secret(k8s_namespace)
        assert exc.value.status == 403
    outside = control_plane.kubectl("get", "configmaps", "-n", "default", kubeconfig=kubeconfig, check=False)
    assert outside.returncode != 0
    assert f'User "system:serviceaccount:{k8s_namespace}:reader" cannot list resource "configmaps"' in outside.stderr


# --------------------------------------------------------------------------------------------------- webhook
class _Webhook:
    """A tiny HTTPS admission webhook on 127.0.0.1 that denies ConfigMaps named deny-*."""

    def __init__(self, directory: Path) -> None:
        self.ca = certs.make_ca("webhook-ca")
        cert_path, key_path = certs.issue(self.ca, "webhook", ip_addresses=("127.0.0.1",), server=True).write(
            directory, "webhook"
        )
        self.calls: list[str] = []
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                request = review["request"]
                name = request["object"]["metadata"].get("name", "")
                webhook.calls.append(name)
                allowed = not name.startswith("deny-")
                response: dict[str, Any] = {"uid": request["uid"], "allowed": allowed}
                if not allowed:
                    response["status"] = {"code": 403, "message": f"supertest webhook says no to {name}"}
                body = json.dumps(
                    {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _Webhook:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def test_validating_webhook_denial_reaches_client(k8s_api: k8s.ApiClient, k8s_namespace: str, tmp_path: Path) -> None:
    admission = k8s.AdmissionregistrationV1Api(k8s_api)
    core = k8s.CoreV1Api(k8s_api)
    with _Webhook(tmp_path) as hook:
        config_name = f"deny-{k8s_namespace}"
        admission.create_validating_webhook_configuration(
            k8s.V1ValidatingWebhookConfiguration.from_dict(
                {
                    "metadata": {"name": config_name},
                    "webhooks": [
                        {
                            "name": "deny.test.supertest.dev",
                            "clientConfig": {
                                "url": f"https://127.0.0.1:{hook.port}/validate",
                                "caBundle": base64.b64encode(hook.ca.cert_pem).decode(),
                            },
                            "rules": [
                                {
                                    "apiGroups": [""],
                                    "apiVersions": ["v1"],
                                    "operations": ["CREATE"],
                                    "resources": ["configmaps"],
                                }
                            ],
                            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": k8s_namespace}},
                            "sideEffects": "None",
                            "admissionReviewVersions": ["v1"],
                            "failurePolicy": "Fail",
                            "timeoutSeconds": 5,
                        }
                    ],
                }
            )
        )
        try:
            attempts = iter(range(1000))

            def denied() -> ApiException | None:
                # The apiserver picks the configuration up asynchronously: retry with fresh names until
                # denied.
                name = f"deny-{next(attempts)}"
                try:
                    core.create_namespaced_config_map(
                        k8s_namespace, k8s.V1ConfigMap.from_dict({"metadata": {"name": name}})
                    )
                except ApiException as exc:
                    return exc
                return None

            exc = wait_for(denied, timeout=30, message="webhook denial")
            assert exc.status == 403
            message = json.loads(exc.body)["message"]
            assert message.startswith('admission webhook "deny.test.supertest.dev" denied the request: ')
            assert "supertest webhook says no to deny-" in message
            core.create_namespaced_config_map(k8s_namespace, k8s.V1ConfigMap.from_dict({"metadata": {"name": "fine"}}))
            assert "fine" in hook.calls
        finally:
            admission.delete_validating_webhook_configuration(config_name)


# --------------------------------------------------------------------------------------------------- agent
def test_node_agent_relists_after_watch_expiry(control_plane: ControlPlane) -> None:
    agent = NodeAgent(control_plane.kubeconfig_path, node_name="relist-node")
    real_list = agent.core.list_pod_for_all_namespaces
    calls = {"list": 0, "watch": 0}

    def expiring(*args: Any, **kwargs: Any) -> Any:
        kind = "watch" if kwargs.get("watch") else "list"
        calls[kind] += 1
        if kind == "watch" and calls["watch"] == 1:
            raise ApiException(status=410, reason="Expired: too old resource version")
        return real_list(*args, **kwargs)

    agent.core.list_pod_for_all_namespaces = expiring  # type: ignore[method-assign]
    with agent.start():
        # 410 on the first watch -> a second list, then a watch that is established normally.
        wait_for(lambda: calls["list"] >= 2 and calls["watch"] >= 2, timeout=15, message=lambda: str(calls))
    assert agent.errors == []
    with control_plane.api_client() as api:
        k8s.CoreV1Api(api).delete_node("relist-node")
