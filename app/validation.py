"""Shared string types for request bodies: what every free-text or id field may contain.

Control characters are refused (422 naming the field) rather than stored: PostgreSQL cannot store
NUL at all, and the others in an id or a reason are evasion or corruption, not content. The rule
is a JSON-schema `pattern`, so generated clients and schemathesis see the same contract.
"""

import datetime as dt
from typing import Annotated

import pydantic
from pydantic import AfterValidator, StringConstraints

# No C0 controls, DEL or C1 controls anywhere.
SINGLE_LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
# The same, but tab, LF and CR are fine in prose.
MULTI_LINE_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"


def single_line(max_length: int, *, min_length: int = 1) -> StringConstraints:
    """Return the constraints of an id, name or label (use as `Annotated` metadata): no control characters."""
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=SINGLE_LINE_PATTERN)


def plain_text(max_length: int, *, min_length: int = 1) -> StringConstraints:
    """Return the constraints of prose (a summary, a reason): line breaks and tabs allowed, other controls not."""
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=MULTI_LINE_PATTERN)


CONTROL_CHARACTER_PATTERNS = frozenset({SINGLE_LINE_PATTERN, MULTI_LINE_PATTERN})


# Timestamps the service accepts: wide enough for any real post, filter or grant, narrow enough
# that converting to UTC (year 1 with a positive offset, year 9999 with a negative one) and
# storing on every database never overflows.
SUPPORTED_FROM = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
SUPPORTED_UNTIL = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)
# Formatted once: strftime on every valid timestamp was a measurable share of an incident's validation.
_OUT_OF_RANGE = f"must be between {SUPPORTED_FROM:%Y-%m-%d} and {SUPPORTED_UNTIL:%Y-%m-%d} (UTC)"


def _supported_range(value: dt.datetime) -> dt.datetime:
    try:
        in_utc = value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError(_OUT_OF_RANGE) from None
    if not SUPPORTED_FROM <= in_utc < SUPPORTED_UNTIL:
        raise ValueError(_OUT_OF_RANGE)
    return value


# pydantic's AwareDatetime (a time zone is required) limited to the supported range (422 naming the field).
AwareDatetime = Annotated[pydantic.AwareDatetime, AfterValidator(_supported_range)]
