from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Response, status

from supertest.db.engine import session_scope
from supertest_api.auth.deps import require_principal
from supertest_api.common import responses
from supertest_api.deps import ResourcesDep, SessionDep, SettingsDep
from supertest_api.notifications import service
from supertest_api.notifications.schemas import (
    ChannelIn,
    ChannelListOut,
    ChannelOut,
    DeliveryListOut,
    RuleIn,
    RuleListOut,
    RuleOut,
    SendTestOut,
)

router = APIRouter(prefix="/api", tags=["notifications"], dependencies=[Depends(require_principal)])


@router.get("/notifications/channels", response_model=ChannelListOut, responses=responses())
def list_channels(session: SessionDep, res: ResourcesDep) -> ChannelListOut:
    items = [service.channel_out(c, res.secrets) for c in service.list_channels(session)]
    return ChannelListOut(items=items, total=len(items))


@router.post(
    "/notifications/channels",
    status_code=status.HTTP_201_CREATED,
    response_model=ChannelOut,
    responses=responses(409, 503),
    summary="Create a channel: webhook (JSON body template, HMAC), Slack incoming webhook, or SMTP email",
)
def create_channel(body: Annotated[ChannelIn, Body()], session: SessionDep, res: ResourcesDep) -> ChannelOut:
    return service.channel_out(service.create_channel(session, res.secrets, body), res.secrets)


@router.get("/notifications/channels/{channel_id}", response_model=ChannelOut, responses=responses(404))
def get_channel(channel_id: str, session: SessionDep, res: ResourcesDep) -> ChannelOut:
    return service.channel_out(service.get_channel(session, channel_id), res.secrets)


@router.put(
    "/notifications/channels/{channel_id}",
    response_model=ChannelOut,
    responses=responses(404, 409, 503),
    summary="Replace a channel; write-only fields left out keep their stored values",
)
def replace_channel(
    channel_id: str, body: Annotated[ChannelIn, Body()], session: SessionDep, res: ResourcesDep
) -> ChannelOut:
    return service.channel_out(service.replace_channel(session, res.secrets, channel_id, body), res.secrets)


@router.delete(
    "/notifications/channels/{channel_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=responses(404),
    summary="Delete a channel, its rules and its pending alerts",
)
def delete_channel(channel_id: str, session: SessionDep) -> Response:
    service.delete_channel(session, channel_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/notifications/channels/{channel_id}/test",
    response_model=SendTestOut,
    responses=responses(404, 503),
    summary="Send a sample alert now and report what the receiver answered",
)
async def send_test(channel_id: str, res: ResourcesDep, settings: SettingsDep) -> SendTestOut:
    # One short read, not the request's session: the send may take seconds and must hold no transaction.
    with session_scope(res.session_factory) as session:
        record = service.get_channel(session, channel_id)
    result = await service.send_test(record, res.secrets, settings)
    return SendTestOut(ok=result.ok, status_code=result.status_code, error=result.error, duration_ms=result.duration_ms)


@router.get("/notifications/rules", response_model=RuleListOut, responses=responses())
def list_rules(
    session: SessionDep,
    job_id: Annotated[str | None, Query(alias="jobId", max_length=32)] = None,
    test_id: Annotated[str | None, Query(alias="testId", max_length=32)] = None,
) -> RuleListOut:
    names = service.channel_names(session)
    items = [service.rule_out(r, names) for r in service.list_rules(session, job_id, test_id)]
    return RuleListOut(items=items, total=len(items))


@router.post(
    "/notifications/rules",
    status_code=status.HTTP_201_CREATED,
    response_model=RuleOut,
    responses=responses(404),
    summary="Alert a channel about one job's (or one test's) runs",
)
def create_rule(body: RuleIn, session: SessionDep) -> RuleOut:
    return service.rule_out(service.create_rule(session, body), service.channel_names(session))


@router.delete(
    "/notifications/rules/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=responses(404),
)
def delete_rule(rule_id: str, session: SessionDep) -> Response:
    service.delete_rule(session, rule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/runs/{run_id}/notifications",
    response_model=DeliveryListOut,
    responses=responses(404),
    summary="The alerts of a run and every delivery attempt (status code, error)",
)
def run_notifications(run_id: str, session: SessionDep) -> DeliveryListOut:
    return service.run_deliveries(session, run_id)
