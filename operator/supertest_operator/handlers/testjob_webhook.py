"""Admission check of a TestJob: the cron expression and time zone, which the CRD schema cannot parse.

The webhook's failurePolicy is Ignore (the operator may be down); the scheduler then reports the same error as
the TestJob's Scheduled=False/InvalidSchedule condition and a Warning Event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from supertest import schedule


def validate(body: Mapping[str, Any]) -> None:
    spec = body.get("spec") or {}
    try:
        schedule.validate(str(spec.get("schedule") or ""), str(spec.get("timeZone") or "UTC"))
    except schedule.InvalidSchedule as exc:
        raise kopf.AdmissionError(f"spec: {exc}", code=422) from exc
