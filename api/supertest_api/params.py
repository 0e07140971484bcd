"""Query and path parameters get the same text check as request bodies (see text.py)."""

from __future__ import annotations

from fastapi import Request
from starlette.convertors import PathConvertor

from supertest_api.errors import ValidationFailed
from supertest_api.text import unstorable_reason


async def reject_unstorable_params(request: Request) -> None:
    """App-wide dependency: the same check for query and path parameters (a `%00` in a URL decodes to NUL).

    A `{path:path}` parameter is an artifact path: it has its own check, which answers 400 invalid_path.
    `async def` although it awaits nothing: it runs on every request, and a sync dependency costs a thread hop.
    """
    route = request.scope.get("route")
    convertors = getattr(route, "param_convertors", {})
    params = [("query", name, value) for name, value in request.query_params.multi_items()]
    params += [
        ("path", name, value)
        for name, value in request.path_params.items()
        if isinstance(value, str) and not isinstance(convertors.get(name), PathConvertor)
    ]
    for where, name, value in params:
        reason = unstorable_reason(value)
        if reason is not None:
            raise ValidationFailed(
                f"{where}.{name}: {reason}",
                details=[{"loc": [where, name], "msg": reason, "type": "value_error"}],
            )
