"""`helm install` of the chart on the real node, as a user installs it: the images built from our Dockerfiles, a
ci values file, and the Postgres, Redis and S3 servers this session runs on the node IP as the external services.

Then, on that one release: `helm test`; a TestRun applied with kubectl passes in a runner container, with its
report in S3 and its row in Postgres; a TestJob ticks and its JobRun passes; and in Chromium, the UI served by the
app image signs in, runs the example test from the Playground and shows its report (a screenshot is kept).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
import yaml
from playwright.sync_api import expect, sync_playwright

from supertest.db.models import RunRecord
from tests.e2e.conftest import TERMINAL, Cluster, E2eEnv, make_testrun
from tests.e2e.scripts import PASSING, TINY
from tests.e2e_ui.conftest import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, watch_foreign_requests
from tests.k8s.images import BuiltImages
from tests.k8s.node import RealNode
from tests.k8s.wait import wait_for
from tests.services.postgres import PostgresServer
from tests.services.redis_server import RedisServer
from tests.services.s3 import S3Server
from tests.unit.chart.chartlib import CHART, helm

CI_VALUES = CHART / "ci" / "real-node-values.yaml"
# The first test of the tier may build both images (minutes on a cold machine) and installs a release.
pytestmark = pytest.mark.timeout(1800)


def split_image(name: str) -> dict[str, str]:
    repository, tag = name.rsplit(":", 1)
    return {"repository": repository, "tag": tag}


@dataclass
class Release:
    name: str
    namespace: str
    api_url: str
    api_key: str
    buckets: dict[str, str]
    database_url: str


def release_values(
    images: BuiltImages, postgres: PostgresServer, redis: RedisServer, s3: S3Server, database_url: str, suffix: str
) -> dict[str, Any]:
    return {
        "api": {"image": split_image(images.app)},
        "operator": {"image": split_image(images.app)},
        "migrations": {"image": split_image(images.app)},
        "runner": {"image": split_image(images.runner)},
        "postgres": {"enabled": False, "external": {"url": database_url}},
        "redis": {"enabled": False, "external": {"url": redis.url}},
        "objectStore": {
            "enabled": False,
            "region": s3.region,
            "external": {"endpoint": s3.endpoint, "accessKeyId": s3.access_key, "secretAccessKey": s3.secret_key},
            # The chart's post-install hook creates them.
            "buckets": {"test": f"rel-tests-{suffix}", "job": f"rel-jobs-{suffix}"},
        },
    }


@pytest.fixture
def release(
    e2e: E2eEnv,
    real_node: RealNode,
    built_images: BuiltImages,
    node_services: tuple[PostgresServer, RedisServer, S3Server],
    cluster: Cluster,
) -> Iterator[Release]:
    postgres, redis, s3 = node_services
    suffix = uuid.uuid4().hex[:6]
    database_url = postgres.create_database()  # empty: the chart's migration hook creates the schema
    values = release_values(built_images, postgres, redis, s3, database_url, suffix)
    values_file = e2e.tmp / f"release-{suffix}.yaml"
    values_file.write_text(yaml.safe_dump(values))
    name = f"st{suffix}"
    env = {**os.environ, "KUBECONFIG": str(real_node.cp.kubeconfig_path)}
    # --take-ownership: the session's CRDs may already have been applied with kubectl by another test.
    args = ["-n", cluster.ns, "-f", str(CI_VALUES), "-f", str(values_file)]
    installed = helm(
        "install",
        name,
        str(CHART),
        *args,
        "--take-ownership",
        "--wait",
        "--timeout=10m",
        env=env,
        timeout=660,
        check=False,
    )
    if installed.returncode != 0:  # say why: the pods and the namespace's recent events
        state = cluster.kubectl("get", "pods,jobs", "-o", "wide").stdout
        events = cluster.kubectl("get", "events", "--sort-by=.lastTimestamp").stdout.splitlines()[-25:]
        raise AssertionError(f"helm install failed:\n{installed.stderr}\n{state}\n" + "\n".join(events))
    assert "STATUS: deployed" in installed.stdout, installed.stdout
    try:
        api_pod = cluster.kubectl("get", "pods", "-l", "app.kubernetes.io/component=api", "-o", "name").stdout.split()[
            0
        ]
        created = cluster.kubectl("exec", api_pod, "--", "supertest", "apikey", "create", "--name", "e2e")
        api_key = re.search(r"st_[A-Za-z0-9_\-]+", created.stdout)
        assert api_key, created.stdout
        service = cluster.core.read_namespaced_service(f"{name}-supertest-api", cluster.ns)
        # The ClusterIP, through kube-proxy as any client in the cluster would; written as the browser writes it (no
        # :80), so the check that no request leaves the app's host compares like with like.
        port = service.spec.ports[0].port
        api_url = f"http://{service.spec.cluster_ip}" + ("" if port == 80 else f":{port}")
        yield Release(
            name=name,
            namespace=cluster.ns,
            api_url=api_url,
            api_key=api_key.group(0),
            buckets=values["objectStore"]["buckets"],
            database_url=database_url,
        )
    finally:
        cluster.custom.delete_collection_namespaced_custom_object("supertest.dev", "v1alpha1", cluster.ns, "testjobs")
        helm("uninstall", name, "-n", cluster.ns, "--wait", "--timeout=3m", check=False, env=env)
        # kopf creates the webhook configurations at run time, so Helm does not remove them (see the README).
        cluster.kubectl(
            "delete", "--ignore-not-found", "validatingwebhookconfiguration,mutatingwebhookconfiguration",
            f"{name}-supertest.supertest.dev", check=False,
        )  # fmt: skip


def row_phase(database_url: str, run_id: str) -> str | None:
    engine = sa.create_engine(database_url)
    try:
        with sa.orm.Session(engine) as session:
            row = session.get(RunRecord, run_id)
            return row.phase if row is not None else None
    finally:
        engine.dispose()


def test_helm_install_on_the_real_node(
    release: Release, cluster: Cluster, node_services: tuple[PostgresServer, RedisServer, S3Server], real_node: RealNode
) -> None:
    _, _, s3 = node_services
    env = {**os.environ, "KUBECONFIG": str(real_node.cp.kubeconfig_path)}

    # 1. helm test: the chart's own check (a TestRun created with the API's ServiceAccount passes).
    tested = helm("test", release.name, "-n", release.namespace, "--timeout=6m", env=env, check=False, timeout=400)
    assert tested.returncode == 0 and "Phase:          Succeeded" in tested.stdout, tested.stdout + tested.stderr

    # 2. kubectl apply: a TestRun passes in a runner container; report in S3, row in Postgres.
    cluster.apply(make_testrun("applied", PASSING, timeoutSeconds=180))
    run = cluster.wait_phase("applied", TERMINAL, timeout=240)
    assert run["status"]["phase"] == "Passed", run["status"]
    pod = cluster.core.read_namespaced_pod(run["status"]["podName"], release.namespace)
    assert pod.spec.containers[0].image.endswith(release_image_tag(cluster, release))
    keys = {
        o["Key"]
        for o in s3.client().list_objects_v2(Bucket=release.buckets["test"], Prefix="runs/applied/").get("Contents", [])
    }
    assert {"runs/applied/report/index.html", "runs/applied/results.json"} <= keys, keys
    wait_for(lambda: row_phase(release.database_url, "applied") == "Passed", timeout=30, message="the Postgres row")

    # 3. A TestJob in git's shape ticks every minute; its first JobRun passes.
    cluster.apply(
        {
            "apiVersion": "supertest.dev/v1alpha1",
            "kind": "TestJob",
            "metadata": {"name": "smoke"},
            "spec": {"schedule": "* * * * *", "tests": [{"name": "tiny", "script": TINY}]},
        }
    )

    def ticked_run() -> dict[str, Any] | None:
        runs = [r for r in cluster.runs("jobruns") if r["metadata"]["name"].startswith("smoke-")]
        done = [r for r in runs if (r.get("status") or {}).get("phase") in TERMINAL]
        return done[0] if done else None

    jobrun = wait_for(ticked_run, timeout=200, interval=1, message="a tick of the TestJob to finish")
    assert jobrun["status"]["phase"] == "Passed", jobrun["status"]
    assert jobrun["metadata"]["labels"]["supertest.dev/trigger"] == "schedule"

    # 4. The UI from the app image, in Chromium: sign in, run the Playground's example test, read its report.
    ui_run_passes_and_shows_its_report(release)


def release_image_tag(cluster: Cluster, release: Release) -> str:
    deployment = cluster.kubectl("get", "deploy", f"{release.name}-supertest-operator", "-o", "yaml").stdout
    env = yaml.safe_load(deployment)["spec"]["template"]["spec"]["containers"][0]["env"]
    return str(next(e["value"] for e in env if e["name"] == "RUNNER_IMAGE"))


def ui_run_passes_and_shows_its_report(release: Release) -> None:
    screenshots = (
        SCREENSHOTS if os.environ.get("SUPERTEST_UPDATE_SCREENSHOTS") == "1" else Path(os.environ.get("TMPDIR", "/tmp"))
    )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 720}, base_url=release.api_url)
            # Reports come from the artifacts origin: the same Service, its second port (api.artifacts.servicePort).
            artifacts_url = f"http://{urlsplit(release.api_url).hostname}:8081"
            foreign = watch_foreign_requests(context, release.api_url, artifacts_url)
            page = context.new_page()
            page.goto("/playground")
            page.get_by_label("API key").fill(release.api_key)
            page.get_by_role("button", name="Log in").click()
            expect(page.get_by_role("navigation", name="Main")).to_be_visible(timeout=30_000)
            # The Playground opens with the example test; run it as it is.
            page.get_by_role("button", name="Run").click()
            expect(page.get_by_label("Phase")).to_have_text("Passed", timeout=240_000)
            expect(page.get_by_label("Test counts")).to_contain_text("0 failed")
            report = page.frame_locator("iframe[title='Report']")
            expect(report.get_by_text("passed").first).to_be_visible(timeout=60_000)
            frame_src = page.locator("iframe[title='Report']").get_attribute("src") or ""
            assert frame_src.startswith(artifacts_url + "/"), frame_src
            close = page.get_by_role("button", name="Dismiss notification")
            while close.count():
                close.first.click()
            page.screenshot(path=str(screenshots / "helm-release-playground.png"), caret="hide")
            context.close()
            assert not foreign, f"requests left the app's host: {foreign}"
        finally:
            browser.close()
