"""What keeps the token endpoint standing under attack: caller addresses, lockouts, a hashing budget.

Pure and per process: no FastAPI, no database. The failure counts themselves live in the database
(so every worker sees them); this module only decides whose count it is and remembers, for a
minute, who is already over the limit, so their next requests cost nothing at all.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# The bucket of requests whose peer address cannot be known: one that carries X-Forwarded-For
# when that header was (probably) already applied by the server in front of the app.
UNVERIFIED_FORWARDER = "forwarded-unverified"


def _parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = value.strip().strip('"')
    if text.startswith("["):  # "[2001:db8::1]:443"
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # "203.0.113.9:5555"
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None, networks: Sequence[Network]) -> bool:
    return address is not None and any(address in network for network in networks)


def client_address(peer: str | None, forwarded_for: Iterable[str], trusted: Sequence[Network]) -> str:
    """Return the address a token request counts against.

    `X-Forwarded-For` is believed only when the peer is a trusted proxy, and then only up to the
    first hop that is not itself trusted (read from the right). With no trusted proxies the header
    is ignored; if it is present and names the peer itself, a server in front (uvicorn's
    `--proxy-headers` trusts loopback by default) has already replaced the real peer with a value
    the caller chose, so the request counts against one shared bucket instead of an address the
    caller could vary at will.
    """
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    peer_ip = _parse_ip(peer or "")
    if not _trusted(peer_ip, trusted):
        if hops and peer is not None and any(_parse_ip(hop) == peer_ip or hop == peer for hop in hops):
            return UNVERIFIED_FORWARDER
        return str(peer_ip) if peer_ip is not None else (peer or "unknown")
    for hop in reversed(hops):
        hop_ip = _parse_ip(hop)
        if hop_ip is None:
            return UNVERIFIED_FORWARDER
        if not _trusted(hop_ip, trusted):
            return str(hop_ip)
    return str(peer_ip)


def failure_keys(client_id: str, address: str) -> tuple[str, str]:
    """Return the (client id, address) key and the address key a failed attempt counts under."""
    return f"client:{client_id}@{address}"[:200], f"ip:{address}"[:200]


class Lockouts:
    """Keys known to be over their failure limit, until their window ends (bounded, per process)."""

    def __init__(self, *, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._until: OrderedDict[str, float] = OrderedDict()
        self._max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()

    def retry_after(self, keys: Iterable[str]) -> int:
        """Seconds until every one of `keys` may try again (0 when none is locked out)."""
        now = self._clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                until = self._until.get(key)
                if until is None:
                    continue
                if until <= now:
                    del self._until[key]
                else:
                    wait = max(wait, until - now)
        return int(wait) + 1 if wait else 0

    def lock(self, key: str, seconds: float) -> None:
        """Refuse `key` for `seconds` without asking the database."""
        with self._lock:
            self._until[key] = self._clock() + seconds
            self._until.move_to_end(key)
            while len(self._until) > self._max_entries:
                self._until.popitem(last=False)


class HashBudget:
    """At most `size` secret hashes at once in this process; the rest are refused, not queued.

    Refusing rather than queueing is the point: a queue in front of a deliberately slow hash is
    what let a flood stall every other route.
    """

    def __init__(self, size: int) -> None:
        self._slots = threading.BoundedSemaphore(size)

    def try_acquire(self) -> bool:
        """Take a slot if one is free right now."""
        return self._slots.acquire(blocking=False)

    def release(self) -> None:
        """Give a slot back."""
        self._slots.release()
