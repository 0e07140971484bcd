from __future__ import annotations

from fastapi import APIRouter, Depends

from supertest_api.auth.deps import require_principal
from supertest_api.capacity import service
from supertest_api.capacity.schemas import CapacityOut
from supertest_api.common import responses
from supertest_api.deps import SessionDep, SettingsDep

router = APIRouter(prefix="/api", tags=["capacity"], dependencies=[Depends(require_principal)])


@router.get("/capacity", response_model=CapacityOut, responses=responses(), summary="Running and queued counts")
def capacity(session: SessionDep, settings: SettingsDep) -> CapacityOut:
    return service.capacity(session, settings)
