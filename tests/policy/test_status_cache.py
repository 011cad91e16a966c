"""Each worker reuses its policy status for a few seconds; a review or acknowledgement here refreshes it."""

from __future__ import annotations

import datetime as dt

from app.policy.service import StatusCache
from tests.incidents.factories import HR as INCIDENTS_HR
from tests.incidents.factories import record as record_incident
from tests.policy.factories import READ, pin_today

DAY = dt.date(2025, 3, 20)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_answer_is_reused_for_its_day_until_it_is_too_old():
    clock = Clock()
    cache = StatusCache(5, clock=clock)
    assert cache.get(DAY) is None
    cache.put(DAY, {"status": "overdue"})
    clock.now += 4.9
    assert cache.get(DAY) == {"status": "overdue"}
    assert cache.get(DAY + dt.timedelta(days=1)) is None  # the status is a function of the day
    clock.now += 0.1
    assert cache.get(DAY) is None


def test_clear_forgets_and_zero_seconds_keeps_nothing():
    cache = StatusCache(5, clock=Clock())
    cache.put(DAY, {"status": "overdue"})
    cache.clear()
    assert cache.get(DAY) is None
    off = StatusCache(0, clock=Clock())
    off.put(DAY, {"status": "overdue"})
    assert off.get(DAY) is None


def test_people_recorded_elsewhere_show_once_the_answer_expires_and_an_acknowledgement_at_once(app, client, auth):
    clock = Clock()
    app.state.policy_status_cache = StatusCache(5, clock=clock)
    pin_today(app, DAY)

    def known():
        return client.get("/v1/policy", headers=auth(READ)).json()["acknowledgements"]

    assert known()["known_people"] == 0
    record_incident(client, auth(INCIDENTS_HR), subject_id="subj-cache")
    assert known()["known_people"] == 0  # the lag POLICY_STATUS_CACHE_SECONDS allows
    clock.now += 5
    assert known()["known_people"] == 1
    assert client.post("/v1/policy/acknowledgements", headers=auth(READ, sub="vol-cache")).status_code == 201
    assert known() == {**known(), "acknowledged": 1, "known_people": 2}
