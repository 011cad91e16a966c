"""Builders for incident requests."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from app.clock import FakeClock

HR = "incidents:write incidents:read"
MANAGER = "escalations:read escalations:write"


def incident_body(subject_id: str | None = None, role: str = "volunteer", **overrides: Any) -> dict[str, Any]:
    """A valid createIncident body; `overrides` replace top-level fields."""
    body: dict[str, Any] = {
        "subject": {"id": subject_id or f"subj-{uuid.uuid4().hex[:8]}", "role": role},
        "platform": "facebook",
        "url": "https://facebook.com/posts/1",
        "posted_at": (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat(),
        "summary": "Complained publicly about the centre's managers.",
        "evidence": "Screenshot HR-117",
    }
    body.update(overrides)
    return body


def a_moment_later(client: Any) -> None:
    """Move a test app's fake clock on a second, so the next record is strictly later than the last.

    HR's records follow one another: "recorded after the last step" must never be a tie.
    """
    clock = getattr(client.app.state, "clock", None)
    if isinstance(clock, FakeClock):
        clock.advance(1)


def record(
    client: Any,
    headers: dict[str, str],
    subject_id: str | None = None,
    role: str = "volunteer",
    **kw: Any,
) -> dict[str, Any]:
    """Record an incident through the API, a moment after what came before; return its JSON (asserting 201)."""
    a_moment_later(client)
    response = client.post("/v1/incidents", json=incident_body(subject_id, role, **kw), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()
