"""Pure functions from a run to its child manifests: the runner Pod (and the script ConfigMap of large scripts).

No I/O here, so every manifest decision is unit-testable without a cluster.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from supertest.kube import testjobs
from supertest.kube.models import (
    ConfigMapKeyRef,
    EnvVar,
    JobRunSpec,
    JobTest,
    Resources,
    TestRunSpec,
    format_time,
    parse_spec,
)
from supertest.kube.names import (
    ANNOTATION_JOB_ID,
    ANNOTATION_SCHEDULED_AT,
    ANNOTATION_TITLE,
    API_VERSION,
    JOBRUN,
    LABEL_ATTEMPT,
    LABEL_KIND,
    LABEL_MANAGED_BY,
    LABEL_RUN,
    LABEL_SHARD,
    LABEL_TESTJOB,
    LABEL_TRIGGER,
    MANAGED_BY,
    MAX_RUN_NAME,
)
from supertest.rerun import rerun_spec
from supertest.run_token import RunClaims, mint
from supertest.sharding import ShardPlan
from supertest_operator.run import RunRef, RunView
from supertest_operator.settings import OperatorSettings

Manifest = dict[str, Any]

SCRIPTS_DIR = "/supertest/scripts"
WORK_DIR = "/supertest/work"
TMP_DIR = "/tmp"
# Kubelet's default path, named explicitly: the runner writes its verdict here and the operator reads it back from
# the pod status (state.terminated.message), so the result never depends on Redis.
TERMINATION_MESSAGE_PATH = "/dev/termination-log"
RUNNER_UID = 1000
CONTAINER_NAME = "runner"
# SIGTERM makes the runner cancel Playwright and still upload what it has.
TERMINATION_GRACE_SECONDS = 30
# The runner's upload window after its deadline (supertest_runner.upload's 120 s bound, and some slack).
UPLOAD_MARGIN_SECONDS = 300
TOKEN_KEY = "token"  # noqa: S105 -- the Secret item's name, not a credential

# Set by the operator; a user's spec.env may not shadow them (the runner trusts them).
RESERVED_ENV_PREFIXES = ("SUPERTEST_", "S3_", "AWS_", "PW_", "PLAYWRIGHT_")
RESERVED_ENV_NAMES = frozenset(
    {"REDIS_URL", "DATABASE_URL", "HOME", "MAX_CONCURRENT_TESTS", "CHROMIUM_PATH", "RUN_BACKEND", "PATH"}
)


@dataclass(frozen=True, slots=True)
class ScriptFile:
    """One file in the pod's scripts folder: inline text (goes into our ConfigMap) or a user ConfigMap key."""

    file_name: str
    content: str | None = None
    config_map_ref: ConfigMapKeyRef | None = None


def child_name(run_name: str, attempt: int | None = None) -> str:
    """The ONE naming rule for a run's children: `<run>-scripts` for the ConfigMap, `<run>-a<N>` per pod attempt."""
    return f"{run_name}-scripts" if attempt is None else f"{run_name}-a{attempt}"


MERGE = "merge"


@dataclass(frozen=True, slots=True)
class ShardRole:
    """What one pod of a sharded run does: shard `plan.index` of `total`, or (plan None) the merge step."""

    total: int
    plan: ShardPlan | None = None

    @property
    def label(self) -> str:
        return MERGE if self.plan is None else str(self.plan.index)

    def env(self) -> dict[str, str]:
        if self.plan is None:
            return {"SUPERTEST_SHARD_MERGE": "1", "SUPERTEST_SHARD_TOTAL": str(self.total)}
        return {
            "SUPERTEST_SHARD_INDEX": str(self.plan.index),
            "SUPERTEST_SHARD_TOTAL": str(self.total),
            "SUPERTEST_SHARD_FILES": ",".join(self.plan.files),
        }


def shard_pod_name(run_name: str, role: ShardRole, attempt: int) -> str:
    """`<run>-s<k>-a<N>` per shard attempt, `<run>-merge-a<N>` for the merge step: at most 63 characters for a
    52-character run name (the CRD's limit), and distinct from the unsharded `<run>-a<N>`."""
    part = "merge" if role.plan is None else f"s{role.plan.index}"
    return f"{run_name}-{part}-a{attempt}"


def owner_reference(run: RunRef) -> Manifest:
    # controller + blockOwnerDeletion: the garbage collector removes children with the run (TTL, kubectl delete).
    return {
        "apiVersion": API_VERSION,
        "kind": run.resource.kind,
        "name": run.name,
        "uid": run.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def child_labels(run: RunRef, attempt: int | None = None) -> dict[str, str]:
    labels = {
        LABEL_RUN: run.name,
        LABEL_KIND: run.resource.run_kind,
        LABEL_MANAGED_BY: MANAGED_BY,
    }
    if attempt is not None:
        labels[LABEL_ATTEMPT] = str(attempt)
    return labels


def reserved_env_names(names: Sequence[str]) -> list[str]:
    return [n for n in names if n in RESERVED_ENV_NAMES or n.startswith(RESERVED_ENV_PREFIXES)]


@dataclass(frozen=True, slots=True)
class StoredScript:
    """A stored test's script as read from the database when the run is admitted."""

    script: str
    language: str

    @property
    def extension(self) -> str:
        return "ts" if self.language == "typescript" else "js"


def script_files(spec: TestRunSpec | JobRunSpec, stored: Mapping[str, StoredScript] | None = None) -> list[ScriptFile]:
    """File names sort in run order (`01-…`, `02-…`), which is the order the runner executes them in."""
    if isinstance(spec, TestRunSpec):
        return [ScriptFile(f"test.spec.{spec.extension}", spec.script, _ref(spec.script_from))]
    if spec.tests is None:
        raise ValueError("a JobRun with jobRef needs its tests resolved first (job_test_files)")
    return job_test_files(spec.tests, stored or {})


def job_test_files(tests: Sequence[JobTest], stored: Mapping[str, StoredScript]) -> list[ScriptFile]:
    files: list[ScriptFile] = []
    for i, test in enumerate(tests, start=1):
        if test.test_id is not None:
            found = stored[test.test_id]
            files.append(ScriptFile(f"{i:02d}-{test.name}.spec.{found.extension}", content=found.script))
        else:
            files.append(ScriptFile(f"{i:02d}-{test.name}.spec.{test.extension}", test.script, _ref(test.script_from)))
    return files


def _ref(script_from: Any) -> ConfigMapKeyRef | None:
    return None if script_from is None else script_from.config_map_key_ref


# Inline scripts up to this many bytes in all travel in the pod itself, as annotations that a downwardAPI projection
# mounts as files: no ConfigMap to create, watch and garbage-collect, one write fewer per run for the apiserver (a
# fifth of its work per admission in bench/burst.py). Larger ones get a ConfigMap of their own: the apiserver caps a
# pod's annotations at 256 KiB, and every watcher of pods is sent the pod's annotations on each of its changes.
INLINE_SCRIPT_BYTES = 32 * 1024
SCRIPT_ANNOTATION_PREFIX = "scripts.supertest.dev/"


def scripts_in_pod(files: Sequence[ScriptFile]) -> bool:
    """Whether the run's inline scripts are small enough to travel in its pods (see INLINE_SCRIPT_BYTES)."""
    return sum(len(f.content.encode()) for f in files if f.content is not None) <= INLINE_SCRIPT_BYTES


def _script_annotation(index: int) -> str:
    return f"{SCRIPT_ANNOTATION_PREFIX}{index}"


def script_annotations(files: Sequence[ScriptFile]) -> dict[str, str]:
    """The pod's annotations holding its inline scripts, when they travel in the pod; else none."""
    if not scripts_in_pod(files):
        return {}
    return {_script_annotation(i): f.content for i, f in enumerate(files) if f.content is not None}


def build_configmap(run: RunRef, files: Sequence[ScriptFile]) -> Manifest | None:
    """The inline scripts too large to travel in the pod; None when there are none (small ones are in the pod's
    annotations, and scripts from the user's own ConfigMaps are mounted from those)."""
    data = {f.file_name: f.content for f in files if f.content is not None}
    if not data or scripts_in_pod(files):
        return None
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": child_name(run.name),
            "namespace": run.namespace,
            "labels": child_labels(run),
            "ownerReferences": [owner_reference(run)],
        },
        "data": data,
        "immutable": True,
    }


def _scripts_volume(run: RunRef, files: Sequence[ScriptFile]) -> Manifest:
    sources: list[Manifest] = []
    if scripts_in_pod(files):
        items = [
            {"path": f.file_name, "fieldRef": {"fieldPath": f"metadata.annotations['{_script_annotation(i)}']"}}
            for i, f in enumerate(files)
            if f.content is not None
        ]
        if items:
            sources.append({"downwardAPI": {"items": items}})
    else:
        items = [{"key": f.file_name, "path": f.file_name} for f in files if f.content is not None]
        sources.append({"configMap": {"name": child_name(run.name), "items": items}})
    for f in files:
        if f.config_map_ref is not None:
            item = {"key": f.config_map_ref.key, "path": f.file_name}
            sources.append({"configMap": {"name": f.config_map_ref.name, "items": [item]}})
    return {"name": "scripts", "projected": {"defaultMode": 0o444, "sources": sources}}


def _resources(settings: OperatorSettings, override: Resources | None) -> Manifest:
    requests: dict[str, Any] = {"cpu": settings.runner_cpu_request, "memory": settings.runner_memory_request}
    limits: dict[str, Any] = {"memory": settings.runner_memory_limit}
    if override is not None:
        for target, source in ((requests, override.requests), (limits, override.limits)):
            if source is not None:
                target.update(source.model_dump(exclude_none=True))
    return {"requests": requests, "limits": limits}


def runner_env(
    run: RunRef,
    spec: TestRunSpec | JobRunSpec,
    settings: OperatorSettings,
    timeout_seconds: int,
    attempt: int = 1,
    quarantined: Sequence[str] = (),
    shard: ShardRole | None = None,
) -> list[Manifest]:
    env: list[Manifest] = [_env_entry(e) for e in spec.env]
    secret_names = [e.name for e in spec.env if e.value_from is not None]
    plain: dict[str, str | None] = {
        "RUN_BACKEND": "kubernetes",
        "SUPERTEST_RUN_ID": run.name,
        "SUPERTEST_RUN_KIND": run.resource.run_kind,
        "SUPERTEST_SCRIPTS_DIR": SCRIPTS_DIR,
        "SUPERTEST_WORK_DIR": WORK_DIR,
        "SUPERTEST_VERDICT_PATH": TERMINATION_MESSAGE_PATH,
        "SUPERTEST_TIMEOUT_SECONDS": str(timeout_seconds),
        "SUPERTEST_BROWSERS": ",".join(spec.browsers),
        "MAX_CONCURRENT_TESTS": str(spec.workers or settings.max_concurrent_tests),
        "PW_RETRIES": str(spec.test_retries),
        "HOME": TMP_DIR,
        "PW_TRACE": settings.runner_trace,
        "PW_VIDEO": settings.runner_video,
        "PW_SCREENSHOT": settings.runner_screenshot,
        "MAX_SCRIPT_BYTES": str(settings.max_script_bytes),
        # Names only: the runner masks these variables' values (which it reads from its env) in what it relays.
        "SUPERTEST_MASK_NAMES": ",".join(secret_names) if secret_names else None,
        # Quarantined tests at admission: their failures are reported apart and do not fail the run.
        "SUPERTEST_QUARANTINED_TESTS": json.dumps(sorted(quarantined)) if quarantined else None,
        # Re-run failed: the runner passes these to Playwright as its --test-list.
        "SUPERTEST_ONLY_TESTS": json.dumps(spec.only_tests) if spec.only_tests else None,
    }
    if settings.ingest_url:
        plain.update(SUPERTEST_INGEST_URL=settings.ingest_url, SUPERTEST_RUN_NAMESPACE=run.namespace)
    else:
        plain.update(_direct_settings(settings))
    plain.update(settings.runner_extra_env)
    env.extend({"name": k, "value": v} for k, v in plain.items() if v is not None)
    if settings.ingest_url:
        # The run's own token, as a reference: the pod spec never holds its value (anyone may `get pods`).
        ref = {"name": token_secret_name(run.name, attempt, shard), "key": TOKEN_KEY}
        env.append({"name": "SUPERTEST_RUN_TOKEN", "valueFrom": {"secretKeyRef": ref}})
    else:
        env.extend(_s3_credentials(settings))
    return env


def _direct_settings(settings: OperatorSettings) -> dict[str, str | None]:
    """RUNNER_DIRECT_CREDENTIALS (development only): the pod talks to Redis and S3 itself."""
    return {
        "REDIS_URL": settings.redis_url,
        "EVENT_STREAM_MAXLEN": str(settings.event_stream_maxlen),
        "EVENT_STREAM_TTL_SECONDS": str(settings.event_stream_ttl_seconds),
        "S3_ENDPOINT": settings.s3_endpoint,
        "S3_TEST_BUCKET_NAME": settings.s3_test_bucket_name,
        "S3_JOB_BUCKET_NAME": settings.s3_job_bucket_name,
        "AWS_REGION": settings.aws_region,
    }


def token_secret_name(run_name: str, attempt: int, shard: ShardRole | None = None) -> str:
    """One per pod (`<pod>-token`): a retry gets a fresh expiry, and so does each shard admitted later and the
    merge step, which start long after the run's first pods; all are owned by the run and go with it."""
    pod = child_name(run_name, attempt) if shard is None else shard_pod_name(run_name, shard, attempt)
    return pod_token_secret_name(pod)


def pod_token_secret_name(pod_name: str) -> str:
    """The token Secret of the pod of this name, whatever its role (the one naming rule: `<pod>-token`)."""
    return f"{pod_name}-token"


def token_expiry(spec: TestRunSpec | JobRunSpec, settings: OperatorSettings, now: datetime) -> int:
    """The latest moment the attempt can still be sending: waiting to start, its deadline, teardown and upload."""
    deadline = settings.start_timeout_seconds + run_timeout_seconds(spec, settings) + settings.timeout_grace_seconds
    return int(now.timestamp()) + deadline + TERMINATION_GRACE_SECONDS + UPLOAD_MARGIN_SECONDS


def build_token_secret(
    run: RunRef,
    spec: TestRunSpec | JobRunSpec,
    attempt: int,
    settings: OperatorSettings,
    now: datetime,
    shard: ShardRole | None = None,
) -> Manifest:
    """The attempt's run token (supertest/run_token.py) in a Secret owned by the run, so it is collected with it."""
    if settings.run_token_key is None:
        raise ValueError("RUN_TOKEN_KEY is not set")
    claims = RunClaims(
        run.namespace, run.name, run.resource.run_kind, token_expiry(spec, settings, now), int(now.timestamp())
    )
    token = mint(settings.run_token_key.get_secret_value().encode(), claims)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": token_secret_name(run.name, attempt, shard),
            "namespace": run.namespace,
            "labels": child_labels(run, attempt),
            "ownerReferences": [owner_reference(run)],
        },
        "type": "Opaque",
        "stringData": {TOKEN_KEY: token},
        "immutable": True,
    }


def _env_entry(var: EnvVar) -> Manifest:
    """A secret variable stays a reference: the pod spec names the Secret and key, never the value."""
    if var.value_from is not None:
        ref = var.value_from.secret_key_ref
        return {"name": var.name, "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}}
    return {"name": var.name, "value": var.value}


def _s3_credentials(settings: OperatorSettings) -> list[Manifest]:
    if not settings.s3_endpoint:
        return []
    if settings.s3_credentials_secret:
        secret = settings.s3_credentials_secret
        return [
            {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": name}}}
            for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
        ]
    # Development only: without a Secret the credentials travel in the pod spec.
    out: list[Manifest] = []
    if settings.aws_access_key_id:
        out.append({"name": "AWS_ACCESS_KEY_ID", "value": settings.aws_access_key_id})
    if settings.aws_secret_access_key:
        out.append({"name": "AWS_SECRET_ACCESS_KEY", "value": settings.aws_secret_access_key.get_secret_value()})
    return out


def run_timeout_seconds(spec: TestRunSpec | JobRunSpec, settings: OperatorSettings) -> int:
    return spec.timeout_seconds or settings.default_timeout_seconds


def build_pod(
    run: RunRef,
    spec: TestRunSpec | JobRunSpec,
    files: Sequence[ScriptFile],
    attempt: int,
    settings: OperatorSettings,
    annotations: Mapping[str, str] | None = None,
    quarantined: Sequence[str] = (),
    shard: ShardRole | None = None,
) -> Manifest:
    """The runner pod of one attempt; with `shard`, one shard's pod (only its files, a blob report) or the merge
    step's. A shard pod mounts every script (in its annotations, or the run's one ConfigMap) and the runner picks
    its own."""
    timeout = run_timeout_seconds(spec, settings)
    env = runner_env(run, spec, settings, timeout, attempt, quarantined, shard)
    labels = child_labels(run, attempt)
    name = child_name(run.name, attempt)
    if shard is not None:
        env.extend({"name": k, "value": v} for k, v in shard.env().items())
        labels[LABEL_SHARD] = shard.label
        name = shard_pod_name(run.name, shard, attempt)
    pod_spec: Manifest = {
        "restartPolicy": "Never",
        # The runner stops itself at `timeout` and uploads; the pod deadline is the backstop if it hangs.
        "activeDeadlineSeconds": timeout + settings.timeout_grace_seconds,
        "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUNNER_UID,
            "runAsGroup": RUNNER_UID,
            "fsGroup": RUNNER_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": CONTAINER_NAME,
                "image": settings.runner_image,
                "imagePullPolicy": settings.runner_image_pull_policy,
                "command": settings.runner_argv,
                "env": env,
                "resources": _resources(settings, spec.resources),
                "terminationMessagePath": TERMINATION_MESSAGE_PATH,
                # A runner that dies before writing its verdict still leaves the tail of its log as the reason.
                "terminationMessagePolicy": "FallbackToLogsOnError",
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": RUNNER_UID,
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "capabilities": {"drop": ["ALL"]},
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "volumeMounts": [
                    {"name": "scripts", "mountPath": SCRIPTS_DIR, "readOnly": True},
                    {"name": "work", "mountPath": WORK_DIR},
                    {"name": "tmp", "mountPath": TMP_DIR},
                    {"name": "dshm", "mountPath": "/dev/shm"},
                ],
            }
        ],
        "volumes": [
            _scripts_volume(run, files),
            {"name": "work", "emptyDir": {"sizeLimit": "2Gi"}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
            # Chromium needs a real /dev/shm; the container default of 64 MiB makes it crash on heavy pages.
            {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "512Mi"}},
        ],
    }
    if settings.runner_service_account:
        pod_spec["serviceAccountName"] = settings.runner_service_account
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": run.namespace,
            "labels": labels,
            "annotations": {**(annotations or {}), **script_annotations(files)},
            "ownerReferences": [owner_reference(run)],
        },
        "spec": pod_spec,
    }


def build_testjob_run(
    testjob_name: str,
    spec: Mapping[str, Any],
    run_name: str,
    trigger: str,
    job_id: str,
    title: str,
    tick: datetime | None = None,
) -> Manifest:
    """The JobRun for one tick (or one manual run) of a TestJob; the caller adds the owner reference (it needs the
    live TestJob's uid)."""
    annotations = {ANNOTATION_JOB_ID: job_id, ANNOTATION_TITLE: title[:200]}
    if tick is not None:
        annotations[ANNOTATION_SCHEDULED_AT] = format_time(tick)
    return {
        "apiVersion": API_VERSION,
        "kind": JOBRUN.kind,
        "metadata": {
            "name": run_name,
            "labels": {LABEL_TESTJOB: testjob_name, LABEL_TRIGGER: trigger, LABEL_MANAGED_BY: MANAGED_BY},
            "annotations": annotations,
        },
        "spec": testjobs.jobrun_spec(spec),
    }


def rerun_name(original: str, uid: str) -> str:
    """The re-run's name: one per original (a second annotation finds it there, 409), within MAX_RUN_NAME."""
    digest = hashlib.sha256(f"{uid}/{original}".encode()).hexdigest()[:5]
    return f"{original[: MAX_RUN_NAME - 12].rstrip('-.')}-rerun-{digest}"


def build_rerun(run: RunRef, spec: Mapping[str, Any], title: str, name: str, failed: Sequence[str]) -> Manifest:
    """The TestRun/JobRun of `run`'s failed tests (kubectl annotate ... supertest.dev/rerun=failed). No owner
    reference: the re-run outlives its original's TTL, like a run made by hand."""
    return {
        "apiVersion": API_VERSION,
        "kind": run.resource.kind,
        "metadata": {
            "name": name,
            "namespace": run.namespace,
            "labels": {LABEL_TRIGGER: "kubectl"},
            "annotations": {ANNOTATION_TITLE: f"Re-run failed of {title}"[:200]},
        },
        "spec": rerun_spec(dict(spec), run.name, failed),
    }


def spec_problem(view: RunView) -> str | None:
    """Why the operator cannot run this spec, in words for `kubectl describe`; None if it can."""
    try:
        spec = parse_spec(view.ref.resource.run_kind, dict(view.spec))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "spec"
        return f"invalid spec: {where}: {first['msg']}"
    reserved = reserved_env_names([e.name for e in spec.env])
    if reserved:
        return f"invalid spec: env may not set operator-owned variables: {', '.join(reserved)}"
    return None
