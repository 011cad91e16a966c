"""What the audit chain knows about the rows it covers: a keyed digest of each row's state.

Every event that changes a covered row lists it in `details.rows` as `[type, id, digest]`, the
digest being an HMAC (row-digest key) of the row as the database holds it after the change; an
event that removes a row legitimately (deletion of a protected term, retention purge, erasure)
lists it with digest `null`. Verification replays the chain to find each row's latest entry and
recomputes the digest from the current row, so an edited, deleted or smuggled-in row is named.
Screenings are covered by their seals instead (`app.screening.sealing`).

Tables registered with `sealed_in_batches` (incidents) are not recorded by the request that writes
them: the request stores the row with its keyed digest (`audit_digest`), and a background sealer
later appends one event listing a batch of them and marks each with that event's seq (`audit_seq`).
Until then a row is *pending*: verification accepts it only if its digest still matches, so a row
inserted or edited behind the service's back (without the key) is named even before it is sealed.
Neither column is part of the digest, so sealing a row does not change what the chain recorded.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session

from app.audit.keys import AuditKeys

#: Row type (the table name) -> table, for every table whose rows the chain covers one by one.
#: Each domain's models.py registers its tables (`cover`), so audit never imports the domains.
COVERED: dict[str, sa.Table] = {}
#: Row type -> the columns its digest covers (all but the seal's own bookkeeping).
_DIGESTED: dict[str, list[sa.Column[Any]]] = {}
#: Row type -> (seal column, digest column), for tables sealed in batches off the request path.
SEALED: dict[str, tuple[str, str]] = {}
#: `audit_seq` of a pending row the sealer refused: its stored digest did not match the row.
REFUSED_SEQ = 0

M = TypeVar("M")


def cover(model: M) -> M:
    """Register a table model whose rows the chain covers; returns it (usable as a decorator)."""
    table = model.__table__  # type: ignore[attr-defined]
    COVERED[table.name] = table
    skip = SEALED.get(table.name, ())
    _DIGESTED[table.name] = [c for c in table.c if c.name not in skip]
    return model


def sealed_in_batches(seal_column: str = "audit_seq", digest_column: str = "audit_digest") -> Callable[[M], M]:
    """Register a covered table whose rows a background sealer records in batches (decorator factory).

    Args:
        seal_column: nullable integer, the seq of the event that sealed the row (NULL: pending).
        digest_column: the row's keyed digest, written with the row by the service.

    Returns:
        A decorator that registers the model and returns it.

    """

    def register(model: M) -> M:
        SEALED[model.__table__.name] = (seal_column, digest_column)  # type: ignore[attr-defined]
        return cover(model)

    return register


#: One entry of `details.rows`: [type, id, digest or None when the row was removed].
RowEntry = list[Any]


def _canonical(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    return value


def row_digest(keys: AuditKeys, row_type: str, row: Mapping[Any, Any]) -> str:
    """Return the keyed digest of one row's columns (by name) as the database holds them.

    Every column counts except a batch-sealed table's seal and digest columns.
    """
    columns = _DIGESTED[row_type]
    payload = json.dumps(
        {"type": row_type, "row": {c.name: _canonical(row[c.name]) for c in columns}},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return keys.mac(keys.row, payload)


def digests(session: Session, keys: AuditKeys, refs: Iterable[tuple[str, Any]]) -> list[RowEntry]:
    """Read each referenced row back from the database and return its `details.rows` entries.

    Reading back (not trusting the caller's objects) means the digest covers exactly what is stored,
    in the same form verification will read. A row that does not exist is recorded as removed.
    """
    session.flush()
    entries: list[RowEntry] = []
    for row_type, row_id in dict.fromkeys((t, str(i)) for t, i in refs):
        table = COVERED[row_type]
        row = session.execute(sa.select(table).where(table.c.id == _id_param(table, row_id))).mappings().first()
        entries.append([row_type, row_id, row_digest(keys, row_type, row) if row is not None else None])
    return entries


def removed(row_type: str, ids: Iterable[Any]) -> list[RowEntry]:
    """Return `details.rows` entries saying these rows were removed legitimately."""
    return [[row_type, str(i), None] for i in ids]


def _id_param(table: sa.Table, row_id: str) -> Any:
    return uuid.UUID(row_id) if isinstance(table.c.id.type, sa.Uuid) else row_id


@dataclass
class ContentReport:
    """The outcome of checking every covered row against its latest digest in the chain."""

    checked: int = 0
    legacy: int = 0
    #: Rows of batch-sealed tables whose digest matches but that no event records yet.
    pending: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no row differs from what the chain last recorded."""
        return not self.problems


def check_rows(
    session: Session,
    keys: AuditKeys,
    latest: Mapping[tuple[str, str], tuple[int, str | None]],
    *,
    legacy_before: dt.datetime | None,
    types: Sequence[str] | None = None,
) -> ContentReport:
    """Compare every covered row with the chain's latest entry for it; name each one that differs.

    `latest` maps (type, id) to (seq, digest) of the last event that listed the row. Rows that no
    event lists were created before the chain was keyed (created at or before `legacy_before`:
    counted, not checked) or were inserted behind the service's back (a problem). `types`
    defaults to every registered table.
    """
    if types is None:
        types = tuple(COVERED)
    report = ContentReport()
    seen: set[tuple[str, str]] = set()
    for row_type in types:
        table = COVERED[row_type]
        rows = session.execute(sa.select(table).execution_options(yield_per=1000)).mappings()
        for row in rows:
            ref = (row_type, str(row["id"]))
            seen.add(ref)
            entry = latest.get(ref)
            if entry is None and row_type in SEALED and row[SEALED[row_type][0]] in (None, REFUSED_SEQ):
                problem = _unsealed_problem(keys, row_type, ref[1], row)
                if problem is None:
                    report.pending += 1
                else:
                    report.problems.append(problem)
                continue
            if entry is None:
                if legacy_before is not None and row["created_at"] <= legacy_before:
                    report.legacy += 1
                else:
                    report.problems.append(f"{row_type} {ref[1]} is not recorded in the audit chain")
                continue
            seq, digest = entry
            report.checked += 1
            if digest is None:
                report.problems.append(f"{row_type} {ref[1]} was removed by event {seq} but exists again")
            elif digest != row_digest(keys, row_type, row):
                report.problems.append(f"{row_type} {ref[1]} was edited after event {seq} recorded it")
    for (row_type, row_id), (seq, digest) in latest.items():
        if row_type in types and digest is not None and (row_type, row_id) not in seen:
            report.problems.append(f"{row_type} {row_id} is missing (event {seq} recorded it)")
    return report


def _unsealed_problem(keys: AuditKeys, row_type: str, row_id: str, row: sa.RowMapping) -> str | None:
    """Why an unsealed row of a batch-sealed table is wrong, or None when it is legitimately pending."""
    if row[SEALED[row_type][0]] == REFUSED_SEQ:
        return f"{row_type} {row_id} was refused by the sealer: it does not match the digest written with it"
    if matches_own_digest(keys, row_type, row):
        return None
    return f"{row_type} {row_id} does not match the digest written with it (inserted or edited behind the service)"


def matches_own_digest(keys: AuditKeys, row_type: str, row: Mapping[Any, Any]) -> bool:
    """Whether a batch-sealed row still matches the keyed digest the service stored with it."""
    stored = row[SEALED[row_type][1]]
    return stored is not None and hmac.compare_digest(stored, row_digest(keys, row_type, row))
