"""Protected terms: names and codes registered by HR, matched through keyed hashes only.

The matcher holds HMAC-SHA256 digests of normalised terms, never their plain text. The engine
hashes every 1-4 token n-gram of the normalised post with the same key and looks the digests up,
so a registered child's name is found however it is disguised ("J.a.c.k", "JACK", "J4ck") while a
dump of the matcher (or of the database behind it) reveals no names.

Hashing is most of the matcher's cost, so it can be told which term lengths (in words) are
registered at all: only n-grams of those lengths are hashed. The registry keeps that set as one
bitmask for all terms together (`sizes_mask`), which says no more about any one name than that
some registered term has that many words. And a matcher remembers, in memory, what each n-gram it
has hashed matched, so the words that recur from post to post are hashed once per matcher.
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
_SEEN_MAX = 1 << 16  # n-grams whose lookup a matcher remembers


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


def term_words(value: str) -> int:
    """Return how many word tokens ``value`` has once normalised (the n-gram it must match)."""
    return len(normalize_term(value).split())


def sizes_mask(sizes: Iterable[int]) -> int:
    """Return the bitmask of n-gram sizes (bit ``n - 1`` for ``n`` words).

    Raises:
        ValueError: on a size outside ``1..MAX_NGRAM``.

    """
    mask = 0
    for n in sizes:
        if not 1 <= n <= MAX_NGRAM:
            raise ValueError(f"protected terms have 1 to {MAX_NGRAM} words, not {n}")
        mask |= 1 << (n - 1)
    return mask


def sizes_of(mask: int | None) -> frozenset[int]:
    """Return the n-gram sizes a bitmask holds; ``None`` (not known) means every size."""
    if mask is None:
        return frozenset(range(1, MAX_NGRAM + 1))
    return frozenset(n for n in range(1, MAX_NGRAM + 1) if mask >> (n - 1) & 1)


def term_digest(value: str, key: bytes) -> str:
    """Return the hex HMAC-SHA256 of ``normalize_term(value)`` under ``key``.

    Args:
        value: The plain term (used transiently, never stored).
        key: The server secret.

    Returns:
        64 hex characters.

    """
    return normal_digest(normalize_term(value), key)


def normal_digest(normal: str, key: bytes) -> str:
    """Return the hex HMAC-SHA256 of a term already normalised by :func:`normalize_term`."""
    return hmac.new(key, normal.encode("utf-8"), hashlib.sha256).hexdigest()


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
        sizes: The word counts of the registered terms (any superset will do); ``None`` when
            not known, which hashes every n-gram of 1 to ``MAX_NGRAM`` words.

    Raises:
        ValueError: on an unknown kind, a malformed digest or a size outside ``1..MAX_NGRAM``.

    """

    def __init__(self, entries: Iterable[tuple[str, str]], key: bytes, sizes: Iterable[int] | None = None) -> None:
        table: dict[str, str] = {}
        for digest, kind in entries:
            if kind not in KINDS:
                raise ValueError(f"unknown protected term kind {kind!r}")
            digest = digest.lower()
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ValueError("protected term digest must be 64 hex characters")
            table[digest] = kind
        self._table = table
        mask = None if sizes is None else sizes_mask(sizes)
        if table and not mask:
            mask = None  # terms without a size would never match: hash every length instead
        # (size - 1) for each n-gram length worth hashing, ascending.
        self._sizes = sorted(n - 1 for n in sizes_of(mask))
        # Digests are compared as raw bytes, and HMAC is computed from precomputed inner and outer
        # pad states (RFC 2104): each n-gram costs a few C-level hash calls and one compression
        # per pad, not the hmac module's Python wrapper.
        self._raw = {bytes.fromhex(d): k for d, k in table.items()}
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
        # What each n-gram already looked up matched (its kind, or "" for none): most words of a
        # post ("the", "staff", "today") recur from post to post, and a hit costs no hashing. Held
        # in memory only, like the clause model's word cache, and dropped with the matcher when
        # the registry changes; cleared when full rather than grown.
        self._seen: dict[str | tuple[str, ...], str] = {}

    def __len__(self) -> int:
        return len(self._table)

    def find(self, words: list[str]) -> list[ProtectedMatch]:
        """Find protected terms among the n-grams of ``words`` (longest match wins).

        Args:
            words: The post's normalised word tokens in order.

        Returns:
            Non-overlapping matches in token order.

        """
        if not self._table or not self._sizes:
            return []
        get = self._raw.get
        icopy = self._inner.copy
        ocopy = self._outer.copy
        seen = self._seen
        wanted = self._sizes
        out: list[ProtectedMatch] = []
        i = 0
        n = len(words)
        while i < n:
            # The inner hash runs incrementally over the words from i on one state, built only for
            # an n-gram not seen before; an outer hash is taken at the registered lengths alone,
            # and the longest registered n-gram wins.
            state = None
            size = 0
            kind = ""
            k = 1
            for want in wanted:
                if i + want >= n:
                    break
                gram = words[i] if want == 0 else tuple(words[i : i + want + 1])
                found = seen.get(gram)
                if found is None:
                    if state is None:
                        state = icopy()
                        state.update(words[i].encode("utf-8", "surrogatepass"))
                    while k <= want:
                        state.update(b" " + words[i + k].encode("utf-8", "surrogatepass"))
                        k += 1
                    outer = ocopy()
                    outer.update(state.digest())
                    found = get(outer.digest(), "")
                    if len(seen) >= _SEEN_MAX:
                        seen.clear()
                    seen[gram] = found
                if found:
                    size, kind = want + 1, found
            if kind:
                out.append(ProtectedMatch(i, i + size - 1, kind))
                i += size
            else:
                i += 1
        return out
