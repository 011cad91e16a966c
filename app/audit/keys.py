"""Keys of the audit chain, derived from the service secret and never stored in the database.

`POLICY_SECRET_KEY` also keys protected terms and client secrets; each audit use derives its own
key with a distinct label (``app.keys.derive_key``), so no value made under one
use can be replayed as another, and a database dump holds nothing that rebuilds a chain hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from app.keys import derive_key, keyed_digest
from app.settings import get_settings

_CHAIN_LABEL = b"policy-service/audit/chain/v1"
_ROW_LABEL = b"policy-service/audit/row-digest/v1"
_SUBJECT_LABEL = b"policy-service/audit/subject/v1"
_CHECKPOINT_LABEL = b"policy-service/audit/checkpoint/v1"


@dataclass(frozen=True)
class AuditKeys:
    """One derived key per use: event hashes, row digests, subject pseudonyms, checkpoints."""

    chain: bytes
    row: bytes
    subject: bytes
    checkpoint: bytes

    def mac(self, key: bytes, message: str) -> str:
        """Return the hex HMAC-SHA256 of `message` under one of these keys."""
        return keyed_digest(key, message.encode())

    def pseudonym(self, subject_id: str) -> str:
        """Return the stable keyed pseudonym the audit chain uses instead of a person's id."""
        return self.mac(self.subject, subject_id)[:32]


def derive(secret: str) -> AuditKeys:
    """Derive the audit keys from the service secret."""
    labels = (_CHAIN_LABEL, _ROW_LABEL, _SUBJECT_LABEL, _CHECKPOINT_LABEL)
    return AuditKeys(*(derive_key(secret, label) for label in labels))


@lru_cache(maxsize=4)
def _cached(secret: str) -> AuditKeys:
    return derive(secret)


def current() -> AuditKeys:
    """Return the keys of this process's service secret (`POLICY_SECRET_KEY`)."""
    return _cached(get_settings().secret_key)
