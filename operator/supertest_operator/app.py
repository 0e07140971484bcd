"""Process entry: validated settings, then kopf's operator loop with our namespaces and peering."""

from __future__ import annotations

import asyncio
import sys

import kopf
from pydantic import ValidationError

from supertest.logs import configure_logging
from supertest_operator import startup
from supertest_operator.settings import OperatorSettings


def serve(settings: OperatorSettings) -> None:
    startup.preset(settings)
    configure_logging(settings.log_format, settings.log_level)
    namespaces = settings.namespace_list
    asyncio.run(
        kopf.operator(
            standalone=settings.peering_name is None,
            peering_name=settings.peering_name,
            namespaces=namespaces,
            clusterwide=not namespaces,
        )
    )


def run(settings: OperatorSettings | None = None) -> None:
    """Run the operator until SIGINT/SIGTERM; bad settings exit with code 2 and a readable message."""
    import supertest_operator.main  # noqa: F401 - registers the handlers with kopf

    if settings is None:
        try:
            settings = OperatorSettings()
        except ValidationError as exc:
            print(f"supertest-operator: invalid configuration: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
    serve(settings)
