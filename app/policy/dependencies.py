"""Injectables of the policy domain: the loaded policy pack and today's date."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends, Request

from app.policy.pack import PolicyPack, load_pack


def get_pack(request: Request) -> PolicyPack:
    """Return the application's policy pack (loaded and validated once per process by `load_pack`)."""
    return load_pack(request.app.state.settings.policy_pack)


def get_today(request: Request) -> dt.date:
    """Return today's date in UTC on the application's clock (tests may also override this dependency)."""
    return request.app.state.clock.now().date()


PackDep = Annotated[PolicyPack, Depends(get_pack)]
TodayDep = Annotated[dt.date, Depends(get_today)]
