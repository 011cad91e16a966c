"""Which address a token request counts against (`app.auth.limits.client_address`), and the lockouts."""

from __future__ import annotations

import ipaddress

import pytest

from app.auth.limits import UNVERIFIED_FORWARDER, HashBudget, Lockouts, client_address
from app.clock import FakeClock

PROXIES = (ipaddress.ip_network("10.0.0.0/8"),)


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("203.0.113.5", [], (), "203.0.113.5"),
        ("203.0.113.5", ["198.51.100.1"], (), "203.0.113.5"),  # not a proxy: the header is ignored
        ("198.51.100.1", ["198.51.100.1"], (), UNVERIFIED_FORWARDER),  # a server in front already applied it
        ("10.0.0.2", ["198.51.100.1"], PROXIES, "198.51.100.1"),
        ("10.0.0.2", ["6.6.6.6, 198.51.100.1, 10.0.0.9"], PROXIES, "198.51.100.1"),  # the left part is the caller's
        ("10.0.0.2", ["198.51.100.1:5555"], PROXIES, "198.51.100.1"),
        ("10.0.0.2", ["[2001:db8::1]:443"], PROXIES, "2001:db8::1"),
        ("10.0.0.2", ["garbage"], PROXIES, UNVERIFIED_FORWARDER),
        ("10.0.0.2", [], PROXIES, "10.0.0.2"),
    ],
)
def test_client_address(peer, forwarded, trusted, expected):
    assert client_address(peer, forwarded, trusted) == expected


def test_lockouts_expire_and_say_how_long_to_wait():
    clock = FakeClock()
    lockouts = Lockouts(clock=clock.monotonic)
    lockouts.lock("ip:203.0.113.5", 60)
    assert lockouts.retry_after(["ip:203.0.113.5", "client:x@203.0.113.5"]) == 61
    assert lockouts.retry_after(["ip:198.51.100.1"]) == 0
    clock.advance(59.5)
    assert lockouts.retry_after(["ip:203.0.113.5"]) == 1
    clock.advance(0.5)
    assert lockouts.retry_after(["ip:203.0.113.5"]) == 0


def test_lockouts_are_bounded():
    lockouts = Lockouts(max_entries=3)
    for n in range(5):
        lockouts.lock(f"ip:{n}", 60)
    assert lockouts.retry_after(["ip:0", "ip:1"]) == 0
    assert lockouts.retry_after(["ip:4"]) > 0


def test_hash_budget_refuses_past_its_size():
    budget = HashBudget(2)
    assert budget.try_acquire() and budget.try_acquire()
    assert not budget.try_acquire()
    budget.release()
    assert budget.try_acquire()


def test_access_guard_keeps_its_last_snapshot_while_the_database_is_down(monkeypatch):
    from contextlib import contextmanager

    from sqlalchemy.exc import OperationalError

    from app.auth import access
    from app.auth.tokens import Principal

    clock = FakeClock()
    answers = [(frozenset({"cli_a"}), frozenset({"revoked-jti"}))]

    @contextmanager
    def opener():
        yield None

    def snapshot(*, session):
        if not answers:
            raise OperationalError("SELECT", {}, Exception("connection refused"))
        return answers.pop()

    monkeypatch.setattr(access.service, "access_snapshot", snapshot)
    guard = access.AccessGuard(opener, max_age=30, clock=clock.monotonic)
    client_token = Principal(sub="cli_a", scopes=frozenset(), client_id="cli_a", jti="j1", issued_at=0)
    revoked = Principal(sub="x", scopes=frozenset(), jti="revoked-jti", issued_at=0)
    guard.refresh()
    clock.advance(31)
    assert guard.needs_refresh(client_token)
    guard.refresh()  # the database is down: the last view stays, for another lifetime
    assert not guard.needs_refresh(client_token)
    guard.check(client_token)
    with pytest.raises(access.TokenError):
        guard.check(revoked)
    with pytest.raises(OperationalError):
        access.AccessGuard(opener, max_age=30).refresh()  # no view at all: 503 upstream
