"""A response model's body, serialised once in the route, so FastAPI has nothing left to validate.

A synchronous route runs in FastAPI's thread pool. When it returns a model (or a dict) rather than a
`Response`, FastAPI validates that value against the route's `response_model` in the thread pool once
more before serialising it: a second thread hop, on every request. A route that returns
`model_response(...)` answers with the same bytes FastAPI would have written and skips that hop;
keep `response_model=` on the route so the OpenAPI document still describes the body.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Response
from pydantic import BaseModel

JSON_MEDIA_TYPE = "application/json"


def model_response(
    body: BaseModel,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    exclude_none: bool = False,
) -> Response:
    """Answer with `body` as JSON, exactly as FastAPI serialises a route's response model.

    FastAPI dumps the validated value by alias in JSON mode (pydantic's own encoder: datetimes end in
    `Z`, UUIDs as strings); `exclude_none` stands for the route's `response_model_exclude_none=True`.
    `body` must be an instance of the route's response model itself, not a subclass: FastAPI would
    drop a subclass's extra fields, this keeps them.
    """
    return Response(
        body.model_dump_json(by_alias=True, exclude_none=exclude_none),
        status_code=status_code,
        headers=dict(headers) if headers else None,
        media_type=JSON_MEDIA_TYPE,
    )
