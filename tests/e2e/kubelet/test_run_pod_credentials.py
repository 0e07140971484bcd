"""Issue #12, "Done when" 1, on the real kubelet: a hostile script in a real runner container finds no platform
credential and cannot touch another run.

The API listens on the node IP (where the pods reach the host) with RUN_TOKEN_KEY; the operator hands pods only
INGEST_URL and a secretKeyRef to their own run's token. The script reads /proc/*/environ, every file it can reach
under the mounts and /dev/termination-log, then tries, with its own token and with none, to overwrite the other
run's report and to append to its stream; it attaches what it read and what the API answered.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

import pytest
import redis

from supertest.events import stream_key
from tests.e2e.conftest import TERMINAL, Cluster, E2eEnv, OperatorFactory, make_testrun, serve_api
from tests.e2e.scripts import TINY
from tests.k8s.node import NODE_IP
from tests.k8s.wait import wait_for

pytestmark = pytest.mark.timeout(1800)

HOSTILE = r"""
const { test, expect } = require('@playwright/test');
const fs = require('fs');
const path = require('path');

function readAll(root, out, depth = 0) {
  let entries = [];
  try { entries = fs.readdirSync(root, { withFileTypes: true }); } catch (e) { return; }
  for (const e of entries) {
    const p = path.join(root, e.name);
    if (e.isDirectory() && depth < 6) readAll(p, out, depth + 1);
    else if (e.isFile()) { try { out.push(p + '\n' + fs.readFileSync(p, 'latin1').slice(0, 200000)); } catch (x) {} }
  }
}

test('hostile', async ({}, testInfo) => {
  const seen = [];
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try { seen.push(`/proc/${pid}/environ\n` + fs.readFileSync(`/proc/${pid}/environ`, 'latin1')); } catch (e) {}
    try { seen.push(`/proc/${pid}/cmdline\n` + fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1')); } catch (e) {}
  }
  for (const root of ['/supertest', '/tmp', '/var/run', '/run', '/etc/podinfo']) readAll(root, seen);
  try { seen.push('/dev/termination-log\n' + fs.readFileSync('/dev/termination-log', 'latin1')); } catch (e) {}

  const env = Object.fromEntries(fs.readFileSync('/proc/1/environ', 'latin1').split('\0').filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  const base = `${env.SUPERTEST_INGEST_URL}/ingest/runs/${env.SUPERTEST_RUN_NAMESPACE}`;
  const mine = { Authorization: `Bearer ${env.SUPERTEST_RUN_TOKEN}`, 'Content-Type': 'application/json' };
  const none = { 'Content-Type': 'application/json' };
  const forged = JSON.stringify({ events: [{ type: 'status', runId: 'victim', phase: 'Failed', message: 'forged' }] });
  const attempts = {};
  const send = async (name, url, init) => { attempts[name] = (await fetch(url, init)).status; };
  const put = (headers) => ({ method: 'PUT', headers, body: 'owned' });
  const post = (headers) => ({ method: 'POST', headers, body: forged });
  const victimReport = `${base}/victim/artifacts/report/index.html`;
  const escape = `${base}/${env.SUPERTEST_RUN_ID}/artifacts/..%2F..%2Fvictim%2Freport%2Findex.html`;
  await send('report_with_token', victimReport, put(mine));
  await send('report_without_token', victimReport, put(none));
  await send('traversal_with_token', escape, put(mine));
  await send('stream_with_token', `${base}/victim/events`, post(mine));
  await send('stream_without_token', `${base}/victim/events`, post(none));
  await send('own_stream_forged_run', `${base}/${env.SUPERTEST_RUN_ID}/events`, post(mine));
  await testInfo.attach('attempts', { body: JSON.stringify(attempts), contentType: 'application/json' });
  await testInfo.attach('seen', { body: seen.join('\n----\n'), contentType: 'text/plain' });
});
"""


def _attachments(results: dict[str, Any]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}

    def walk(suites: list[dict[str, Any]]) -> None:
        for suite in suites:
            walk(suite.get("suites") or [])
            for spec in suite.get("specs") or []:
                for test in spec.get("tests") or []:
                    for result in test.get("results") or []:
                        for attachment in result.get("attachments") or []:
                            if "body" in attachment:
                                found[attachment["name"]] = base64.b64decode(attachment["body"])

    walk(results.get("suites") or [])
    return found


def test_a_hostile_script_finds_no_platform_credential_and_owns_only_its_run(
    e2e: E2eEnv, cluster: Cluster, start_operator: OperatorFactory
) -> None:
    key = secrets.token_hex(32)
    with serve_api(e2e, cluster, host=NODE_IP, RUN_TOKEN_KEY=key) as (url, _auth):
        start_operator(ingest_url=url, run_token_key=key, runner_direct_credentials="false", running_capacity="2")
        cluster.create_run(make_testrun("victim", TINY))
        victim = cluster.wait_phase("victim", TERMINAL, timeout=300)
        assert victim["status"]["phase"] == "Passed", victim["status"]
        s3 = e2e.s3.client()
        bucket = e2e.buckets["test"]
        report_before = s3.get_object(Bucket=bucket, Key="runs/victim/report/index.html")["Body"].read()
        stream = redis.Redis.from_url(e2e.redis_url, decode_responses=True)
        stream_before = stream.xrange(stream_key("victim"))
        assert stream_before, "the victim's live events reached its stream through the ingest endpoint"

        cluster.create_run(make_testrun("hostile", HOSTILE))
        # The pod spec as anyone allowed to `get pods` reads it.
        pod = wait_for(
            lambda: cluster.kubectl("get", "pod", "hostile-a1", "-o", "json", check=False).stdout,
            timeout=120,
            message="the hostile run's pod",
        )
        hostile = cluster.wait_phase("hostile", TERMINAL, timeout=300)
        assert hostile["status"]["phase"] == "Passed", hostile["status"]

        results = json.loads(s3.get_object(Bucket=bucket, Key="runs/hostile/results.json")["Body"].read())
        found = _attachments(results)
        attempts = json.loads(found["attempts"])
        assert attempts == {
            "report_with_token": 403,
            "report_without_token": 401,
            "traversal_with_token": attempts["traversal_with_token"],
            "stream_with_token": 403,
            "stream_without_token": 401,
            "own_stream_forged_run": 403,
        }, attempts
        assert attempts["traversal_with_token"] in (400, 403, 404)

        seen = found["seen"].decode("latin1")
        assert "/proc/1/environ" in seen and "SUPERTEST_RUN_TOKEN=" in seen  # it did read the runner's env
        assert redis.Redis.from_url(e2e.redis_url).connection_pool.connection_kwargs["password"]
        forbidden = {
            "redis password": str(redis.Redis.from_url(e2e.redis_url).connection_pool.connection_kwargs["password"]),
            "S3 secret key": e2e.s3.secret_key,
            "database URL": e2e.database_url,
            "run token key": key,
        }
        for what, value in forbidden.items():
            assert value not in seen, f"the script found the {what}"
            assert value not in pod, f"the pod spec holds the {what}"
        for name in ("REDIS_URL", "DATABASE_URL", "S3_ENDPOINT", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID"):
            assert f"{name}=" not in seen and f'"{name}"' not in pod, name

        # The other run is as it was.
        assert s3.get_object(Bucket=bucket, Key="runs/victim/report/index.html")["Body"].read() == report_before
        assert stream.xrange(stream_key("victim")) == stream_before
        assert cluster.run("victim")["status"]["summary"] == victim["status"]["summary"]  # type: ignore[index]
        assert cluster.run("victim")["status"]["phase"] == "Passed"  # type: ignore[index]
