"""Variables and secrets of runs: project-wide, overridden per job, read by scripts as process.env.NAME.

Local mode (and any database-only install) keeps a secret as Fernet ciphertext and hands its value to the runner
subprocess in its environment, with the names to mask in SUPERTEST_MASK_NAMES. Kubernetes mode keeps the value
in a k8s Secret (`supertest-vars-<scope>`, one key per variable) and the run's spec.env names it through
`valueFrom.secretKeyRef`: the value is in no resource, row or pod spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from supertest.crypto import SecretBox
from supertest.db.models import VariableRecord
from supertest.kube.models import VARIABLES_SECRET_PREFIX

PROJECT = "project"


def k8s_secret_name(scope: str) -> str:
    return VARIABLES_SECRET_PREFIX + scope.lower()


def for_run(session: Session, job_id: str | None) -> list[VariableRecord]:
    """The variables a run gets: project-wide ones, overridden by its job's of the same name."""
    scopes = [PROJECT, *([job_id] if job_id else [])]
    rows = session.execute(select(VariableRecord).where(or_(*(VariableRecord.scope == s for s in scopes)))).scalars()
    chosen: dict[str, VariableRecord] = {}
    for row in sorted(rows, key=lambda r: r.scope != PROJECT):  # project first, the job's win
        chosen[row.name] = row
    return [chosen[name] for name in sorted(chosen)]


@dataclass(frozen=True, slots=True)
class LocalEnv:
    env: dict[str, str]
    secret_names: list[str]


def local_env(records: list[VariableRecord], box: SecretBox) -> LocalEnv:
    env: dict[str, str] = {}
    secrets: list[str] = []
    for record in records:
        if record.secret:
            if record.ciphertext is None:
                continue  # a Kubernetes-mode secret (a k8s Secret): not readable here
            env[record.name] = box.decrypt(record.ciphertext)
            secrets.append(record.name)
        else:
            env[record.name] = record.value or ""
    return LocalEnv(env, secrets)


def k8s_env(records: list[VariableRecord]) -> list[dict[str, Any]]:
    """spec.env entries of a TestRun/JobRun: plain values, and secretKeyRefs for secrets."""
    out: list[dict[str, Any]] = []
    for record in records:
        if record.secret:
            secret = record.k8s_secret or k8s_secret_name(record.scope)
            out.append({"name": record.name, "valueFrom": {"secretKeyRef": {"name": secret, "key": record.name}}})
        else:
            out.append({"name": record.name, "value": record.value or ""})
    return out
