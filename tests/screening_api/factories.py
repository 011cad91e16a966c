"""Builders for screening-API tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

# Ofcom drama-range number (DESIGN 9) and a made-up child's name.
PHONE = "07700 900461"
CHILD = "Tobias Wrenfield"


def post(text: str = "Lovely sunny walk by the river this morning.", **overrides: Any) -> dict[str, Any]:
    """Return a valid createScreening body."""
    body: dict[str, Any] = {
        "text": text,
        "author": {"id": "vol-1", "role": "volunteer"},
        "platform": "facebook",
        "context": {"account": "personal"},
    }
    body.update(overrides)
    return body


def iso(value: dt.datetime) -> str:
    """Return an ISO string with an explicit offset."""
    return value.isoformat()


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def grant(
    person_id: str = "vol-1",
    *,
    start: dt.timedelta = dt.timedelta(hours=-1),
    end: dt.timedelta = dt.timedelta(days=7),
    topic: str = "Fundraising appeal",
) -> dict[str, Any]:
    """Return a createAuthority body relative to now."""
    t = now()
    return {"person_id": person_id, "topic": topic, "valid_from": iso(t + start), "valid_until": iso(t + end)}


W = "screenings:write"
R = "screenings:read"
PT = "protected-terms:write"
AW = "authorities:write"
