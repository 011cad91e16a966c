"""Keys derived from the service secret, one per purpose, and the keyed digests made with them.

`POLICY_SECRET_KEY` is never used directly for these digests: each purpose gets its own key,
HMAC-SHA256(secret, label), so a digest made for one purpose (a post's fingerprint) can never be
replayed or compared as another (a request's fingerprint), and none of them can be checked by
anyone who does not hold the secret. An unkeyed SHA-256 of a post lets anyone with the database
confirm a guessed post (a door code template needs 10,000 guesses); a keyed one does not.
"""

from __future__ import annotations

import hashlib
import hmac

#: Labels of the derived keys. Changing one makes every digest made under it unmatchable.
SCREENING_TEXT = b"policy-service/screening-text/v1"
IDEMPOTENCY_REQUEST = b"policy-service/idempotency-request/v1"


def derive_key(secret: str, label: bytes) -> bytes:
    """Return the 32-byte key for ``label`` derived from the service secret (HKDF-Expand, one block).

    Args:
        secret: The service secret (`POLICY_SECRET_KEY`).
        label: What the key is for (one of this module's labels).

    Returns:
        The derived key.

    """
    return hmac.new(secret.encode("utf-8"), label + b"\x01", hashlib.sha256).digest()


def keyed_digest(key: bytes, data: bytes) -> str:
    """Return HMAC-SHA256(key, data) as 64 hex characters."""
    return hmac.new(key, data, hashlib.sha256).hexdigest()
