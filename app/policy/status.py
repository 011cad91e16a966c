"""Review status of the policy document: pure date arithmetic, no FastAPI or database imports.

The policy is due for review ``interval_months`` after its last review (calendar months, clamped
to the end of a shorter month: 31 Aug + 6 months is 28/29 Feb). It is ``overdue`` from the day
after that date, ``due_soon`` from ``due_soon_days`` before it up to and including the due date,
and ``current`` before that.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class ReviewStatus(StrEnum):
    """Where the policy stands against its review schedule."""

    CURRENT = "current"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"


#: Exit code of ``python -m app policy-status`` for each status (scripts branch on it).
EXIT_CODES: dict[ReviewStatus, int] = {
    ReviewStatus.CURRENT: 0,
    ReviewStatus.DUE_SOON: 1,
    ReviewStatus.OVERDUE: 2,
}


@dataclass(frozen=True)
class ReviewSchedule:
    """The review status of the policy on a given day."""

    last_reviewed: dt.date
    next_review_due: dt.date
    status: ReviewStatus
    days_overdue: int
    days_until_due: int


def add_months(day: dt.date, months: int) -> dt.date:
    """Return ``day`` moved by whole calendar months, clamped to the last day of a shorter month.

    Args:
        day: The start date.
        months: Calendar months to add (negative moves back).

    Returns:
        The same day of the month ``months`` later, or that month's last day when it is shorter.

    """
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        raise ValueError(f"date out of range: {day.isoformat()} + {months} months")
    last_day = calendar.monthrange(year, month)[1]
    return dt.date(year, month, min(day.day, last_day))


def compute_schedule(
    *, last_reviewed: dt.date, today: dt.date, interval_months: int, due_soon_days: int
) -> ReviewSchedule:
    """Return the policy's review status on ``today``.

    Args:
        last_reviewed: The date of the latest review.
        today: The day to evaluate on (injected, so tests pin it).
        interval_months: Months between reviews (at least 1).
        due_soon_days: How many days before the due date the status turns ``due_soon`` (0 = only on the day).

    Returns:
        The due date, the status, and the days overdue (0 unless overdue) and until due (0 once due).

    """
    if interval_months < 1:
        raise ValueError("interval_months must be at least 1")
    if due_soon_days < 0:
        raise ValueError("due_soon_days must not be negative")
    due = add_months(last_reviewed, interval_months)
    remaining = (due - today).days
    if remaining < 0:
        status = ReviewStatus.OVERDUE
    elif remaining <= due_soon_days:
        status = ReviewStatus.DUE_SOON
    else:
        status = ReviewStatus.CURRENT
    return ReviewSchedule(
        last_reviewed=last_reviewed,
        next_review_due=due,
        status=status,
        days_overdue=max(0, -remaining),
        days_until_due=max(0, remaining),
    )
