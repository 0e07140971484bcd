"""Label values of the API's metrics, kept in one place so dashboards and code agree."""

from __future__ import annotations

from typing import Literal

# Why a request was turned away before a run (or a stored test) was written.
RejectReason = Literal["queue_full", "too_large", "empty_script"]
UNMATCHED_ROUTE = "unmatched"  # 404s and body-limit rejections, which never reach a route
