"""Protected terms: names and codes registered by HR, matched through keyed hashes only.

The matcher holds HMAC-SHA256 digests of normalised terms, never their plain text. The engine
hashes every 1-4 token n-gram of the normalised post with the same key and looks the digests up,
so a registered child's name is found however it is disguised ("J.a.c.k", "JACK", "J4ck") while a
dump of the matcher (or of the database behind it) reveals no names.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from app.screening.normalize import normalize_text, tokens

KINDS = frozenset({"child_name", "family_name", "staff_name", "code_name", "access_code"})
MAX_NGRAM = 4
_BLOCK = 64  # SHA-256 block size in bytes


def normalize_term(value: str) -> str:
    """Normalise a term exactly as post text is normalised, as space-joined word tokens.

    Casefolds, folds homoglyphs and leetspeak, joins spaced or dotted letters, drops separators
    and collapses whitespace: ``"J.a.c.k"``, ``"JACK"`` and ``"jack"`` all give ``"jack"``.

    Args:
        value: A name or code as HR typed it.

    Returns:
        The normalised form (may be empty).

    """
    return " ".join(tok for _, _, tok in tokens(normalize_text(value)))


def term_digest(value: str, key: bytes) -> str:
    """Return the hex HMAC-SHA256 of ``normalize_term(value)`` under ``key``.

    Args:
        value: The plain term (used transiently, never stored).
        key: The server secret.

    Returns:
        64 hex characters.

    """
    return hmac.new(key, normalize_term(value).encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class ProtectedMatch:
    """A protected term found in a post: token range ``[first, last]`` and the term's kind."""

    first: int
    last: int
    kind: str


class ProtectedTermMatcher:
    """In-memory set of keyed digests with their kinds.

    Args:
        entries: ``(digest_hex, kind)`` pairs; ``kind`` is one of child_name, family_name,
            staff_name, code_name, access_code.
        key: The HMAC key the digests were made with.

    Raises:
        ValueError: on an unknown kind or a malformed digest.

    """

    def __init__(self, entries: Iterable[tuple[str, str]], key: bytes) -> None:
        table: dict[str, str] = {}
        for digest, kind in entries:
            if kind not in KINDS:
                raise ValueError(f"unknown protected term kind {kind!r}")
            digest = digest.lower()
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ValueError("protected term digest must be 64 hex characters")
            table[digest] = kind
        self._table = table
        # Digests are compared as raw bytes, and HMAC is computed from a precomputed inner pad
        # state and the outer pad (RFC 2104) so each n-gram costs a few C-level hash calls, not
        # the hmac module's Python wrapper.
        self._raw = {bytes.fromhex(d): k for d, k in table.items()}
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        # The outer pad as bytes: one sha256(opad + inner) call is cheaper than copying a state.
        self._opad = bytes(b ^ 0x5C for b in key)

    def __len__(self) -> int:
        return len(self._table)

    def find(self, words: list[str]) -> list[ProtectedMatch]:
        """Find protected terms among the n-grams of ``words`` (longest match wins).

        Args:
            words: The post's normalised word tokens in order.

        Returns:
            Non-overlapping matches in token order.

        """
        if not self._table:
            return []
        get = self._raw.get
        icopy = self._inner.copy
        opad = self._opad
        sha256 = hashlib.sha256
        encoded = [w.encode("utf-8", "surrogatepass") for w in words]
        spaced = [b" " + w for w in encoded]
        out: list[ProtectedMatch] = []
        i = 0
        n = len(words)
        while i < n:
            # Inner hashes of the 1..k-grams starting at i, built incrementally on one state;
            # then the longest n-gram whose outer hash is registered wins.
            top = min(MAX_NGRAM, n - i)
            state = icopy()
            state.update(encoded[i])
            inners = [state.digest()]
            for j in range(i + 1, i + top):
                state.update(spaced[j])
                inners.append(state.digest())
            kinds = [get(sha256(opad + inner).digest()) for inner in inners]
            size = top
            kind = None
            while size and (kind := kinds[size - 1]) is None:
                size -= 1
            if kind is not None:
                out.append(ProtectedMatch(i, i + size - 1, kind))
            i += size or 1
        return out
