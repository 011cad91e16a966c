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


async def get_today(request: Request) -> dt.date:
    """Return today's date in UTC on the application's clock (tests may also override this dependency)."""
    return request.app.state.clock.now().date()


PackDep = Annotated[PolicyPack, Depends(get_pack)]
TodayDep = Annotated[dt.date, Depends(get_today)]
