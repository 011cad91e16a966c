"""Command line for operators and scripts: clients, development tokens, audit verification, retention."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

from sqlmodel import Session

from app.audit import service as audit
from app.auth import service as auth_service
from app.auth.schemas import ClientRead
from app.auth.scopes import parse_scopes
from app.auth.tokens import create_access_token
from app.clock import SYSTEM_CLOCK
from app.db import build_engine
from app.errors import AppError
from app.pagination import MAX_LIMIT
from app.settings import Settings, get_settings

Command = Callable[[argparse.Namespace, Settings], int]
T = TypeVar("T")


def _in_transaction(settings: Settings, work: Callable[[Session], T]) -> T:
    """Run `work` in one committed transaction on a short-lived engine."""
    engine = build_engine(settings)
    try:
        with Session(engine, expire_on_commit=False) as session:
            result = work(session)
            session.commit()
            return result
    finally:
        engine.dispose()


def _create_client(args: argparse.Namespace, settings: Settings) -> int:
    created = _in_transaction(
        settings,
        lambda session: auth_service.create_client(
            session=session, name=args.name, scopes=args.scopes, pepper=settings.secret_key, actor="cli"
        ),
    )
    print(f"client_id={created.client_id}")
    print(f"client_secret={created.client_secret}")
    print(f"scopes={' '.join(created.scopes)}")
    print("Store the secret now: it is not shown again.", file=sys.stderr)
    return 0


def _print_client(client: ClientRead) -> None:
    for name, value in client.model_dump(mode="json").items():
        print(f"{name}={' '.join(value) if isinstance(value, list) else ('' if value is None else value)}")


def _client(args: argparse.Namespace, settings: Settings) -> int:
    action, client_id = args.action, args.client_id
    if action == "list":
        clients = _in_transaction(settings, lambda session: _all_clients(session))
        for client in clients:
            print(f"{client.client_id}\t{client.status}\t{client.name}\t{' '.join(client.scopes)}")
        return 0
    if client_id is None:
        raise ValueError(f"client {action} needs a CLIENT_ID")
    if action == "rotate":
        secret, secret_hash = auth_service.new_secret_and_hash(settings.secret_key)  # before the transaction
        grace = dt.timedelta(seconds=settings.client_secret_grace_seconds)
        rotated = _in_transaction(
            settings,
            lambda session: auth_service.as_read(
                auth_service.rotate_secret(
                    session=session, client_id=client_id, new_hash=secret_hash, grace=grace, actor="cli"
                )
            ),
        )
        print(f"client_id={rotated.client_id}")
        print(f"client_secret={secret}")
        expires = rotated.previous_secret_expires_at
        print(f"previous_secret_expires_at={expires.isoformat() if expires else ''}")
        print("Store the secret now: it is not shown again.", file=sys.stderr)
        return 0
    if action == "delete":
        _in_transaction(
            settings, lambda session: auth_service.delete_client(session=session, client_id=client_id, actor="cli")
        )
        print(f"deleted {client_id}")
        return 0
    if action == "show":
        _print_client(
            _in_transaction(
                settings,
                lambda session: auth_service.as_read(auth_service.get_client(session=session, client_id=client_id)),
            )
        )
        return 0
    disabled = action == "disable"
    _print_client(
        _in_transaction(
            settings,
            lambda session: auth_service.as_read(
                auth_service.set_disabled(session=session, client_id=client_id, disabled=disabled, actor="cli")
            ),
        )
    )
    return 0


def _all_clients(session: Session) -> list[ClientRead]:
    clients: list[ClientRead] = []
    cursor: str | None = None
    while True:
        page, cursor = auth_service.list_clients(session=session, cursor=cursor, limit=MAX_LIMIT)
        clients.extend(auth_service.as_read(c) for c in page)
        if cursor is None:
            return clients


def _revoke_token(args: argparse.Namespace, settings: Settings) -> int:
    looks_like_jwt = args.jti_or_token.count(".") == 2
    revoked = _in_transaction(
        settings,
        lambda session: auth_service.revoke(
            session=session,
            settings=settings,
            jti=None if looks_like_jwt else args.jti_or_token,
            token=args.jti_or_token if looks_like_jwt else None,
            actor="cli",
        ),
    )
    print(f"revoked jti={revoked.jti} until {revoked.expires_at.isoformat()}")
    return 0


def _token(args: argparse.Namespace, settings: Settings) -> int:
    scopes = parse_scopes(args.scopes)
    token = create_access_token(settings, sub=args.sub, scopes=scopes, ttl_seconds=args.ttl)
    print(token)
    return 0


def _read_checkpoint(path: str) -> dict[str, object]:
    try:
        with open(path, encoding="utf-8") as handle:
            loaded = json.load(handle)
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read the checkpoint {path}: {exc}") from exc
    if not isinstance(loaded, dict):
        raise ValueError(f"the checkpoint {path} is not a JSON object")
    return loaded


def _verify_audit(args: argparse.Namespace, settings: Settings) -> int:
    from app import db_models  # noqa: F401  (every covered table registers itself with the audit chain)
    from app.screening import sealing

    checkpoint = _read_checkpoint(args.checkpoint) if args.checkpoint else None
    engine = build_engine(settings)
    try:
        with Session(engine) as session:
            report = audit.verify(session)
            seals = sealing.verify_seals(session)
            against = audit.check_checkpoint(session, checkpoint) if checkpoint is not None else None
    finally:
        engine.dispose()
    # The checkpoint first: a rewritten chain is best explained as forked or truncated.
    if against is not None:
        print(f"audit checkpoint FAILED: {against}")
    elif checkpoint is not None:
        print(f"audit checkpoint matches: event {checkpoint['seq']} is in the chain with the same hash")
    if report.content is None:
        print(f"audit chain BROKEN at event {report.broken_seq}: {report.reason} ({report.checked} verified before it)")
        return 1
    legacy = f" ({report.legacy_events} from before keying, verified with the old rule)" if report.legacy_events else ""
    print(f"audit chain intact: {report.checked} events verified{legacy}")
    if against is not None:
        return 1
    content = report.content
    for problem in content.problems:
        print(f"audited row BROKEN: {problem}")
    if not content.ok:
        return 1
    unchecked = f"; {content.legacy} rows from before keying not covered yet" if content.legacy else ""
    pending = (
        f"; {content.pending} incidents not sealed yet match the digest written with them" if content.pending else ""
    )
    print(f"audited rows intact: {content.checked} rows match their latest audit digest{unchecked}{pending}")
    if not seals.ok:
        print(f"screening seals BROKEN at event {seals.broken_seq}: {seals.reason}")
        return 1
    print(
        f"screening seals intact: {seals.sealed} screenings in {seals.seals} seals; "
        f"{seals.pending} not sealed yet (the service seals them every few seconds)"
    )
    return 0


def _audit_checkpoint(args: argparse.Namespace, settings: Settings) -> int:
    engine = build_engine(settings)
    try:
        with Session(engine) as session:
            checkpoint = audit.make_checkpoint(session)
            session.commit()
    finally:
        engine.dispose()
    print(json.dumps(checkpoint, sort_keys=True))
    return 0


def _purge(args: argparse.Namespace, settings: Settings) -> int:
    from app.privacy.service import purge_all

    engine = build_engine(settings)
    try:
        counts = purge_all(engine, settings, actor="cli")
    finally:
        engine.dispose()
    print(json.dumps({"purged": counts}, sort_keys=True))
    return 0


def _policy_status(args: argparse.Namespace, settings: Settings) -> int:
    # Imported here so the other subcommands do not pay for loading the policy pack.
    from sqlalchemy.exc import SQLAlchemyError

    from app import db_models  # noqa: F401  (every table, so coverage counts people of every domain)
    from app.policy import service as policy_service
    from app.policy.pack import PackError, load_pack
    from app.policy.status import EXIT_CODES

    today = args.today or SYSTEM_CLOCK.now().date()
    engine = build_engine(settings)
    try:
        with Session(engine) as session:
            status = policy_service.get_status(
                session=session,
                pack=load_pack(settings.policy_pack),
                today=today,
                interval_months=settings.review_interval_months,
                due_soon_days=settings.review_due_soon_days,
            )
    except (SQLAlchemyError, PackError) as exc:
        # Exit 3, not 2: scripts read 2 as "overdue".
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"error: cannot read the policy status ({type(exc).__name__}: {reason})", file=sys.stderr)
        return 3
    finally:
        engine.dispose()
    print(status.model_dump_json() if args.json else policy_service.status_line(status))
    return EXIT_CODES[status.status]


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("create-client", help="register a machine client; prints its id and secret once")
    p.add_argument("name")
    p.add_argument("--scopes", required=True, help='space-separated, e.g. "incidents:write screenings:write"')
    p.set_defaults(handler=_create_client)

    p = sub.add_parser(
        "client", help="list machine clients, or show, disable, enable, rotate the secret of, or delete one"
    )
    p.add_argument("action", choices=["list", "show", "disable", "enable", "rotate", "delete"])
    p.add_argument("client_id", nargs="?", metavar="CLIENT_ID", help="needed by every action but list")
    p.set_defaults(handler=_client)

    p = sub.add_parser("revoke-token", help="refuse one access token from now on (by its jti, or the token)")
    p.add_argument("jti_or_token", metavar="JTI_OR_TOKEN")
    p.set_defaults(handler=_revoke_token)

    p = sub.add_parser("token", help="print a signed development token (last line of stdout)")
    p.add_argument("--sub", required=True, help="the token subject (user or author id)")
    p.add_argument("--scopes", required=True, help='space-separated, e.g. "policy:read screenings:write"')
    p.add_argument("--ttl", type=int, default=None, help="lifetime in seconds (default from settings)")
    p.set_defaults(handler=_token)

    p = sub.add_parser(
        "verify-audit", help="recompute the audit chain and the screening seals; exit 1 naming the first break"
    )
    p.add_argument(
        "--checkpoint", metavar="FILE", default=None,
        help="also check the chain against a checkpoint from audit-checkpoint (truncated, forked, forged)",
    )  # fmt: skip
    p.set_defaults(handler=_verify_audit)

    p = sub.add_parser("audit-checkpoint", help="print the signed chain head as JSON, to store outside the database")
    p.set_defaults(handler=_audit_checkpoint)

    p = sub.add_parser("purge", help="delete records past their retention period now; prints the counts")
    p.set_defaults(handler=_purge)

    p = sub.add_parser(
        "policy-status", help="print the policy's review status; exit 0 current, 1 due soon, 2 overdue, 3 error"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a sentence")
    p.add_argument("--today", type=dt.date.fromisoformat, default=None, help="evaluate as of YYYY-MM-DD (UTC)")
    p.set_defaults(handler=_policy_status)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand and return its exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args, get_settings())
    except AppError as exc:  # not found, name taken, a token that cannot be revoked
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
