"""Command line for operators and scripts: clients, development tokens, audit verification, retention."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence

from sqlmodel import Session

from app.audit import service as audit
from app.auth import service as auth_service
from app.auth.scopes import parse_scopes
from app.auth.tokens import create_access_token
from app.db import build_engine
from app.settings import Settings, get_settings

Command = Callable[[argparse.Namespace, Settings], int]


def _create_client(args: argparse.Namespace, settings: Settings) -> int:
    engine = build_engine(settings)
    try:
        with Session(engine) as session:
            created = auth_service.create_client(
                session=session, name=args.name, scopes=args.scopes, pepper=settings.secret_key, actor="cli"
            )
            session.commit()
    finally:
        engine.dispose()
    print(f"client_id={created.client_id}")
    print(f"client_secret={created.client_secret}")
    print(f"scopes={created.scopes}")
    print("Store the secret now: it is not shown again.", file=sys.stderr)
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
    print(f"audited rows intact: {content.checked} rows match their latest audit digest{unchecked}")
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

    today = args.today or dt.datetime.now(dt.UTC).date()
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

    p = sub.add_parser(
        "audit-checkpoint", help="print the signed chain head as JSON, to store outside the database"
    )
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
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
