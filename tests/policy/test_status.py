"""Pure review-status computation with pinned dates."""

from __future__ import annotations

import datetime as dt

import pytest

from app.policy.status import EXIT_CODES, ReviewStatus, add_months, compute_schedule

D = dt.date


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (D(2019, 11, 1), 12, D(2020, 11, 1)),
        (D(2019, 11, 1), 2, D(2020, 1, 1)),  # across the year end
        (D(2024, 1, 31), 1, D(2024, 2, 29)),  # leap-year February
        (D(2023, 1, 31), 1, D(2023, 2, 28)),  # ordinary February
        (D(2024, 2, 29), 12, D(2025, 2, 28)),  # 29 Feb + a year
        (D(2024, 2, 29), 48, D(2028, 2, 29)),
        (D(2023, 8, 31), 6, D(2024, 2, 29)),
        (D(2023, 3, 31), 1, D(2023, 4, 30)),
        (D(2023, 12, 31), 1, D(2024, 1, 31)),
        (D(2023, 12, 15), 0, D(2023, 12, 15)),
        (D(2024, 3, 31), -1, D(2024, 2, 29)),
        (D(2024, 1, 15), -13, D(2022, 12, 15)),
        (D(2019, 11, 1), 120, D(2029, 11, 1)),
    ],
)
def test_add_months(start, months, expected):
    assert add_months(start, months) == expected


def test_add_months_out_of_range():
    with pytest.raises(ValueError, match="out of range"):
        add_months(D(9999, 12, 1), 1)


def _at(today: dt.date, last: dt.date = D(2019, 11, 1), interval: int = 12, soon: int = 60):
    return compute_schedule(last_reviewed=last, today=today, interval_months=interval, due_soon_days=soon)


@pytest.mark.parametrize(
    ("today", "status", "overdue", "until"),
    [
        (D(2019, 11, 1), ReviewStatus.CURRENT, 0, 366),  # the review day itself (2020 is a leap year)
        (D(2020, 9, 1), ReviewStatus.CURRENT, 0, 61),  # one day before the window opens
        (D(2020, 9, 2), ReviewStatus.DUE_SOON, 0, 60),  # first day of the 60-day window
        (D(2020, 10, 31), ReviewStatus.DUE_SOON, 0, 1),
        (D(2020, 11, 1), ReviewStatus.DUE_SOON, 0, 0),  # the due date is not yet overdue
        (D(2020, 11, 2), ReviewStatus.OVERDUE, 1, 0),
        (D(2025, 11, 25), ReviewStatus.OVERDUE, 1850, 0),
    ],
)
def test_each_status_against_the_nov_2019_review(today, status, overdue, until):
    schedule = _at(today)
    assert schedule.next_review_due == D(2020, 11, 1)
    assert schedule.last_reviewed == D(2019, 11, 1)
    assert (schedule.status, schedule.days_overdue, schedule.days_until_due) == (status, overdue, until)


def test_end_of_month_review_is_due_at_the_end_of_a_shorter_month():
    schedule = _at(D(2024, 2, 29), last=D(2023, 8, 31), interval=6, soon=0)
    assert schedule.next_review_due == D(2024, 2, 29)
    assert schedule.status is ReviewStatus.DUE_SOON
    assert _at(D(2024, 3, 1), last=D(2023, 8, 31), interval=6, soon=0).status is ReviewStatus.OVERDUE
    assert _at(D(2024, 2, 28), last=D(2023, 8, 31), interval=6, soon=0).status is ReviewStatus.CURRENT


def test_zero_window_is_due_soon_only_on_the_day():
    assert _at(D(2020, 10, 31), soon=0).status is ReviewStatus.CURRENT
    assert _at(D(2020, 11, 1), soon=0).status is ReviewStatus.DUE_SOON


def test_window_longer_than_interval_is_always_due_soon_until_overdue():
    schedule = _at(D(2019, 11, 2), interval=1, soon=60)
    assert (schedule.next_review_due, schedule.status) == (D(2019, 12, 1), ReviewStatus.DUE_SOON)


def test_today_before_the_review_counts_as_current():
    # A review dated after "today" (clock skew) must not crash or report negative days.
    schedule = _at(D(2019, 1, 1))
    assert (schedule.status, schedule.days_overdue) == (ReviewStatus.CURRENT, 0)


@pytest.mark.parametrize(("interval", "soon"), [(0, 60), (-1, 60), (12, -1)])
def test_rejects_nonsense_settings(interval, soon):
    with pytest.raises(ValueError):
        _at(D(2020, 1, 1), interval=interval, soon=soon)


def test_exit_codes_cover_every_status():
    assert EXIT_CODES == {ReviewStatus.CURRENT: 0, ReviewStatus.DUE_SOON: 1, ReviewStatus.OVERDUE: 2}
    assert [s.value for s in ReviewStatus] == ["current", "due_soon", "overdue"]
