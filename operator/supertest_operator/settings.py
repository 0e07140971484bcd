"""OperatorSettings: the one settings class of the operator process, validated at startup."""

from __future__ import annotations

import shlex

from pydantic import Field, field_validator, model_validator

from supertest.settings import PLACEHOLDER_SECRETS, CoreSettings, RunBackend


class OperatorSettings(CoreSettings):
    # The operator only exists in Kubernetes mode; RUN_BACKEND=local relaxes the secret checks for development.
    run_backend: RunBackend = Field(default=RunBackend.kubernetes, alias="RUN_BACKEND")
    # Comma-separated; empty means cluster-wide (needs a ClusterRole instead of the namespaced Role).
    namespaces: str = Field(default="default", alias="SUPERTEST_NAMESPACES")
    runner_image: str = Field(default="ghcr.io/supertest/runner:latest", min_length=1, alias="RUNNER_IMAGE")
    runner_command: str = Field(default="python -m supertest_runner", min_length=1, alias="RUNNER_COMMAND")
    runner_image_pull_policy: str = Field(
        default="IfNotPresent", pattern="^(Always|IfNotPresent|Never)$", alias="RUNNER_IMAGE_PULL_POLICY"
    )
    runner_service_account: str | None = Field(default=None, alias="RUNNER_SERVICE_ACCOUNT")
    # The API URL run pods send events and artifacts to, with a per-run token (RUN_TOKEN_KEY signs it). A chart value,
    # so the run-pod NetworkPolicy can allow exactly it.
    ingest_url: str | None = Field(default=None, alias="INGEST_URL")
    # Development and test harnesses only: without INGEST_URL, run pods get REDIS_URL and the S3 keys themselves.
    runner_direct_credentials: bool = Field(default=False, alias="RUNNER_DIRECT_CREDENTIALS")
    # When set, the pods read AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from this Secret, never from plain env.
    s3_credentials_secret: str | None = Field(default=None, alias="S3_CREDENTIALS_SECRET")
    # Extra environment for every run pod (e.g. CHROMIUM_PATH, PLAYWRIGHT_BROWSERS_PATH), as a JSON object.
    runner_extra_env: dict[str, str] = Field(default_factory=dict, alias="RUNNER_EXTRA_ENV")
    runner_cpu_request: str = Field(default="500m", alias="RUNNER_CPU_REQUEST")
    runner_memory_request: str = Field(default="1Gi", alias="RUNNER_MEMORY_REQUEST")
    runner_memory_limit: str = Field(default="2Gi", alias="RUNNER_MEMORY_LIMIT")
    runner_trace: str = Field(default="on", pattern="^(on|off|retain-on-failure|on-first-retry)$", alias="PW_TRACE")
    runner_video: str = Field(default="on", pattern="^(on|off|retain-on-failure|on-first-retry)$", alias="PW_VIDEO")
    runner_screenshot: str = Field(default="on", pattern="^(on|off|only-on-failure)$", alias="PW_SCREENSHOT")

    # After the run's own deadline, how long the operator waits before it calls the run TimedOut itself.
    timeout_grace_seconds: int = Field(default=30, ge=0, le=3600, alias="TIMEOUT_GRACE_SECONDS")
    # A pod that has not started running after this long is a failure to start (Error, retried).
    start_timeout_seconds: int = Field(default=300, ge=5, le=86_400, alias="START_TIMEOUT_SECONDS")
    # A run pod's node whose Ready condition has left True this long ago (the node lifecycle controller already
    # waited its own grace before it said so), or that no longer exists: the attempt ends Error NodeLost and
    # the pod is force-deleted (its kubelet is gone and will never finish a graceful deletion).
    node_lost_seconds: float = Field(default=60.0, ge=0, le=86_400, alias="NODE_LOST_SECONDS")
    retry_backoff_seconds: float = Field(default=5.0, ge=0.1, le=3600, alias="RETRY_BACKOFF_SECONDS")
    retry_backoff_max_seconds: float = Field(default=300.0, ge=1, le=86_400, alias="RETRY_BACKOFF_MAX_SECONDS")

    ttl_passed_seconds: int = Field(default=3600, ge=0, le=31_536_000, alias="TTL_PASSED_SECONDS")
    # Failures are kept longer by default: someone may want to look at the pod.
    ttl_failed_seconds: int = Field(default=86_400, ge=0, le=31_536_000, alias="TTL_FAILED_SECONDS")
    retention_days: float = Field(default=30.0, gt=0, le=3650, alias="RETENTION_DAYS")
    retention_interval_seconds: float = Field(default=3600.0, ge=1, alias="RETENTION_INTERVAL_SECONDS")
    retention_batch_size: int = Field(default=200, ge=1, le=10_000, alias="RETENTION_BATCH_SIZE")
    orphan_interval_seconds: float = Field(default=60.0, ge=1, alias="ORPHAN_INTERVAL_SECONDS")
    # An unfinished row whose resource is missing is repaired only once it is this old: the API inserts its row
    # just before it creates the resource.
    orphan_row_grace_seconds: float = Field(default=60.0, ge=1, le=86_400, alias="ORPHAN_ROW_GRACE_SECONDS")
    reconcile_interval_seconds: float = Field(default=2.0, ge=0.1, le=300, alias="RECONCILE_INTERVAL_SECONDS")
    # The run cache's full list (run_cache.py): the backstop for a watch event never delivered. Not more often:
    # listing a deep queue every 30 s was 7% of the apiserver's CPU in a burst of 2,000 (bench/burst.py, profiled);
    # a watch resumes from its last version and lists again itself when that is too old.
    run_resync_seconds: float = Field(default=300.0, ge=1.0, le=3600, alias="RUN_RESYNC_SECONDS")
    max_pass_gap_seconds: float = Field(default=1.0, ge=0.0, le=10, alias="MAX_PASS_GAP_SECONDS")
    # The TestJob scheduler waits this long after a wake-up so a burst of changes costs one pass.
    schedule_debounce_seconds: float = Field(default=0.2, ge=0.0, le=10, alias="SCHEDULE_DEBOUNCE_SECONDS")

    webhook_enabled: bool = Field(default=True, alias="WEBHOOK_ENABLED")
    webhook_listen: str = Field(default="0.0.0.0", alias="WEBHOOK_LISTEN")
    webhook_port: int = Field(default=9443, ge=1, le=65535, alias="WEBHOOK_PORT")
    # The name the apiserver dials: the Service DNS name in a cluster, 127.0.0.1 in tests.
    webhook_host: str = Field(default="supertest-operator.supertest.svc", alias="WEBHOOK_HOST")
    webhook_cert_dir: str | None = Field(default=None, alias="WEBHOOK_CERT_DIR")
    # In a cluster, the apiserver reaches the webhook through a Service reference (namespace/name), resolved by the
    # apiserver itself: its own DNS usually cannot resolve `*.svc` names (it runs on the host network). Unset, the
    # configuration carries a URL to WEBHOOK_HOST (local processes in tests).
    webhook_service: str | None = Field(default=None, alias="WEBHOOK_SERVICE")
    webhook_service_namespace: str | None = Field(default=None, alias="WEBHOOK_SERVICE_NAMESPACE")
    # Webhook names become "<handler>.<this>": the apiserver wants a domain of three or more segments.
    webhook_config_name: str = Field(
        default="supertest.dev",
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$",
        max_length=200,
        alias="WEBHOOK_CONFIG_NAME",
    )

    probe_host: str = Field(default="0.0.0.0", alias="PROBE_HOST")
    probe_port: int = Field(default=8080, ge=0, le=65535, alias="PROBE_PORT")  # 0 picks a free port

    # None: standalone. Set: kopf peering for handlers plus a Lease for our own loops (several replicas).
    peering_name: str | None = Field(default=None, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", alias="PEERING_NAME")
    lease_namespace: str = Field(default="default", alias="LEASE_NAMESPACE")  # when watching cluster-wide
    watch_server_timeout: int = Field(default=300, ge=1, alias="WATCH_SERVER_TIMEOUT")  # the apiserver wants an int
    watch_client_timeout: float = Field(default=330.0, ge=1, alias="WATCH_CLIENT_TIMEOUT")
    connect_timeout: float = Field(default=10.0, ge=0.1, alias="KUBE_CONNECT_TIMEOUT")
    request_timeout: float = Field(default=60.0, ge=1, alias="KUBE_REQUEST_TIMEOUT")
    # kopf's own Events ("Handler ... succeeded") cost an API call each; ours already record every transition.
    event_level: str = Field(default="WARNING", pattern="^(DEBUG|INFO|WARNING|ERROR)$", alias="EVENT_LEVEL")
    batch_window_seconds: float = Field(default=0.02, ge=0.0, le=5.0, alias="KOPF_BATCH_WINDOW_SECONDS")

    @field_validator("runner_command")
    @classmethod
    def _command_parses(cls, value: str) -> str:
        if not shlex.split(value):
            raise ValueError("RUNNER_COMMAND must not be empty")
        return value

    @model_validator(mode="after")
    def _kubernetes_mode_needs_real_services(self) -> OperatorSettings:
        if self.is_local:
            return self
        if not self.redis_url:
            raise ValueError("REDIS_URL is required outside local mode: run status flows through Redis")
        if self.ingest_url and self.run_token_key is None:
            raise ValueError("INGEST_URL needs RUN_TOKEN_KEY (the key that signs each run's token)")
        if not self.ingest_url and not self.runner_direct_credentials:
            raise ValueError(
                "INGEST_URL and RUN_TOKEN_KEY are required outside local mode: run pods send events and artifacts "
                "through the API with a per-run token (RUNNER_DIRECT_CREDENTIALS=true hands them the platform's "
                "Redis and S3 credentials instead, for development only)"
            )
        if self.s3_endpoint and not self.s3_credentials_secret:
            key = (self.aws_access_key_id or "").lower()
            if key in PLACEHOLDER_SECRETS:
                raise ValueError("AWS_ACCESS_KEY_ID is unset or a placeholder; set it or S3_CREDENTIALS_SECRET")
        if self.retry_backoff_max_seconds < self.retry_backoff_seconds:
            raise ValueError("RETRY_BACKOFF_MAX_SECONDS must be >= RETRY_BACKOFF_SECONDS")
        return self

    @property
    def namespace_list(self) -> list[str]:
        return [ns.strip() for ns in self.namespaces.split(",") if ns.strip()]

    @property
    def runner_argv(self) -> list[str]:
        return shlex.split(self.runner_command)

    def ttl_for(self, phase: str) -> int:
        return self.ttl_passed_seconds if phase == "Passed" else self.ttl_failed_seconds
