"""Process settings, read from the environment with the seed's variable names.

One class per process kind keeps each deployable's surface explicit; they share the
fields in `CoreSettings`. An unset DATABASE_URL, REDIS_URL or S3_ENDPOINT selects the
embedded default for that part (SQLite, the in-process bus, the local artifacts folder).
"""

from __future__ import annotations

import base64
import binascii
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

# Values that must never reach a shared deployment.
PLACEHOLDER_SECRETS = frozenset({"", "minioadmin", "changeme", "change-me", "secret", "password", "admin"})


class RunBackend(StrEnum):
    local = "local"
    kubernetes = "kubernetes"


def default_home() -> Path:
    return Path.cwd() / ".supertest"


class _AliasOnlyEnvSource(EnvSettingsSource):
    """The environment answers by alias only: `home` must not read $HOME, nor `host` $HOST.

    populate_by_name stays on for constructor keywords (the runner passes field names); pydantic-settings would
    otherwise also match every field's bare name against the environment.
    """

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self.config = {**self.config, "populate_by_name": False, "validate_by_name": False}


class CoreSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _AliasOnlyEnvSource(settings_cls), dotenv_settings, file_secret_settings

    home: Path = Field(default_factory=default_home, alias="SUPERTEST_HOME")
    run_backend: RunBackend = Field(default=RunBackend.local, alias="RUN_BACKEND")

    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    redis_url: str | None = Field(default=None, alias="REDIS_URL")

    s3_endpoint: str | None = Field(default=None, alias="S3_ENDPOINT")
    s3_job_bucket_name: str = Field(default="playwright-job-artifacts", alias="S3_JOB_BUCKET_NAME")
    s3_test_bucket_name: str = Field(default="playwright-test-artifacts", alias="S3_TEST_BUCKET_NAME")
    aws_region: str = Field(default="us-east-1", alias="AWS_REGION")
    aws_access_key_id: str | None = Field(default=None, alias="AWS_ACCESS_KEY_ID")
    aws_secret_access_key: SecretStr | None = Field(default=None, alias="AWS_SECRET_ACCESS_KEY")
    artifacts_dir: Path | None = Field(default=None, alias="ARTIFACTS_DIR")

    running_capacity: int = Field(default=5, ge=1, le=10_000, alias="RUNNING_CAPACITY")
    queued_capacity: int = Field(default=50, ge=0, le=100_000, alias="QUEUED_CAPACITY")
    max_concurrent_tests: int = Field(default=2, ge=1, le=64, alias="MAX_CONCURRENT_TESTS")
    test_execution_timeout_ms: int = Field(default=900_000, ge=1_000, le=86_400_000, alias="TEST_EXECUTION_TIMEOUT_MS")
    max_script_bytes: int = Field(default=256 * 1024, ge=1_024, le=1_000_000, alias="MAX_SCRIPT_BYTES")
    # Automatic quarantine (supertest.auto_quarantine), evaluated when a run's results are recorded: a test whose
    # flaky rate (a fraction, 0.2 = 20%) over the window is above this is quarantined. 0 (the default) is off.
    auto_quarantine_flaky_rate: float = Field(default=0.0, ge=0.0, le=1.0, alias="AUTO_QUARANTINE_FLAKY_RATE")
    auto_quarantine_min_runs: int = Field(default=5, ge=1, le=1_000, alias="AUTO_QUARANTINE_MIN_RUNS")
    auto_quarantine_window_results: int = Field(default=50, ge=1, le=1_000, alias="AUTO_QUARANTINE_WINDOW_RESULTS")
    auto_quarantine_window_days: int = Field(default=14, ge=1, le=365, alias="AUTO_QUARANTINE_WINDOW_DAYS")

    event_stream_maxlen: int = Field(default=1000, ge=10, alias="EVENT_STREAM_MAXLEN")
    event_stream_ttl_seconds: int = Field(default=86_400, ge=60, alias="EVENT_STREAM_TTL_SECONDS")
    # A log line longer than this is cut, with a marker, before it reaches the event stream (local mode's relay).
    log_line_max_bytes: int = Field(default=16 * 1024, ge=256, le=1 << 20, alias="LOG_LINE_MAX_BYTES")
    # Local mode's in-process bus keeps a finished run's events this long (late SSE viewers), then drops them.
    memory_bus_linger_seconds: float = Field(default=600.0, ge=0, le=86_400, alias="MEMORY_BUS_LINGER_SECONDS")
    # Redis, set explicitly rather than inherited from redis-py's defaults (a pool of 100, 5 s timeouts):
    # - REDIS_MAX_CONNECTIONS bounds the pool of the request path (XADD, XRANGE, EXPIRE, DEL: sub-millisecond
    #   commands). Live readers never take from it (the bus's one shared reader has its own connection), so it
    #   only needs the commands in flight at once; a caller past the limit waits up to REDIS_SOCKET_TIMEOUT
    #   for a free connection instead of failing with "Too many connections".
    # - REDIS_SOCKET_TIMEOUT_SECONDS is the budget of one request-path call (connect, send, read, its one
    #   retry): what a submit or an SSE connect waits at most for an unreachable Redis before carrying on.
    # - EVENT_READ_BLOCK_MS is the XREAD BLOCK of the shared reader. Its connection reads with a timeout of
    #   block + REDIS_SOCKET_TIMEOUT_SECONDS, so an idle stream (no entry for the whole block) ends the BLOCK
    #   normally, never as a socket timeout; only a Redis that stays silent a full margin past the block time
    #   counts as dead, and the reader reconnects and resumes from its cursors.
    redis_max_connections: int = Field(default=50, ge=2, le=10_000, alias="REDIS_MAX_CONNECTIONS")
    redis_socket_timeout_seconds: float = Field(default=5.0, gt=0, le=300, alias="REDIS_SOCKET_TIMEOUT_SECONDS")
    event_read_block_ms: int = Field(default=5_000, ge=100, le=600_000, alias="EVENT_READ_BLOCK_MS")
    log_format: str = Field(default="console", pattern="^(console|json)$", alias="LOG_FORMAT")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
    # How long one API process trusts an API key it looked up: a client's requests within that time cost no
    # database round trip for the key. It is also how long a revoked key (`supertest apikey revoke`) keeps working
    # on a process that saw it just before; 0 looks the key up on every request.
    api_key_cache_seconds: float = Field(default=5.0, ge=0, le=60, alias="API_KEY_CACHE_SECONDS")
    # Where people open the UI: alerts link runs as PUBLIC_URL/runs/<id>. Unset: relative links.
    public_url: str | None = Field(default=None, alias="PUBLIC_URL")
    # Fernet key (urlsafe base64 of 32 bytes) that encrypts secrets and channel credentials at rest. Local mode
    # keeps a random one in SUPERTEST_HOME/secrets.key when unset; elsewhere storing a secret needs it.
    secrets_key: SecretStr | None = Field(default=None, alias="SECRETS_KEY")
    # Signs per-run tokens (supertest/run_token.py): the operator mints them, the API's ingest endpoints check them.
    # Only the API and operator hold it; a run pod holds only its own run's token.
    run_token_key: SecretStr | None = Field(default=None, alias="RUN_TOKEN_KEY")
    # The notification sender (the API in local mode, the operator in Kubernetes mode).
    notify_poll_seconds: float = Field(default=2.0, ge=0.05, le=3600, alias="NOTIFY_POLL_SECONDS")
    notify_max_attempts: int = Field(default=8, ge=1, le=100, alias="NOTIFY_MAX_ATTEMPTS")
    notify_backoff_seconds: float = Field(default=2.0, ge=0.01, le=3600, alias="NOTIFY_BACKOFF_SECONDS")
    notify_backoff_max_seconds: float = Field(default=300.0, ge=0.01, le=86_400, alias="NOTIFY_BACKOFF_MAX_SECONDS")
    notify_timeout_seconds: float = Field(default=10.0, gt=0, le=300, alias="NOTIFY_TIMEOUT_SECONDS")

    @property
    def is_local(self) -> bool:
        return self.run_backend is RunBackend.local

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite:///{self.home / 'supertest.db'}"

    @property
    def effective_artifacts_dir(self) -> Path:
        return self.artifacts_dir or self.home / "artifacts"

    @property
    def default_timeout_seconds(self) -> int:
        return max(1, self.test_execution_timeout_ms // 1000)

    @field_validator("run_token_key")
    @classmethod
    def _strong_run_token_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        secret = value.get_secret_value()
        if secret.lower() in PLACEHOLDER_SECRETS or len(secret) < 32:
            raise ValueError("RUN_TOKEN_KEY must be a random value of 32+ characters (e.g. openssl rand -hex 32)")
        return value

    @field_validator("secrets_key")
    @classmethod
    def _fernet_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        try:
            raw = base64.urlsafe_b64decode(value.get_secret_value().encode())
        except (ValueError, binascii.Error):
            raw = b""
        if len(raw) != 32:
            raise ValueError(
                "SECRETS_KEY must be a Fernet key (urlsafe base64 of 32 bytes), e.g. from "
                "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
            )
        return value

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> CoreSettings:
        if self.is_local or not self.s3_endpoint:
            return self
        secret = self.aws_secret_access_key.get_secret_value() if self.aws_secret_access_key else ""
        if secret.lower() in PLACEHOLDER_SECRETS:
            raise ValueError(
                "AWS_SECRET_ACCESS_KEY is unset or a well-known placeholder; "
                "set a real secret outside local mode (RUN_BACKEND=local allows placeholders)"
            )
        return self


def normalise_database_url(url: str) -> str:
    """Accept the seed's `postgres://` form and pick the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class ArtifactsSettings(CoreSettings):
    """The artifacts origin: what the API needs to mint its URLs, and what the artifacts server needs to serve them.

    The artifacts server (`supertest artifacts`) reads this class alone; it holds no session secret and no
    database URL, only the stores and the token key.
    """

    # The separate origin that serves reports, traces and attachments (scheme://host[:port], no path). The host may
    # be `*`: the host name each request came to the API by, on the given port (one Service, two ports). Unset: the
    # API serves no artifacts at all (`supertest dev` sets it to its second port).
    artifacts_url: str | None = Field(default=None, alias="ARTIFACTS_URL")
    # HMAC key of the run-scoped tokens in artifacts URLs; the API and the artifacts server share it. Local mode
    # keeps a random one in SUPERTEST_HOME/artifacts.key when unset.
    artifacts_signing_key: SecretStr | None = Field(default=None, alias="ARTIFACTS_SIGNING_KEY")
    # How long a minted artifacts URL opens its run (it is rounded up by at most a quarter of this).
    artifacts_token_ttl_seconds: int = Field(default=3600, ge=60, le=7 * 86_400, alias="ARTIFACTS_TOKEN_TTL_SECONDS")
    artifacts_host: str = Field(default="127.0.0.1", alias="ARTIFACTS_HOST")
    artifacts_port: int = Field(default=8001, ge=1, le=65535, alias="ARTIFACTS_PORT")

    @field_validator("artifacts_url")
    @classmethod
    def _origin_only(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value.replace("://*", "://wildcard.invalid", 1))
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/") or parts.query:
            raise ValueError(
                "ARTIFACTS_URL must be an origin such as https://artifacts.<your domain> or http://*:8081 (no path)"
            )
        return value.rstrip("/")

    @model_validator(mode="after")
    def _refuse_weak_artifacts_key(self) -> ArtifactsSettings:
        if self.is_local or not self.artifacts_url:
            return self
        key = self.artifacts_signing_key.get_secret_value() if self.artifacts_signing_key else ""
        if key.lower() in PLACEHOLDER_SECRETS or len(key) < 32:
            raise ValueError("ARTIFACTS_SIGNING_KEY must be a random value of 32+ characters when ARTIFACTS_URL is set")
        return self


class ApiSettings(ArtifactsSettings):
    host: str = Field(default="127.0.0.1", alias="SUPERTEST_HOST")
    port: int = Field(default=8000, ge=1, le=65535, alias="SUPERTEST_PORT")
    session_secret: SecretStr | None = Field(default=None, alias="SESSION_SECRET")
    kube_namespace: str = Field(default="default", alias="SUPERTEST_NAMESPACE")
    # Test-only fault hook (tests/faults/test_api_killed.py): the process SIGKILLs itself right after a run's row
    # is committed and before its resource is created, the window that the operator's orphan-row repair covers.
    fault_kill_after_row_insert: bool = Field(default=False, alias="SUPERTEST_FAULT_KILL_AFTER_ROW_INSERT")
    # Peers whose X-Forwarded-Proto / X-Forwarded-For are believed (comma-separated IPs or CIDRs, or "*"): the
    # TLS-terminating proxy or ingress. Behind it the session cookie is Secure; anyone else's headers are ignored.
    # Same name and default as uvicorn's own setting, applied by the app itself (uvicorn's is turned off).
    forwarded_allow_ips: str = Field(default="127.0.0.1", alias="FORWARDED_ALLOW_IPS")
    # Serve /metrics on this port (same bind address) instead of the API port, so it need not be exposed
    # wherever the API is. Unset: /metrics is a route of the API.
    metrics_port: int | None = Field(default=None, ge=1, le=65535, alias="METRICS_PORT")

    @model_validator(mode="after")
    def _refuse_placeholder_session_secret(self) -> ApiSettings:
        if self.is_local:
            return self
        secret = self.session_secret.get_secret_value() if self.session_secret else ""
        if secret.lower() in PLACEHOLDER_SECRETS or len(secret) < 16:
            raise ValueError("SESSION_SECRET must be set to a random value of 16+ characters outside local mode")
        return self

    @model_validator(mode="after")
    def _metrics_port_is_its_own(self) -> ApiSettings:
        if self.metrics_port is not None and self.metrics_port == self.port:
            raise ValueError(
                "METRICS_PORT must differ from SUPERTEST_PORT (unset it to serve /metrics on the API port)"
            )
        return self


class RunnerSettings(CoreSettings):
    """What the runner pod (or local subprocess) reads."""

    run_id: str = Field(alias="SUPERTEST_RUN_ID", min_length=1, max_length=63)
    run_kind: str = Field(default="test", pattern="^(test|job)$", alias="SUPERTEST_RUN_KIND")
    scripts_dir: Path = Field(alias="SUPERTEST_SCRIPTS_DIR")
    work_dir: Path | None = Field(default=None, alias="SUPERTEST_WORK_DIR")
    timeout_seconds: int | None = Field(default=None, ge=1, alias="SUPERTEST_TIMEOUT_SECONDS")
    playwright_dir: Path | None = Field(default=None, alias="SUPERTEST_PLAYWRIGHT_DIR")
    chromium_path: Path = Field(default=Path("/usr/bin/chromium"), alias="CHROMIUM_PATH")
    events_to_stdout: bool = Field(default=False, alias="SUPERTEST_EVENTS_STDOUT")
    trace: str = Field(default="on", pattern="^(on|off|retain-on-failure|on-first-retry)$", alias="PW_TRACE")
    screenshot: str = Field(default="on", pattern="^(on|off|only-on-failure)$", alias="PW_SCREENSHOT")
    video: str = Field(default="on", pattern="^(on|off|retain-on-failure|on-first-retry)$", alias="PW_VIDEO")
    playwright_retries: int = Field(default=0, ge=0, le=5, alias="PW_RETRIES")
    # JSON list of quarantined test ids (file > title path): their failures are reported apart, the run passes.
    quarantined_tests: str = Field(default="", alias="SUPERTEST_QUARANTINED_TESTS")
    # JSON list of test ids (spec.onlyTests, re-run failed): Playwright runs only these (supertest.rerun).
    only_tests: str = Field(default="", alias="SUPERTEST_ONLY_TESTS")
    upload_attempts: int = Field(default=4, ge=1, le=20, alias="UPLOAD_ATTEMPTS")
    # Comma-separated spec.browsers; only chromium can run here, others end the run as Error with a clear message.
    browsers: str = Field(default="chromium", alias="SUPERTEST_BROWSERS")
    # Kubernetes mode: the API's ingest endpoints and this run's own token (a Secret the operator minted). With
    # them the runner holds no Redis or S3 credential: events and artifacts go through the API.
    ingest_url: str | None = Field(default=None, alias="SUPERTEST_INGEST_URL")
    run_token: SecretStr | None = Field(default=None, alias="SUPERTEST_RUN_TOKEN")
    run_namespace: str | None = Field(default=None, alias="SUPERTEST_RUN_NAMESPACE")
    # Where the verdict goes (supertest/verdict.py): the pod's terminationMessagePath, or a file local mode reads.
    verdict_path: Path | None = Field(default=None, alias="SUPERTEST_VERDICT_PATH")
    # One long line (a 10 MB console.log) must not reach the bus whole: cut with a marker past this many bytes.
    log_line_max_bytes: int = Field(default=16 * 1024, ge=256, le=1024 * 1024, alias="SUPERTEST_LOG_LINE_MAX_BYTES")
    # Events per run on the live view; past it only the closing events go out, after an "N events dropped" note.
    max_events: int = Field(default=20_000, ge=10, le=10_000_000, alias="SUPERTEST_MAX_EVENTS")
    # Events waiting for the bus; a full queue drops (and counts) rather than slowing the run.
    publish_queue_size: int = Field(default=1000, ge=1, le=100_000, alias="SUPERTEST_PUBLISH_QUEUE_SIZE")
    # A sharded run (supertest/sharding.py): this process is shard SHARD_INDEX of SHARD_TOTAL and runs only the
    # scripts named in SHARD_FILES; it stores a Playwright blob report for the merge step instead of the run's
    # report. SHARD_MERGE: this process is the merge step (`playwright merge-reports` over the shards' blobs).
    shard_index: int | None = Field(default=None, ge=0, lt=32, alias="SUPERTEST_SHARD_INDEX")
    shard_total: int | None = Field(default=None, ge=1, le=32, alias="SUPERTEST_SHARD_TOTAL")
    shard_files: str = Field(default="", max_length=32_768, alias="SUPERTEST_SHARD_FILES")
    shard_merge: bool = Field(default=False, alias="SUPERTEST_SHARD_MERGE")

    @property
    def shard_file_names(self) -> frozenset[str]:
        return frozenset(n for n in self.shard_files.split(",") if n)

    @model_validator(mode="after")
    def _shard_fields_agree(self) -> RunnerSettings:
        # The merge step gets the total too (it checks every shard's blob is there), never an index.
        if (self.shard_index is not None or self.shard_merge) and self.shard_total is None:
            raise ValueError("a shard and the merge step need SUPERTEST_SHARD_TOTAL")
        if self.shard_index is not None and self.shard_merge:
            raise ValueError("a shard is not the merge step: set SUPERTEST_SHARD_MERGE or the shard index, not both")
        if self.shard_index is not None and self.shard_total is not None and self.shard_index >= self.shard_total:
            raise ValueError("SUPERTEST_SHARD_INDEX must be below SUPERTEST_SHARD_TOTAL")
        return self

    @model_validator(mode="after")
    def _ingest_needs_its_token(self) -> RunnerSettings:
        if self.ingest_url and (self.run_token is None or not self.run_namespace):
            raise ValueError("SUPERTEST_INGEST_URL needs SUPERTEST_RUN_TOKEN and SUPERTEST_RUN_NAMESPACE")
        return self
