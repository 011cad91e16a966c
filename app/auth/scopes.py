"""The scopes a token may carry, with what each one allows."""

from enum import StrEnum


class Scope(StrEnum):
    """OAuth2 scopes understood by the service (space-separated in the JWT `scope` claim)."""

    SCREENINGS_WRITE = "screenings:write"
    SCREENINGS_READ = "screenings:read"
    INCIDENTS_WRITE = "incidents:write"
    INCIDENTS_READ = "incidents:read"
    ESCALATIONS_WRITE = "escalations:write"
    ESCALATIONS_READ = "escalations:read"
    POLICY_READ = "policy:read"
    POLICY_WRITE = "policy:write"
    AUTHORITIES_WRITE = "authorities:write"
    PROTECTED_TERMS_WRITE = "protected-terms:write"
    ADMIN = "admin"


SCOPE_DESCRIPTIONS: dict[str, str] = {
    Scope.SCREENINGS_WRITE: "Screen posts; read back your own screenings.",
    Scope.SCREENINGS_READ: "Read every screening (HR, reviewers).",
    Scope.INCIDENTS_WRITE: "Record derogatory-post incidents (HR).",
    Scope.INCIDENTS_READ: "Read incidents, including their evidence.",
    Scope.ESCALATIONS_WRITE: "Advance, resolve and appeal escalation cases (managers).",
    Scope.ESCALATIONS_READ: "Read escalation cases and draft letters.",
    Scope.POLICY_READ: "Read the policy's review status, clauses and acknowledgements.",
    Scope.POLICY_WRITE: "Record policy reviews; acknowledge on behalf of others (HR).",
    Scope.AUTHORITIES_WRITE: "Grant and revoke prior authority to speak publicly (managers).",
    Scope.PROTECTED_TERMS_WRITE: "Register and remove protected names and codes.",
    Scope.ADMIN: "Manage machine clients.",
}


def parse_scopes(value: str) -> frozenset[str]:
    """Split a space-separated scope string, rejecting unknown scopes with a clear message."""
    scopes = frozenset(part for part in value.split() if part)
    unknown = sorted(scopes - {s.value for s in Scope})
    if unknown:
        raise ValueError(f"unknown scope(s): {', '.join(unknown)}")
    return scopes
