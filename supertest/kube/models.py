"""Typed views of TestRun/JobRun spec and status; the CRD schemas in crds/ are the wire contract.

The apiserver already enforces the schema; these models re-check what the operator relies on
(a run created before a schema change, or a status written by an older operator) and give it types.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from supertest.events import Summary
from supertest.phases import Phase
from supertest.rerun import MAX_ONLY_TESTS, MAX_TEST_ID_LENGTH
from supertest.sharding import MAX_SHARDS, MIN_SHARDS

Language = Literal["javascript", "typescript"]
Browser = Literal["chromium", "firefox", "webkit"]
ConditionType = Literal["Admitted", "Running", "Complete", "Failed"]
ConditionStatus = Literal["True", "False", "Unknown"]

# Mirrors of crds/jobrun.yaml and crds/testrun.yaml (tests/unit/kube/test_crd_limits.py keeps them equal), so the
# API refuses with a readable 413/422 what the apiserver would refuse anyway.
MAX_SCRIPT_LENGTH = 262_144
MAX_JOB_TESTS = 50
# Playwright retries of one failing test (spec.testRetries).
MAX_TEST_RETRIES = 5
# A run's inline scripts all go into one ConfigMap, which Kubernetes caps at 1 MiB (data plus metadata), and they
# are in the run resource's spec too. This leaves room for the keys and metadata under that cap.
MAX_RUN_SCRIPT_BYTES = 1_000_000


def _default_browsers() -> list[Browser]:
    return ["chromium"]


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class ConfigMapKeyRef(_Model):
    name: str = Field(min_length=1, max_length=253)
    key: str = Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")


class ScriptFrom(_Model):
    config_map_key_ref: ConfigMapKeyRef = Field(alias="configMapKeyRef")


# Secret variables live in k8s Secrets with this name prefix (written by the API); a run may reference no other
# Secret, so the right to create runs never becomes a way to read the platform's own credentials.
VARIABLES_SECRET_PREFIX = "supertest-vars-"  # noqa: S105 - a name prefix


class SecretKeyRef(_Model):
    name: str = Field(
        min_length=1, max_length=253, pattern=rf"^{VARIABLES_SECRET_PREFIX}[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
    )
    key: str = Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")


class EnvSource(_Model):
    secret_key_ref: SecretKeyRef = Field(alias="secretKeyRef")


class EnvVar(_Model):
    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    value: str = Field(default="", max_length=32_768)
    # A secret variable: the pod reads it from the Secret; the runner masks its value in everything it relays.
    value_from: EnvSource | None = Field(default=None, alias="valueFrom")


class ResourceList(_Model):
    cpu: str | int | None = None
    memory: str | int | None = None


class Resources(_Model):
    requests: ResourceList | None = None
    limits: ResourceList | None = None


class _ScriptFields(_Model):
    script: str | None = Field(default=None, min_length=1, max_length=MAX_SCRIPT_LENGTH)
    script_from: ScriptFrom | None = Field(default=None, alias="scriptFrom")
    language: Language = "javascript"

    @property
    def extension(self) -> str:
        return "ts" if self.language == "typescript" else "js"


class ScriptSource(_ScriptFields):
    """Exactly one of an inline script or a ConfigMap key."""

    @model_validator(mode="after")
    def _exactly_one_source(self) -> ScriptSource:
        if (self.script is None) == (self.script_from is None):
            raise ValueError("set exactly one of script or scriptFrom.configMapKeyRef")
        return self


class _CommonSpec(_Model):
    timeout_seconds: int | None = Field(default=None, ge=1, le=86_400, alias="timeoutSeconds")
    retries: int = Field(default=0, ge=0, le=10)
    priority: int = Field(default=0, ge=-1000, le=1000)
    workers: int | None = Field(default=None, ge=1, le=64)
    # Playwright's `retries`: a test that fails and then passes on a retry counts as flaky, not failed.
    test_retries: int = Field(default=0, ge=0, le=MAX_TEST_RETRIES, alias="testRetries")
    # Re-run failed: the run this one re-runs, and the test ids (file > title path) it is limited to.
    rerun_of: str | None = Field(default=None, max_length=253, alias="rerunOf")
    only_tests: list[Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEST_ID_LENGTH)]] = Field(
        default_factory=list, max_length=MAX_ONLY_TESTS, alias="onlyTests"
    )
    # Pods that run the suite at the same time, each on part of its files (supertest/sharding.py).
    shards: int = Field(default=1, ge=MIN_SHARDS, le=MAX_SHARDS)
    browsers: list[Browser] = Field(default_factory=_default_browsers)
    env: list[EnvVar] = Field(default_factory=list, max_length=64)
    resources: Resources | None = None
    ttl_seconds_after_finished: int | None = Field(default=None, ge=0, le=31_536_000, alias="ttlSecondsAfterFinished")
    cancel: bool = False


class TestRunSpec(ScriptSource, _CommonSpec):
    __test__ = False  # not a pytest class

    test_id: str | None = Field(default=None, max_length=64, alias="testId")


class JobTest(_ScriptFields):
    """One test of a JobRun or TestJob: an inline script, a ConfigMap key, or a stored test (read at admission)."""

    __test__ = False  # not a pytest class

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][-_.A-Za-z0-9]*$")
    test_id: str | None = Field(default=None, min_length=1, max_length=64, alias="testId")

    @model_validator(mode="after")
    def _exactly_one_source(self) -> JobTest:
        if sum(x is not None for x in (self.script, self.script_from, self.test_id)) != 1:
            raise ValueError("set exactly one of script, scriptFrom.configMapKeyRef or testId")
        return self


def _unique_names(tests: list[JobTest] | None) -> None:
    if tests is not None and len({t.name for t in tests}) != len(tests):
        raise ValueError("tests[].name must be unique")


class JobRunSpec(_CommonSpec):
    job_ref: str | None = Field(default=None, min_length=1, max_length=253, alias="jobRef")
    tests: list[JobTest] | None = Field(default=None, min_length=1, max_length=MAX_JOB_TESTS)

    @model_validator(mode="after")
    def _exactly_one_source(self) -> JobRunSpec:
        if (self.job_ref is None) == (self.tests is None):
            raise ValueError("set exactly one of jobRef or tests")
        _unique_names(self.tests)
        return self


ConcurrencyPolicyName = Literal["Allow", "Forbid", "Replace"]
TestJobConditionType = Literal["Scheduled", "MissedSchedule"]


class RunTemplate(_Model):
    """What every JobRun of a TestJob gets; unset fields take the JobRun defaults."""

    timeout_seconds: int | None = Field(default=None, ge=1, le=86_400, alias="timeoutSeconds")
    retries: int | None = Field(default=None, ge=0, le=10)
    priority: int | None = Field(default=None, ge=-1000, le=1000)
    workers: int | None = Field(default=None, ge=1, le=64)
    test_retries: int | None = Field(default=None, ge=0, le=MAX_TEST_RETRIES, alias="testRetries")
    shards: int | None = Field(default=None, ge=MIN_SHARDS, le=MAX_SHARDS)
    browsers: list[Browser] | None = None
    env: list[EnvVar] = Field(default_factory=list, max_length=64)
    resources: Resources | None = None
    ttl_seconds_after_finished: int | None = Field(default=None, ge=0, le=31_536_000, alias="ttlSecondsAfterFinished")

    def to_spec(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True, mode="json")


NotifyEvent = Literal["failure", "recovery", "every_run", "timeout_error"]


class NotifyEntry(_Model):
    """A TestJob's alert rule: a notification channel by name, as created in the API or UI."""

    channel: str = Field(min_length=1, max_length=63)
    events: list[NotifyEvent] | None = Field(default=None, max_length=4)
    failure_threshold: int | None = Field(default=None, ge=1, le=1000, alias="failureThreshold")
    max_alerts_per_streak: int | None = Field(default=None, ge=1, le=1000, alias="maxAlertsPerStreak")


class TestJobSpec(_Model):
    __test__ = False  # not a pytest class

    schedule: str = Field(min_length=1, max_length=100)
    time_zone: str = Field(default="UTC", min_length=1, max_length=64, alias="timeZone")
    concurrency_policy: ConcurrencyPolicyName = Field(default="Allow", alias="concurrencyPolicy")
    suspend: bool = False
    starting_deadline_seconds: int | None = Field(default=None, ge=1, le=86_400, alias="startingDeadlineSeconds")
    successful_runs_history_limit: int = Field(default=3, ge=0, le=100, alias="successfulRunsHistoryLimit")
    failed_runs_history_limit: int = Field(default=1, ge=0, le=100, alias="failedRunsHistoryLimit")
    tests: list[JobTest] = Field(min_length=1, max_length=MAX_JOB_TESTS)
    run_template: RunTemplate = Field(default_factory=RunTemplate, alias="runTemplate")
    notify: list[NotifyEntry] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _unique(self) -> TestJobSpec:
        _unique_names(self.tests)
        return self


class ActiveRun(_Model):
    name: str
    uid: str | None = None


class TestJobCondition(_Model):
    __test__ = False  # not a pytest class

    type: TestJobConditionType
    status: ConditionStatus
    reason: str = ""
    message: str = ""
    last_transition_time: str = Field(alias="lastTransitionTime")


class TestJobStatus(_Model):
    __test__ = False  # not a pytest class

    last_schedule_time: str | None = Field(default=None, alias="lastScheduleTime")
    last_successful_time: str | None = Field(default=None, alias="lastSuccessfulTime")
    next_schedule_time: str | None = Field(default=None, alias="nextScheduleTime")
    last_manual_run: str | None = Field(default=None, alias="lastManualRun")
    active: list[ActiveRun] = Field(default_factory=list)
    conditions: list[TestJobCondition] = Field(default_factory=list)
    message: str | None = None
    observed_generation: int | None = Field(default=None, alias="observedGeneration")

    def to_patch(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class _Frozen(_Model):
    # Frozen: the operator holds one parsed status per run it watches (thousands at depth), and shares what equal
    # ones have in common (see parse_status). Nothing may change one in place; model_copy(update=...) makes another.
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class Condition(_Frozen):
    type: ConditionType
    status: ConditionStatus
    reason: str = ""
    message: str = ""
    last_transition_time: str = Field(alias="lastTransitionTime")


class ShardStatus(_Model):
    """One line per shard of a sharded run: its pod and its counts; retried alone when its pod is lost."""

    index: int = Field(ge=0, lt=MAX_SHARDS)
    phase: Phase | None = None
    pod_name: str | None = Field(default=None, alias="podName")
    attempts: int = 0
    passed: int = 0
    failed: int = 0
    files: list[str] = Field(default_factory=list)
    message: str | None = None


class RunStatus(_Frozen):
    phase: Phase | None = None
    conditions: list[Condition] = Field(default_factory=list)
    queued_at: str | None = Field(default=None, alias="queuedAt")
    start_time: str | None = Field(default=None, alias="startTime")
    completion_time: str | None = Field(default=None, alias="completionTime")
    retry_at: str | None = Field(default=None, alias="retryAt")
    pod_name: str | None = Field(default=None, alias="podName")
    attempts: int = 0
    report_url: str | None = Field(default=None, alias="reportURL")
    # From the runner's verdict (the termination message): what alerts name as failed tests and first error.
    failures: list[dict[str, str]] | None = None
    summary: Summary | None = None
    # Sharded runs only: one line per shard, and `done/total` for the SHARDS printer column.
    shards: list[ShardStatus] | None = None
    shards_done: str | None = Field(default=None, alias="shardsDone")
    duration: str | None = None
    message: str | None = None
    observed_generation: int | None = Field(default=None, alias="observedGeneration")

    def to_patch(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


def parse_spec(run_kind: str, spec: dict[str, Any]) -> TestRunSpec | JobRunSpec:
    """Raises pydantic.ValidationError for a spec the operator cannot run."""
    if run_kind == "job":
        return JobRunSpec.model_validate(spec)
    return TestRunSpec.model_validate(spec)


EMPTY_STATUS = RunStatus()
# A condition's strings that repeat across runs (its kind, state, reason, and its time, which has a one-second
# resolution): shared between runs instead of one copy per parse.
_SHARED_CONDITION_FIELDS = ("type", "status", "reason", "last_transition_time")
_fields_sets: dict[frozenset[str], set[str]] = {}


def _share(model: BaseModel, fields: tuple[str, ...] = ()) -> None:
    """Point a frozen model at the one fields-set of its shape, and intern its repeating strings. Each model had its
    own set of the fields given (a 5-item set is 728 bytes), the largest part of a parsed condition. With the shared
    empty status below, the operator's cache entry of a Queued run fell from 2.8 to 1.75 KB, and of a run not yet
    marked from 1.9 to 0.96 KB (tracemalloc, 5,000 runs)."""
    held = model.__pydantic_fields_set__
    object.__setattr__(model, "__pydantic_fields_set__", _fields_sets.setdefault(frozenset(held), held))
    values = model.__dict__
    for name in fields:
        value = values.get(name)
        if isinstance(value, str):
            values[name] = sys.intern(value)


def parse_status(status: dict[str, Any] | None) -> RunStatus:
    """A run's status; runs that have none share one (a burst's runs before the operator has seen them)."""
    if not status:
        return EMPTY_STATUS
    parsed = RunStatus.model_validate(status)
    _share(parsed)
    for condition in parsed.conditions:
        _share(condition, _SHARED_CONDITION_FIELDS)
    return parsed


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds: FIFO ties inside one second stay ordered."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def human_duration(ms: int) -> str:
    """What the Duration printer column shows: 850ms, 12s, 3m5s, 1h2m."""
    if ms < 1000:
        return f"{ms}ms"
    seconds = ms // 1000
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes}m"
