"""Opaque keyset cursors for newest-first lists (stable under concurrent inserts)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel
from pydantic.config import JsonValue
from sqlalchemy import Integer, and_, bindparam, or_

from app.errors import BadRequest

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

# The query parameters every list takes (default DEFAULT_LIMIT). No max_length on the cursor: an
# over-long one is a bad cursor (400), like any other the service did not issue.
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]


def examples_of(model: type[BaseModel]) -> list[JsonValue]:
    """Return the examples a schema declares in its ``json_schema_extra``."""
    extra = model.model_config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, dict) else None
    if not isinstance(examples, list):
        raise TypeError(f"{model.__name__} declares no json_schema_extra examples")
    return examples


def page_example(item_model: type[BaseModel], **fields: Any) -> dict[str, Any]:
    """Return an example page for a list schema: ``fields``, one item and a real cursor.

    The item is the item model's own first example, so a list documents the shape a client parses.
    """
    item = examples_of(item_model)[0]
    return {**fields, "items": [item], "next_cursor": EXAMPLE_CURSOR}


def encode_cursor(created_at: dt.datetime, row_id: uuid.UUID | str) -> str:
    """Encode the position after the last item of a page."""
    raw = json.dumps({"t": created_at.astimezone(dt.UTC).isoformat(), "id": str(row_id)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    """Decode a cursor from `encode_cursor`; anything else is a 400 naming the `cursor` field."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        created_at = dt.datetime.fromisoformat(data["t"])
        if created_at.tzinfo is None:
            raise ValueError("naive time")
        return created_at, uuid.UUID(data["id"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise BadRequest(
            "The cursor is not valid; pass the `next_cursor` of a previous page unchanged.",
            errors=[{"field": "query.cursor", "message": "invalid cursor", "type": "cursor_invalid"}],
        ) from exc


def keyset_page(statement: Any, created_col: Any, id_col: Any, *, cursor: str | None, limit: int) -> Any:
    """Order newest first and start after `cursor`; fetches one extra row to detect a next page."""
    if cursor:
        created_at, row_id = decode_cursor(cursor)
        statement = statement.where(or_(created_col < created_at, and_(created_col == created_at, id_col < row_id)))
    return statement.order_by(created_col.desc(), id_col.desc()).limit(limit + 1)


#: Bind parameter names of `keyset_statement`, filled by `keyset_params`.
_AFTER_CREATED, _AFTER_ID, _PAGE_ROWS = "keyset_created_at", "keyset_id", "keyset_rows"


def keyset_statement(statement: Any, created_col: Any, id_col: Any, *, after: bool) -> Any:
    """`keyset_page` with bind parameters in place of the cursor and limit, for a statement built once.

    Building a select and its cache key costs more than running it on a hot list; a statement kept
    per filter shape is reused with `keyset_params` for each page.
    """
    if after:
        created_at, row_id = bindparam(_AFTER_CREATED, type_=created_col.type), bindparam(_AFTER_ID, type_=id_col.type)
        statement = statement.where(or_(created_col < created_at, and_(created_col == created_at, id_col < row_id)))
    return statement.order_by(created_col.desc(), id_col.desc()).limit(bindparam(_PAGE_ROWS, type_=Integer))


def keyset_params(*, cursor: str | None, limit: int) -> dict[str, Any]:
    """Return the bind parameters of `keyset_statement(after=bool(cursor))` (a bad cursor is a 400)."""
    params: dict[str, Any] = {_PAGE_ROWS: limit + 1}
    if cursor:
        params[_AFTER_CREATED], params[_AFTER_ID] = decode_cursor(cursor)
    return params


def split_page(rows: list[Any], limit: int, *, created_attr: str = "created_at") -> tuple[list[Any], str | None]:
    """Cut the extra row off and compute the next cursor from the last row kept."""
    if len(rows) <= limit:
        return rows, None
    kept = rows[:limit]
    last = kept[-1]
    return kept, encode_cursor(getattr(last, created_attr), last.id)


EXAMPLE_CURSOR = encode_cursor(
    dt.datetime(2026, 1, 5, 10, 15, tzinfo=dt.UTC), uuid.UUID("3f2a9c1e-8b7d-4e6f-a5c4-1d2e3f4a5b6c")
)
