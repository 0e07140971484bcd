"""Variables (plain) and secrets (write-only) of runs, project-wide or per job."""

from __future__ import annotations

from sqlalchemy.orm import Session

from supertest import variables as core
from supertest.crypto import SecretBox, SecretsUnavailable
from supertest.db.models import VariableRecord, utcnow
from supertest_api.errors import ClusterWriteFailed, Conflict, NotFoundError, ServiceUnavailable, ValidationFailed
from supertest_api.kubernetes.secrets import SecretsCluster, SecretWriteFailed
from supertest_api.variables import repository
from supertest_api.variables.schemas import VariableIn, VariableOut, VariableUpdateIn

# The runner's and the platform's own names: a variable may not shadow them.
RESERVED_PREFIXES = ("SUPERTEST_", "S3_", "AWS_", "PW_", "PLAYWRIGHT_")
RESERVED_NAMES = frozenset(
    {"REDIS_URL", "DATABASE_URL", "HOME", "PATH", "MAX_CONCURRENT_TESTS", "CHROMIUM_PATH", "RUN_BACKEND", "CI"}
)
# Shorter secrets could not be masked without masking ordinary text (the runner's MIN_MASKED_LENGTH).
MIN_SECRET_LENGTH = 4


def variable_out(record: VariableRecord) -> VariableOut:
    return VariableOut(
        id=record.id,
        name=record.name,
        secret=record.secret,
        job_id=record.job_id,
        value=None if record.secret else record.value,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def _scope(job_id: str | None) -> str:
    return job_id or core.PROJECT


def list_variables(session: Session, job_id: str | None, project_only: bool) -> list[VariableRecord]:
    return repository.list_variables(session, core.PROJECT if project_only else job_id)


def _check(name: str, value: str, secret: bool) -> None:
    if name in RESERVED_NAMES or name.startswith(RESERVED_PREFIXES):
        raise ValidationFailed(
            f"{name} is reserved for the platform (names starting with {', '.join(RESERVED_PREFIXES)} "
            f"and {', '.join(sorted(RESERVED_NAMES))})"
        )
    if secret and len(value) < MIN_SECRET_LENGTH:
        raise ValidationFailed(f"a secret needs at least {MIN_SECRET_LENGTH} characters, or it could not be masked")


def _store_secret(record: VariableRecord, value: str, box: SecretBox, cluster: SecretsCluster | None) -> None:
    if cluster is not None:
        secret = core.k8s_secret_name(record.scope)
        try:
            cluster.put(secret, record.name, value)
        except SecretWriteFailed as exc:
            raise ClusterWriteFailed(f"could not write the Secret {secret}: {exc}") from exc
        record.k8s_secret, record.ciphertext = secret, None
        return
    try:
        record.ciphertext = box.encrypt(value)
    except SecretsUnavailable as exc:
        raise ServiceUnavailable(str(exc)) from exc


def create_variable(
    session: Session, box: SecretBox, cluster: SecretsCluster | None, body: VariableIn
) -> VariableRecord:
    _check(body.name, body.value, body.secret)
    if body.job_id is not None and not repository.job_exists(session, body.job_id):
        raise NotFoundError(f"job {body.job_id!r} not found")
    scope = _scope(body.job_id)
    if repository.find(session, scope, body.name) is not None:
        where = f"job {body.job_id}" if body.job_id else "the project"
        raise Conflict(f"{body.name} is already set for {where}; change it with PUT /api/variables/{{id}}")
    record = VariableRecord(scope=scope, job_id=body.job_id, name=body.name, secret=body.secret)
    if body.secret:
        _store_secret(record, body.value, box, cluster)
    else:
        record.value = body.value
    return repository.add(session, record)


def get_variable(session: Session, variable_id: str) -> VariableRecord:
    record = repository.get(session, variable_id)
    if record is None:
        raise NotFoundError(f"variable {variable_id!r} not found")
    return record


def update_variable(
    session: Session, box: SecretBox, cluster: SecretsCluster | None, variable_id: str, body: VariableUpdateIn
) -> VariableRecord:
    record = get_variable(session, variable_id)
    _check(record.name, body.value, record.secret)
    if record.secret:
        _store_secret(record, body.value, box, cluster)
    else:
        record.value = body.value
    record.updated_at = utcnow()
    session.flush()
    return record


def delete_variable(session: Session, cluster: SecretsCluster | None, variable_id: str) -> None:
    record = get_variable(session, variable_id)
    if record.secret and record.k8s_secret and cluster is not None:
        try:
            cluster.remove(record.k8s_secret, record.name)
        except SecretWriteFailed as exc:
            raise ClusterWriteFailed(f"could not update the Secret {record.k8s_secret}: {exc}") from exc
    repository.delete(session, record)
