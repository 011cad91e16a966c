"""Builders for privacy tests: one person's records in every table that can name them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from app.db_models import metadata
from tests.incidents.factories import HR as INCIDENTS_HR
from tests.incidents.factories import a_moment_later, incident_body
from tests.screening_api.factories import W, grant, post

ADMIN = "admin"
MANAGER = "escalations:read escalations:write"
ACKS = "/v1/policy/acknowledgements"


def new_subject() -> str:
    """A subject id no other test uses (the table scan looks for it as a substring)."""
    return f"vol-priv-{uuid.uuid4().hex[:10]}"


@dataclass
class Held:
    """What `populate` recorded about a subject."""

    subject_id: str
    screening_ids: list[str] = field(default_factory=list)
    incident_ids: list[str] = field(default_factory=list)
    grant_ids: list[str] = field(default_factory=list)
    acknowledgement_ids: list[str] = field(default_factory=list)


def populate(
    client: Any, auth: Any, subject_id: str, *, screenings: int = 2, incidents: int = 2, grant_and_ack: bool = True
) -> Held:
    """Record screenings they wrote, incidents about them (one with an Idempotency-Key), a grant and an acknowledgement."""
    held = Held(subject_id)
    for i in range(screenings):
        body = post(f"Bake sale number {i} on Saturday", author={"id": subject_id, "role": "volunteer"})
        a_moment_later(client)
        r = client.post("/v1/screenings", json=body, headers=auth(W, sub="hr-screener"))
        assert r.status_code == 201, r.text
        held.screening_ids.append(r.json()["id"])
    for i in range(incidents):
        headers = auth(INCIDENTS_HR, sub="hr-anna")
        if i == 0:
            headers = {**headers, "Idempotency-Key": str(uuid.uuid4())}
        a_moment_later(client)
        r = client.post("/v1/incidents", json=incident_body(subject_id), headers=headers)
        assert r.status_code == 201, r.text
        held.incident_ids.append(r.json()["id"])
    if not grant_and_ack:
        return held
    r = client.post("/v1/authorities", json=grant(subject_id), headers=auth("authorities:write", sub="mgr-sam"))
    assert r.status_code == 201, r.text
    held.grant_ids.append(r.json()["id"])
    r = client.post(ACKS, json={"person_id": subject_id}, headers=auth("policy:read policy:write", sub="hr-anna"))
    assert r.status_code == 201, r.text
    held.acknowledgement_ids.append(r.json()["id"])
    return held


def rows_naming(session: Session, needle: str) -> list[str]:
    """Return `table: row` for every row of every table in which `needle` appears anywhere."""
    found = []
    for table in metadata.sorted_tables:
        for row in session.execute(select(table)).all():
            if needle in repr(tuple(row)):
                found.append(f"{table.name}: {row}")
    return found
