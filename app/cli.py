"""Command line for operators and scripts: clients, development tokens, audit verification."""

from __future__ import annotations

import argparse
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


def _verify_audit(args: argparse.Namespace, settings: Settings) -> int:
    engine = build_engine(settings)
    try:
        with Session(engine) as session:
            report = audit.verify(session)
    finally:
        engine.dispose()
    if report.ok:
        print(f"audit chain intact: {report.checked} events verified")
        return 0
    print(f"audit chain BROKEN at event {report.broken_seq}: {report.reason} ({report.checked} verified before it)")
    return 1


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

    p = sub.add_parser("verify-audit", help="recompute the audit chain; exit 1 naming the first broken event")
    p.set_defaults(handler=_verify_audit)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand and return its exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args, get_settings())
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
