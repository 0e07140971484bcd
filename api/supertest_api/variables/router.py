from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from supertest.crypto import SecretBox
from supertest_api.auth.deps import require_principal
from supertest_api.common import responses
from supertest_api.deps import ResourcesDep, SessionDep
from supertest_api.kubernetes.secrets import SecretsCluster
from supertest_api.resources import AppResources
from supertest_api.variables import service
from supertest_api.variables.schemas import VariableIn, VariableListOut, VariableOut, VariableUpdateIn

router = APIRouter(prefix="/api/variables", tags=["variables"], dependencies=[Depends(require_principal)])


def get_secrets_cluster(res: ResourcesDep) -> SecretsCluster | None:
    """Kubernetes mode keeps secret values in k8s Secrets, written with the launcher's client."""
    if res.settings.is_local:
        return None
    kube = getattr(res.launcher, "kube", None)
    return SecretsCluster(kube, res.settings.kube_namespace) if kube is not None else None


SecretsClusterDep = Annotated[SecretsCluster | None, Depends(get_secrets_cluster)]


def _box(res: AppResources) -> SecretBox:
    return res.secrets


@router.get("", response_model=VariableListOut, responses=responses(), summary="Variables and secrets (no values)")
def list_variables(
    session: SessionDep,
    job_id: Annotated[str | None, Query(alias="jobId", max_length=32, description="One job's only")] = None,
    project: Annotated[bool, Query(description="Project-wide ones only")] = False,
) -> VariableListOut:
    items = [service.variable_out(v) for v in service.list_variables(session, job_id, project)]
    return VariableListOut(items=items, total=len(items))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=VariableOut,
    responses=responses(404, 409, 502, 503),
    summary="Set a variable or a secret (a secret's value is write-only)",
)
def create_variable(
    body: VariableIn, session: SessionDep, res: ResourcesDep, cluster: SecretsClusterDep
) -> VariableOut:
    return service.variable_out(service.create_variable(session, _box(res), cluster, body))


@router.put("/{variable_id}", response_model=VariableOut, responses=responses(404, 502, 503), summary="Change a value")
def update_variable(
    variable_id: str, body: VariableUpdateIn, session: SessionDep, res: ResourcesDep, cluster: SecretsClusterDep
) -> VariableOut:
    return service.variable_out(service.update_variable(session, _box(res), cluster, variable_id, body))


@router.delete(
    "/{variable_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response, responses=responses(404, 502)
)
def delete_variable(variable_id: str, session: SessionDep, cluster: SecretsClusterDep) -> Response:
    service.delete_variable(session, cluster, variable_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
