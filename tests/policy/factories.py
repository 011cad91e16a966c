"""Builders and constants for policy-API tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import FastAPI

from app.policy.dependencies import get_today

READ = "policy:read"
WRITE = "policy:write"
HR = "policy:read policy:write"
ORIGINAL_VERSION = "2019-11"
ORIGINAL_REVIEWED = dt.date(2019, 11, 1)


def pin_today(app: FastAPI, day: dt.date) -> None:
    """Make the app's clock say `day` (overrides the `get_today` dependency)."""
    app.dependency_overrides[get_today] = lambda: day


def review_body(version: str = "2025-03", reviewed_on: str = "2025-03-14", **overrides: Any) -> dict[str, Any]:
    """Return a valid createPolicyReview body."""
    body: dict[str, Any] = {
        "reviewed_on": reviewed_on,
        "reviewer": "hr-lead-07",
        "summary": "Annual review: clauses unchanged.",
        "version": version,
    }
    body.update(overrides)
    return body


def record_review(client: Any, headers: dict[str, str], **kw: Any) -> dict[str, Any]:
    """Record a review through the API (asserting 201) and return its JSON."""
    response = client.post("/v1/policy/reviews", json=review_body(**kw), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()
