"""Injectables of the policy domain: the loaded policy pack and today's date."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends, Request

from app.policy.pack import PolicyPack

# Both are async although they do no I/O: FastAPI runs a synchronous dependency in a worker thread.


async def get_pack(request: Request) -> PolicyPack:
    """Return the application's policy pack (loaded and validated once, at start-up)."""
    return request.app.state.pack


async def get_today() -> dt.date:
    """Return today's date in UTC; tests pin it through `app.dependency_overrides[get_today]`."""
    return dt.datetime.now(dt.UTC).date()


PackDep = Annotated[PolicyPack, Depends(get_pack)]
TodayDep = Annotated[dt.date, Depends(get_today)]
