"""Submitting, listing and cancelling runs. The launcher (local dispatcher or Kubernetes) does the work."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

import structlog
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from supertest.admission import QueueFull
from supertest.db import catalog, test_results
from supertest.db import runs as run_repo
from supertest.db.engine import in_session
from supertest.db.models import JobRecord, RunRecord, TestRecord
from supertest.events import Summary
from supertest.kube.models import MAX_JOB_TESTS, MAX_RUN_SCRIPT_BYTES
from supertest.launch import (
    Idempotency,
    Language,
    LaunchedRun,
    RunAlreadyFinished,
    RunLauncher,
    RunRequest,
    ScriptSpec,
    Trigger,
)
from supertest.phases import IllegalTransition, Phase
from supertest.rerun import check_rerunnable
from supertest.settings import ApiSettings
from supertest_api.errors import (
    Conflict,
    IdempotencyKeyReused,
    NotFoundError,
    PayloadTooLarge,
    QueueFullError,
    ValidationFailed,
)
from supertest_api.metrics.service import ApiMetrics
from supertest_api.runs.schemas import (
    RunListOut,
    RunOptionsIn,
    RunOut,
    SubmitJobIn,
    SubmitOut,
    SubmitTestIn,
)
from supertest_api.runs.urls import RunUrls
from supertest_api.validation import check_script, slugify, strip_spec_suffix, unique_names

log = structlog.get_logger("supertest.api.runs")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SubmitContext:
    settings: ApiSettings
    urls: RunUrls
    factory: sessionmaker[Session]
    launcher: RunLauncher
    metrics: ApiMetrics
    trigger: Trigger
    # The request's Idempotency-Key (already checked), the principal it is scoped to, and the route it came to.
    idempotency_key: str | None = None
    principal_id: str = ""
    route: str = ""


@dataclass(frozen=True, slots=True)
class Submitted:
    record: LaunchedRun
    replayed: bool = False  # an earlier submission with the same Idempotency-Key and request


IDEMPOTENCY_KEY_MAX = 255
_KEY_CHARS = re.compile(r"^[\x20-\x7e]+$")


def check_idempotency_key(raw: str | None) -> str | None:
    """The Idempotency-Key header: a UUID or any 1-255 printable ASCII characters; the IETF draft's quoted
    form ("...") is accepted as the same key. Anything else is a 422 naming the rule, never a silent ignore."""
    if raw is None:
        return None
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not value or len(value) > IDEMPOTENCY_KEY_MAX or not _KEY_CHARS.match(value):
        raise ValidationFailed(
            f"Idempotency-Key must be 1-{IDEMPOTENCY_KEY_MAX} printable ASCII characters (a UUID is typical)",
            details=[{"loc": ["header", "Idempotency-Key"], "msg": "invalid Idempotency-Key"}],
        )
    return value


def _idempotency(ctx: SubmitContext, body: BaseModel) -> Idempotency | None:
    """The key as stored with the run; the hash covers the route and the parsed body, so key order, spacing
    and defaults left out do not make the same request look different."""
    if ctx.idempotency_key is None:
        return None
    payload = f"{ctx.route}\n{body.model_dump_json(by_alias=True)}"
    digest = hashlib.sha256(payload.encode()).hexdigest()
    return Idempotency(scope=ctx.principal_id, key=ctx.idempotency_key, request_hash=digest)


async def _replay(ctx: SubmitContext, key: Idempotency | None) -> Submitted | None:
    """The run an earlier submission with this key made, if any; 422 if that submission was a different request."""
    if key is None:
        return None

    def find(session: Session) -> tuple[str | None, LaunchedRun] | None:
        row = run_repo.find_by_idempotency_key(session, key.scope, key.key)
        return None if row is None else (row.request_hash, run_repo.launched(row))

    found = await in_session(ctx.factory, find)
    if found is None:
        return None
    request_hash, existing = found
    if request_hash != key.request_hash:
        raise IdempotencyKeyReused(
            f"Idempotency-Key {key.key!r} was already used for a different request (run {existing.id}); "
            "a retry must repeat the same request, and a new request needs a new key",
            details={"runId": existing.id},
        )
    log.info("run submission replayed", run_id=existing.id)
    return Submitted(existing, replayed=True)


async def submit(ctx: SubmitContext, body: SubmitTestIn | SubmitJobIn) -> Submitted:
    """The one submission path of every submit route: a replay by Idempotency-Key, else the run request built
    from the body (a test or a job), handed to the launcher."""
    key = _idempotency(ctx, body)
    if (replayed := await _replay(ctx, key)) is not None:
        return replayed
    if isinstance(body, SubmitTestIn):
        request = await _test_request(ctx, body)
    else:
        request = await _job_request(ctx, body)
    request = replace(request, idempotency=key)
    try:
        record = await ctx.launcher.submit(request)
    except QueueFull as exc:
        raise QueueFullError(str(exc)) from exc
    except run_repo.IdempotencyKeyTaken:
        # The same key raced us and won (its row committed while ours waited): answer as its retry.
        replayed = await _replay(ctx, key)
        if replayed is None:
            raise
        return replayed
    ctx.metrics.runs_submitted.labels(kind=request.kind).inc()
    log.info("run submitted", run_id=record.id, kind=request.kind, trigger=request.trigger, tests=len(request.scripts))
    if request.job_id is not None:  # a stored job run by hand
        job_id = request.job_id
        await in_session(ctx.factory, lambda s: catalog.touch_job(s, job_id))
    return Submitted(record)


def stored_test_body(test_id: str, options: RunOptionsIn) -> SubmitTestIn:
    """`POST /api/tests/{id}/run` is `POST /api/test` with the test's id."""
    return SubmitTestIn(
        test_id=test_id,
        priority=options.priority,
        timeout_seconds=options.timeout_seconds,
        test_retries=options.test_retries,
    )


def stored_job_body(job_id: str, options: RunOptionsIn) -> SubmitJobIn:
    """`POST /api/jobs/{id}/run` is `POST /api/jobs/run` with the job's id."""
    return SubmitJobIn(
        job_id=job_id,
        priority=options.priority,
        timeout_seconds=options.timeout_seconds,
        test_retries=options.test_retries,
        shards=options.shards,
    )


# -- single tests ------------------------------------------------------------------------------


async def _test_request(ctx: SubmitContext, body: SubmitTestIn) -> RunRequest:
    if body.script is None and body.test_id is None:
        raise ValidationFailed(
            "script is required (or give the testId of a stored test)",
            details=[{"loc": ["body", "script"], "msg": "script is required"}],
        )

    def build(session: Session | None) -> RunRequest:
        stored = _stored_test(session, body.test_id) if session is not None and body.test_id is not None else None
        if body.script is not None:
            script = check_script(body.script, ctx.settings.max_script_bytes)
            language = body.language or (stored.language if stored else "javascript")
        else:
            assert stored is not None
            script, language = stored.script, body.language or stored.language
        title = body.title or (stored.title if stored else "Playground run")
        return RunRequest(
            kind="test",
            scripts=(ScriptSpec(name=slugify(title), script=script, language=_language(language)),),
            title=title,
            trigger=ctx.trigger,
            test_id=stored.id if stored else None,
            priority=body.priority,
            timeout_seconds=body.timeout_seconds,
            test_retries=body.test_retries,
        )

    if body.test_id is None:  # an inline script needs nothing from the database: no transaction for it
        return build(None)
    return await in_session(ctx.factory, build)


def _stored_test(session: Session, test_id: str) -> TestRecord:
    try:
        return catalog.get_test(session, test_id)
    except catalog.NotFound as exc:
        raise NotFoundError(str(exc)) from exc


def _language(value: str) -> Language:
    return "typescript" if value == "typescript" else "javascript"


# -- jobs ----------------------------------------------------------------------------------------


def _ordered_specs(entries: Sequence[tuple[str, str, str]]) -> tuple[ScriptSpec, ...]:
    # Order is kept by position: the launcher's workspace prefixes each file with its index.
    names = unique_names([slugify(strip_spec_suffix(name)) for name, _, _ in entries])
    return tuple(
        ScriptSpec(name=n, script=script, language=_language(lang))
        for n, (_, script, lang) in zip(names, entries, strict=True)
    )


async def _job_request(ctx: SubmitContext, body: SubmitJobIn) -> RunRequest:
    if (body.job_id is None) == (body.tests is None):
        raise ValidationFailed("give exactly one of jobId (a stored job) or tests (inline scripts)")
    if body.tests is not None:
        if not body.tests:
            raise ValidationFailed("tests is empty: give at least one {name, script}")
        entries = [
            (t.name, check_script(t.script, ctx.settings.max_script_bytes, field=f"tests[{i}].script"), t.language)
            for i, t in enumerate(body.tests)
        ]
        return _job_run(ctx, body, body.title or f"{len(entries)} test(s)", _ordered_specs(entries))
    job_id = body.job_id
    assert job_id is not None

    def build(session: Session) -> RunRequest:
        try:
            job = catalog.get_job(session, job_id)
        except catalog.NotFound as exc:
            raise NotFoundError(str(exc)) from exc
        if job.managed_by == "gitops":
            return _testjob_request(ctx, job, body)
        if not job.tests:
            raise ValidationFailed(f"job {job.name!r} has no tests; add testIds first")
        entries = [(jt.test.title, jt.test.script, jt.test.language) for jt in job.tests]
        return _job_run(ctx, body, body.title or job.name, _ordered_specs(entries), job_id=job.id)

    return await in_session(ctx.factory, build)


def _testjob_request(ctx: SubmitContext, job: JobRecord, body: SubmitJobIn) -> RunRequest:
    """A GitOps job runs as its TestJob does: a JobRun whose jobRef names the TestJob (the operator reads it)."""
    where = f"{job.k8s_namespace}/{job.k8s_name}"
    if ctx.settings.is_local or not job.k8s_name:
        raise Conflict(f"job {job.name!r} is managed by GitOps (TestJob {where}) and runs only in Kubernetes mode")
    if job.k8s_namespace != ctx.settings.kube_namespace:
        raise Conflict(
            f"job {job.name!r} is the TestJob {where}, outside the API's namespace {ctx.settings.kube_namespace!r}, "
            "where the API creates runs; start it there: "
            f"kubectl -n {job.k8s_namespace} annotate tj/{job.k8s_name} supertest.dev/run-now=$(date +%s) --overwrite"
        )
    return _job_run(ctx, body, body.title or job.name, (), job_id=job.id, job_ref=job.k8s_name)


def _job_run(
    ctx: SubmitContext,
    body: SubmitJobIn,
    title: str,
    scripts: tuple[ScriptSpec, ...],
    job_id: str | None = None,
    job_ref: str | None = None,
) -> RunRequest:
    """A job's run request: inline tests, a stored job's tests, or a jobRef; the options are the body's."""
    check_run_limits(scripts)
    return RunRequest(
        kind="job",
        scripts=scripts,
        title=title,
        trigger=ctx.trigger,
        job_id=job_id,
        job_ref=job_ref,
        priority=body.priority,
        timeout_seconds=body.timeout_seconds,
        workers=body.workers,
        test_retries=body.test_retries,
        shards=body.shards,
        retries=body.retries,
    )


def check_run_limits(scripts: Sequence[ScriptSpec]) -> None:
    """Refuse what Kubernetes would refuse later (the CRD's test count, the scripts ConfigMap's size): the same
    limits in local mode, so a job behaves alike in both."""
    if len(scripts) > MAX_JOB_TESTS:
        raise ValidationFailed(
            f"a job run has at most {MAX_JOB_TESTS} tests; this one has {len(scripts)}",
            details=[{"loc": ["body", "tests"], "msg": f"at most {MAX_JOB_TESTS} tests"}],
            reject_reason="too_large",
        )
    size = sum(len(s.script.encode("utf-8")) for s in scripts)
    if size > MAX_RUN_SCRIPT_BYTES:
        raise PayloadTooLarge(
            f"the run's scripts are {size} bytes together; the limit is {MAX_RUN_SCRIPT_BYTES} bytes "
            "(they travel in one Kubernetes ConfigMap, which holds at most 1 MiB)",
            details={"size": size, "limit": MAX_RUN_SCRIPT_BYTES},
        )


# -- reading and cancelling -----------------------------------------------------------------------


def get_run(session: Session, run_id: str) -> RunRecord:
    try:
        return run_repo.get(session, run_id)
    except run_repo.RunNotFound as exc:
        raise NotFoundError(str(exc)) from exc


def list_runs(session: Session, urls: RunUrls, flt: run_repo.RunFilter) -> RunListOut:
    rows, total = run_repo.list_runs(session, flt)
    return RunListOut(items=[run_out(urls, r) for r in rows], total=total, limit=flt.limit, offset=flt.offset)


async def cancel_run(ctx: SubmitContext, run_id: str) -> RunRecord:
    record = await in_session(ctx.factory, lambda s: get_run(s, run_id))
    if Phase(record.phase).is_terminal:
        raise Conflict(
            f"run {run_id} already finished as {record.phase}; nothing to cancel", details={"phase": record.phase}
        )
    try:
        await ctx.launcher.cancel(run_id)
    except RunAlreadyFinished as exc:
        raise Conflict(str(exc)) from exc
    except IllegalTransition as exc:
        raise Conflict(str(exc)) from exc
    except run_repo.RunNotFound as exc:
        raise NotFoundError(str(exc)) from exc
    log.info("run cancel requested", run_id=run_id)
    return await in_session(ctx.factory, lambda s: get_run(s, run_id))


# -- re-run failed ---------------------------------------------------------------------------------


async def rerun_failed(ctx: SubmitContext, run_id: str) -> Submitted:
    """A new run of the finished run's failed tests only, linked to it (spec.rerunOf, spec.onlyTests)."""

    def build(session: Session) -> RunRequest:
        original = get_run(session, run_id)
        failed = test_results.failed_ids_for_run(session, run_id)
        check_rerunnable(run_id, original.phase, failed)  # NothingToRerun -> 409, TooManyToRerun -> 400
        return RunRequest(
            kind="job" if original.kind == "job" else "test",
            scripts=(),
            title=f"Re-run failed of {original.title or run_id}"[:200],
            trigger=ctx.trigger,
            test_id=original.test_id,
            job_id=original.job_id,
            priority=original.priority,
            rerun_of=run_id,
            only_tests=tuple(failed),
            base_spec=dict(original.spec or {}),
        )

    request = await in_session(ctx.factory, build)
    try:
        record = await ctx.launcher.submit(request)
    except QueueFull as exc:
        raise QueueFullError(str(exc)) from exc
    ctx.metrics.runs_submitted.labels(kind=request.kind).inc()
    log.info("re-run of failed tests submitted", run_id=record.id, rerun_of=run_id, tests=len(request.only_tests))
    return Submitted(record)


# -- output ----------------------------------------------------------------------------------


def submit_out(urls: RunUrls, record: LaunchedRun) -> SubmitOut:
    return SubmitOut(
        run_id=record.id,
        kind="job" if record.kind == "job" else "test",
        phase=Phase(record.phase),
        report_url=urls.report(record.id, record.kind),
        status_url=urls.status(record.id, record.kind),
    )


def run_out(urls: RunUrls, r: RunRecord) -> RunOut:
    return RunOut(
        run_id=r.id,
        kind="job" if r.kind == "job" else "test",
        phase=Phase(r.phase),
        trigger=r.trigger,
        title=r.title,
        test_id=r.test_id,
        job_id=r.job_id,
        priority=r.priority,
        summary=Summary(
            total=r.total,
            passed=r.passed,
            failed=r.failed,
            flaky=r.flaky,
            skipped=r.skipped,
            quarantined=r.quarantined,
            duration_ms=r.duration_ms,
        ),
        report_url=urls.report(r.id, r.kind),
        # report_key is set once the runner stored the run's artifacts, junit.xml among them.
        junit_url=urls.junit(r.id, r.kind) if r.report_key else None,
        status_url=urls.status(r.id, r.kind),
        rerun_of=(r.spec or {}).get("rerunOf"),
        shards=int((r.spec or {}).get("shards") or 1),
        only_tests=list((r.spec or {}).get("onlyTests") or []),
        message=r.message,
        exit_code=r.exit_code,
        attempts=r.attempts,
        cancel_requested=r.cancel_requested,
        created_at=r.created_at,
        queued_at=r.queued_at,
        started_at=r.started_at,
        completed_at=r.completed_at,
    )
