"""Shared string types for request bodies: what every free-text or id field may contain.

Control characters are refused (422 naming the field) rather than stored: PostgreSQL cannot store
NUL at all, and the others in an id or a reason are evasion or corruption, not content. The rule
is a JSON-schema `pattern`, so generated clients and schemathesis see the same contract.
"""

from typing import Annotated

from pydantic import StringConstraints

# No C0 controls, DEL or C1 controls anywhere.
SINGLE_LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
# The same, but tab, LF and CR are fine in prose.
MULTI_LINE_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"


def single_line(max_length: int, *, min_length: int = 1) -> type[str]:
    """Return the type of an id, name or label: no control characters at all."""
    return Annotated[  # type: ignore[return-value]
        str, StringConstraints(min_length=min_length, max_length=max_length, pattern=SINGLE_LINE_PATTERN)
    ]


def plain_text(max_length: int, *, min_length: int = 1) -> type[str]:
    """Return the type of prose (a summary, a reason): line breaks and tabs allowed, other controls not."""
    return Annotated[  # type: ignore[return-value]
        str, StringConstraints(min_length=min_length, max_length=max_length, pattern=MULTI_LINE_PATTERN)
    ]


CONTROL_CHARACTER_PATTERNS = frozenset({SINGLE_LINE_PATTERN, MULTI_LINE_PATTERN})
