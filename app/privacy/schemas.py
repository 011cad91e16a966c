"""Request and response models for erasure and export of a person's data."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.authorities.schemas import AuthorityRead
from app.escalation.schemas import CaseRead
from app.incidents.schemas import IncidentRead
from app.policy.schemas import AcknowledgementRead
from app.screening.schemas import ScreeningRead
from app.validation import single_line


class ErasureCreate(BaseModel):
    """A request to erase everything held about one person."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"subject_id": "vol-0099"}]})

    subject_id: Annotated[str, single_line(200)] = Field(
        description="The person's id as the service knows it: a screening's author id, an incident's "
        "subject id, a grant's or an acknowledgement's person id."
    )


class ErasureCounts(BaseModel):
    """How many records of each type were erased."""

    screenings: int = Field(ge=0, description="Screenings they authored or submitted.")
    incidents: int = Field(ge=0, description="Incidents recorded about them.")
    escalation_cases: int = Field(ge=0, description="Their escalation case (0 or 1).")
    escalation_events: int = Field(ge=0, description="The history of that case (steps, appeals).")
    authority_grants: int = Field(ge=0, description="Prior-authority grants made to them.")
    acknowledgements: int = Field(ge=0, description="Their acknowledgements of the policy.")
    idempotency_records: int = Field(ge=0, description="Stored replies to retried requests that named them.")


class ErasureRead(BaseModel):
    """What an erasure removed, and the audit event (tombstone) that records it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "subject_id": "vol-0099",
                    "erased": {
                        "screenings": 3,
                        "incidents": 2,
                        "escalation_cases": 1,
                        "escalation_events": 2,
                        "authority_grants": 0,
                        "acknowledgements": 1,
                        "idempotency_records": 1,
                    },
                    "audit_seq": 412,
                    "erased_at": "2026-12-04T18:30:00Z",
                }
            ]
        }
    )

    subject_id: str
    erased: ErasureCounts
    audit_seq: int = Field(
        description="The `subject.erased` audit event; it names the person only by a keyed pseudonym."
    )
    erased_at: dt.datetime


class SubjectExport(BaseModel):
    """Everything the service holds about one person (UK GDPR subject access), as one document."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "subject_id": "vol-0099",
                    "exported_at": "2026-12-04T18:30:00Z",
                    "screenings": [],
                    "incidents": [],
                    "escalation": None,
                    "authorities": [],
                    "acknowledgements": [],
                }
            ]
        }
    )

    subject_id: str
    exported_at: dt.datetime
    screenings: list[ScreeningRead] = Field(description="Screenings they authored or submitted, oldest first.")
    incidents: list[IncidentRead] = Field(description="Incidents recorded about them, evidence included, oldest first.")
    escalation: CaseRead | None = Field(description="Their escalation case with its history, if any.")
    authorities: list[AuthorityRead] = Field(description="Prior-authority grants made to them.")
    acknowledgements: list[AcknowledgementRead] = Field(description="Their acknowledgements of the policy.")
