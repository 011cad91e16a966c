"""The append-only, keyed hash chain of audit events (the database refuses UPDATE and DELETE)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow

GENESIS_HASH = "0" * 64

#: Appended once, as the first keyed event, when a chain started before keying (revision 0007).
KEYED_ACTION = "audit.keyed"
#: Events whose `details.reseal` replaces the count and digest of screening seals they shrank.
RESEAL_ACTIONS = ("retention.purged", "subject.erased")


class AuditEvent(SQLModel, table=True):
    """One state change: who did what to which record, chained to the event before it."""

    __tablename__ = "audit_event"

    seq: int = Field(primary_key=True, description="Position in the chain, 1-based, gapless.")
    occurred_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor: str = Field(max_length=200)
    action: str = Field(max_length=100, index=True)
    target_type: str = Field(max_length=50)
    target_id: str = Field(max_length=200, index=True)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)
    # False only for events written before revision 0007 (plain SHA-256); every new event is keyed.
    keyed: bool = Field(default=True, sa_column_kwargs={"server_default": sa.false()})


class AuditHead(SQLModel, table=True):
    """The chain's tip, one row; locking it serialises appends so the chain never forks."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = Field(default=0)
    hash: str = Field(default=GENESIS_HASH, max_length=64)
