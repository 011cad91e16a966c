"""Appending to and verifying the audit chain.

Each event's hash is an HMAC-SHA256, under a key derived from the service secret (`app.audit.keys`,
never in the database), over the previous hash and a canonical JSON of its own fields: an edited,
inserted or deleted row breaks every hash after it, and nobody without the key can rehash the
chain to hide it. Events that change a covered row carry the row's keyed digest (`app.audit.coverage`),
so verification also names a row edited, deleted or inserted behind the service's back. The
database refuses UPDATE and DELETE on `audit_event` (triggers, revision 0007), and signed
checkpoints kept outside the database expose a truncated or forked chain.

Events written before revision 0007 are hashed with plain SHA-256 (`keyed` false). They are
verified with that rule, as a prefix only: the first keyed event is `audit.keyed`, which names how
many legacy events precede it and the legacy head, so the prefix cannot grow afterwards, and a chain
with no keyed event at all fails verification (a rehash with the old rule looks exactly like that).

Appends lock the single head row (`SELECT … FOR UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE`
already serialises writers), so concurrent writers queue instead of forking the chain. Details must
never contain post text or a person's id (the chain outlives erasure: see `AuditKeys.pseudonym`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.audit import coverage
from app.audit import keys as audit_keys
from app.audit.keys import AuditKeys
from app.audit.models import GENESIS_HASH, KEYED_ACTION, AuditEvent, AuditHead
from app.db import utcnow


def _canonical_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(
    *,
    prev_hash: str,
    seq: int,
    occurred_at: dt.datetime,
    actor: str,
    action: str,
    target_type: str,
    target_id: str,
    details: dict[str, Any],
    keyed: bool = False,
    keys: AuditKeys | None = None,
) -> str:
    """Return the chain hash of one event given the hash before it (HMAC when keyed, legacy SHA-256 otherwise)."""
    payload = json.dumps(
        {
            "seq": seq,
            "occurred_at": _canonical_time(occurred_at),
            "actor": actor,
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "details": details,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    message = (prev_hash + payload).encode()
    if keyed:
        chain_key = (keys or audit_keys.current()).chain
        return hmac.new(chain_key, message, hashlib.sha256).hexdigest()
    return hashlib.sha256(message).hexdigest()


_HEAD = AuditHead.__table__  # type: ignore[attr-defined]
_EVENTS = AuditEvent.__table__  # type: ignore[attr-defined]
_LOCK_HEAD = sa.select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1).with_for_update()
_IS_KEYED = sa.select(_EVENTS.c.keyed).where(_EVENTS.c.seq == sa.bindparam("seq"))
_LATEST_IS_KEYED = sa.select(_EVENTS.c.keyed).order_by(_EVENTS.c.seq.desc()).limit(1)
_INSERT_EVENT = sa.insert(_EVENTS)
_INSERT_HEAD = sa.insert(_HEAD).values(id=1)
_UPDATE_HEAD = sa.update(_HEAD).where(_HEAD.c.id == 1)
# PostgreSQL moves the head in the statement that inserts the event: one round trip fewer while
# every other writer waits for the lock (a data-modifying WITH runs once, referenced or not).
_INSERT_EVENT_MOVING_HEAD = _INSERT_EVENT.add_cte(
    _UPDATE_HEAD.values(seq=sa.bindparam("head_seq"), hash=sa.bindparam("head_hash")).cte("moved_head")
)


def seal_marker(table: sa.Table) -> sa.Update:
    """Return the statement a batch sealer stamps its rows with: bind ``ids`` and the event's ``seq``.

    The rows of a batch-sealed table carry ``audit_seq``: null while pending, then the seal event's
    seq (or ``coverage.REFUSED_SEQ``).
    """
    return (
        sa.update(table)
        .where(table.c.id.in_(sa.bindparam("ids", expanding=True)))
        .values(audit_seq=sa.bindparam("seq"))
    )


def lock_head(session: Session) -> tuple[int, str]:
    """Lock the chain head for the rest of the caller's transaction; return its (seq, hash).

    For writers that must read other rows only after they hold the chain (the screening sealer).
    """
    head = _locked_head(session)
    return (head.seq, head.hash) if head is not None else (0, GENESIS_HASH)


def _locked_head(session: Session) -> sa.Row[Any] | None:
    session.flush()
    return session.execute(_LOCK_HEAD).first()


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    target_type: str,
    target_id: str,
    details: dict[str, Any] | None = None,
    covers: Iterable[tuple[str, Any]] = (),
    entries: Sequence[coverage.RowEntry] = (),
    keys: AuditKeys | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction; it commits or rolls back with the change.

    `covers` names the rows (type, id) this change wrote: their digests are read back from the
    database and recorded. `entries` are row entries the caller made already: rows the change removed
    legitimately (`coverage.removed`), or rows a sealer digested as it read them.
    Core statements, not the ORM: this runs on every write request, and reading the locked head
    straight from the database also means a session's stale copy can never be chained onto.
    """
    keys = keys or audit_keys.current()
    # JSON round trip so what is hashed is exactly what the database gives back.
    clean_details = json.loads(json.dumps(details or {}, default=str))
    # Before the head is locked: every writer queues on that lock until it commits, so it is held
    # for the append alone. The covered rows are this transaction's own writes, row-locked until
    # it ends, so nobody can change them between this read and the append.
    rows = coverage.digests(session, keys, covers) + [list(entry) for entry in entries]
    if rows:
        clean_details["rows"] = rows
    # Only keyed events follow a keyed one, so a keyed latest event now means a keyed head under
    # the lock too; the head is looked up under the lock only while the chain may still be legacy.
    keyed_already = bool(session.execute(_LATEST_IS_KEYED).scalar())
    head = _locked_head(session)
    prev_seq, prev_hash = (head.seq, head.hash) if head is not None else (0, GENESIS_HASH)
    if prev_seq and not keyed_already and not session.execute(_IS_KEYED, {"seq": prev_seq}).scalar_one():
        # First append since revision 0007: pin the legacy prefix under the key before anything else.
        switch = _switch_over(session, keys, prev_seq, prev_hash)
        prev_seq, prev_hash = switch["seq"], switch["hash"]
    move_head = head is not None and session.get_bind().dialect.name == "postgresql"
    row = _append(
        session, keys, prev_seq, prev_hash, move_head=move_head, actor=actor, action=action,
        target_type=target_type, target_id=str(target_id), details=clean_details,
    )  # fmt: skip
    if head is None:
        session.execute(_INSERT_HEAD, {"seq": row["seq"], "hash": row["hash"]})
    elif not move_head:
        session.execute(_UPDATE_HEAD, {"seq": row["seq"], "hash": row["hash"]})
    return AuditEvent(**row)


def _append(
    session: Session, keys: AuditKeys, prev_seq: int, prev_hash: str, *, move_head: bool = False, **fields: Any
) -> dict[str, Any]:
    row = {"seq": prev_seq + 1, "occurred_at": utcnow(), **fields, "prev_hash": prev_hash, "keyed": True}
    row["hash"] = event_hash(**row, keys=keys)
    # Parameters passed separately so each statement compiles once per process.
    if move_head:
        session.execute(_INSERT_EVENT_MOVING_HEAD, {**row, "head_seq": row["seq"], "head_hash": row["hash"]})
    else:
        session.execute(_INSERT_EVENT, row)
    return row


def ensure_keyed(session: Session, *, keys: AuditKeys | None = None) -> None:
    """Append the `audit.keyed` switch-over now if the chain's last event predates keying."""
    keys = keys or audit_keys.current()
    head = _locked_head(session)
    if head is None or session.execute(_IS_KEYED, {"seq": head.seq}).scalar_one():
        return
    row = _switch_over(session, keys, head.seq, head.hash)
    session.execute(_UPDATE_HEAD, {"seq": row["seq"], "hash": row["hash"]})


def _switch_over(session: Session, keys: AuditKeys, legacy_seq: int, legacy_hash: str) -> dict[str, Any]:
    # The first keyed event names the legacy prefix, so no unkeyed event can be added to it later.
    return _append(
        session, keys, legacy_seq, legacy_hash, actor="system:audit", action=KEYED_ACTION,
        target_type="audit_event", target_id=str(legacy_seq),
        details={"legacy_events": legacy_seq, "legacy_head": legacy_hash},
    )  # fmt: skip


@dataclass(frozen=True)
class ChainReport:
    """The outcome of verifying the chain and the rows it covers."""

    ok: bool
    checked: int
    broken_seq: int | None = None
    reason: str | None = None
    legacy_events: int = 0
    content: coverage.ContentReport | None = None

    @property
    def pending(self) -> int:
        """Rows of batch-sealed tables intact but not yet recorded by a seal (0 when rows were not checked)."""
        return self.content.pending if self.content is not None else 0


class _Replay:
    """State carried along the chain while verifying it in order."""

    def __init__(self) -> None:
        self.expected_prev = GENESIS_HASH
        self.expected_seq = 1
        self.checked = 0
        self.legacy = 0
        self.keyed_since: dt.datetime | None = None
        self.latest: dict[tuple[str, str], tuple[int, str | None]] = {}

    def check(self, event: AuditEvent, keys: AuditKeys) -> str | None:
        """Return why `event` breaks the chain, or None after taking in its row entries."""
        if event.seq != self.expected_seq:
            return f"event {self.expected_seq} is missing"
        if event.prev_hash != self.expected_prev:
            return "prev_hash does not match the event before"
        if not event.keyed and self.keyed_since is not None:
            return "an unkeyed event follows keyed ones (rewritten without the key)"
        if event.keyed and self.keyed_since is None:
            if self.legacy and (
                event.action != KEYED_ACTION
                or event.details.get("legacy_events") != self.legacy
                or event.details.get("legacy_head") != self.expected_prev
            ):
                return "the first keyed event is not the switch-over that pins the legacy events"
            self.keyed_since = event.occurred_at
        recomputed = event_hash(
            prev_hash=event.prev_hash,
            seq=event.seq,
            occurred_at=event.occurred_at,
            actor=event.actor,
            action=event.action,
            target_type=event.target_type,
            target_id=event.target_id,
            details=event.details,
            keyed=event.keyed,
            keys=keys,
        )
        if not hmac.compare_digest(recomputed, event.hash):
            return "content does not match its hash" + (" (wrong key, or rehashed without it)" if event.keyed else "")
        if event.keyed:
            for row_type, row_id, digest in event.details.get("rows", []):
                self.latest[(row_type, row_id)] = (event.seq, digest)
        else:
            self.legacy += 1
        self.expected_prev, self.expected_seq = event.hash, event.seq + 1
        self.checked += 1
        return None


def verify(session: Session, *, keys: AuditKeys | None = None, batch_size: int = 1000) -> ChainReport:
    """Recompute every hash in order, then every covered row's digest; report the first break."""
    keys = keys or audit_keys.current()
    replay = _Replay()
    last_seq = 0
    while True:
        # populate_existing: verify what the database holds, never this session's cached rows.
        events = session.exec(
            select(AuditEvent)
            .where(AuditEvent.seq > last_seq)
            .order_by(col(AuditEvent.seq))
            .limit(batch_size)
            .execution_options(populate_existing=True)
        ).all()
        if not events:
            break
        for event in events:
            if (reason := replay.check(event, keys)) is not None:
                broken = replay.expected_seq if event.seq != replay.expected_seq else event.seq
                return ChainReport(False, replay.checked, broken, reason)
        last_seq = events[-1].seq
    checked = replay.checked
    head = session.get(AuditHead, 1, populate_existing=True)
    if head is not None and (head.seq != checked or head.hash != replay.expected_prev):
        return ChainReport(False, checked, checked + 1, "the chain head does not match the last event")
    if checked and replay.keyed_since is None:
        return ChainReport(
            False, checked, 1,
            "no event is keyed: written before revision 0007 and never keyed, or rehashed without the key "
            "(after upgrading, `python -m app audit-checkpoint` keys the chain)",
        )  # fmt: skip
    legacy_before = replay.keyed_since if replay.legacy else None
    content = coverage.check_rows(session, keys, replay.latest, legacy_before=legacy_before)
    return ChainReport(content.ok, checked, None, None if content.ok else content.problems[0], replay.legacy, content)


def head(session: Session) -> tuple[int, str]:
    """Return the chain head (seq, hash) as the database holds it now."""
    row = session.get(AuditHead, 1, populate_existing=True)
    return (row.seq, row.hash) if row is not None else (0, GENESIS_HASH)


def _checkpoint_message(seq: int, hash_: str, created_at: str) -> str:
    return json.dumps({"seq": seq, "hash": hash_, "created_at": created_at}, sort_keys=True, separators=(",", ":"))


def make_checkpoint(session: Session, *, keys: AuditKeys | None = None) -> dict[str, Any]:
    """Key the chain if needed and return its head signed with the checkpoint key (to store elsewhere)."""
    keys = keys or audit_keys.current()
    ensure_keyed(session, keys=keys)
    seq, hash_ = head(session)
    created_at = _canonical_time(utcnow())
    signature = keys.mac(keys.checkpoint, _checkpoint_message(seq, hash_, created_at))
    return {"seq": seq, "hash": hash_, "created_at": created_at, "signature": signature}


def check_checkpoint(session: Session, checkpoint: Mapping[str, Any], *, keys: AuditKeys | None = None) -> str | None:
    """Return why the chain disagrees with a checkpoint (forged, truncated, forked), or None."""
    keys = keys or audit_keys.current()
    try:
        seq, hash_, created_at = int(checkpoint["seq"]), str(checkpoint["hash"]), str(checkpoint["created_at"])
        signature = str(checkpoint["signature"])
    except (KeyError, TypeError, ValueError):
        return "the checkpoint is not a JSON object with seq, hash, created_at and signature"
    expected = keys.mac(keys.checkpoint, _checkpoint_message(seq, hash_, created_at))
    if not hmac.compare_digest(expected, signature):
        return "the checkpoint's signature is invalid (forged, edited, or made under another key)"
    head_seq, _ = head(session)
    if head_seq < seq:
        return f"the chain is truncated: its head is event {head_seq}, the checkpoint saw event {seq}"
    if seq == 0:
        return None
    at = session.exec(
        select(AuditEvent.hash).where(AuditEvent.seq == seq).execution_options(populate_existing=True)
    ).first()
    if at is None:
        return f"the chain is truncated: event {seq} of the checkpoint is missing"
    if at != hash_:
        return f"the chain is forked: event {seq} has a different hash from the checkpoint's"
    return None
