"""The clock abstraction: the system clock reads real time, the fake one moves only when told."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from app.clock import SYSTEM_CLOCK, FakeClock, SystemClock

START = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)


def test_system_clock_is_aware_utc_and_current():
    before = dt.datetime.now(dt.UTC)
    now = SystemClock().now()
    after = dt.datetime.now(dt.UTC)
    assert now.utcoffset() == dt.timedelta(0)
    assert before <= now <= after


def test_system_clock_monotonic_is_time_monotonic():
    before = time.monotonic()
    reading = SYSTEM_CLOCK.monotonic()
    assert before <= reading <= time.monotonic()


def test_fake_clock_stands_still():
    clock = FakeClock(START, monotonic=5.0)
    time.sleep(0.01)
    assert clock.now() == START
    assert clock.monotonic() == 5.0


def test_fake_clock_starts_at_the_real_time_by_default():
    before = dt.datetime.now(dt.UTC)
    clock = FakeClock()
    assert before <= clock.now() <= dt.datetime.now(dt.UTC)
    assert clock.now().tzinfo is not None


def test_advance_moves_both_readings_together():
    clock = FakeClock(START, monotonic=10.0)
    clock.advance(30)
    clock.advance(hours=1, seconds=0.5)
    assert clock.now() == START + dt.timedelta(hours=1, seconds=30.5)
    assert clock.monotonic() == pytest.approx(3640.5)


def test_advance_refuses_to_go_backwards():
    clock = FakeClock(START)
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
    assert clock.now() == START
    clock.advance(hours=1, seconds=-1)  # a net step forward is fine
    assert clock.now() == START + dt.timedelta(seconds=3599)


def test_set_moves_the_wall_clock_alone():
    clock = FakeClock(START, monotonic=7.0)
    earlier = START - dt.timedelta(days=2)
    clock.set(earlier)  # a wall clock may be set back; the monotonic one may not
    assert clock.now() == earlier
    assert clock.monotonic() == 7.0


def test_times_are_normalised_to_utc_and_must_be_aware():
    plus_two = dt.timezone(dt.timedelta(hours=2))
    clock = FakeClock(dt.datetime(2026, 3, 1, 11, 30, tzinfo=plus_two))
    assert clock.now() == START and clock.now().tzinfo == dt.UTC
    with pytest.raises(ValueError, match="timezone-aware"):
        FakeClock(dt.datetime(2026, 3, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(dt.datetime(2026, 3, 1))


def test_the_app_runs_on_the_injected_clock(app, client, auth, clock):
    assert app.state.clock is clock
    # Policy status counts days on it: a year later the pack's review is overdue by a year more.
    first = client.get("/v1/policy", headers=auth("policy:read")).json()
    clock.advance(days=365)
    later = client.get("/v1/policy", headers=auth("policy:read")).json()
    assert later["days_overdue"] == first["days_overdue"] + 365


def test_tokens_expire_on_the_apps_clock(client, auth, clock, settings):
    headers = auth("policy:read")
    assert client.get("/v1/policy", headers=headers).status_code == 200
    clock.advance(settings.access_token_ttl_seconds + settings.jwt_leeway_seconds + 1)
    r = client.get("/v1/policy", headers=headers)
    assert r.status_code == 401
    assert "expired" in r.json()["detail"]
