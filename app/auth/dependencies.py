"""Authentication and scope checks as small FastAPI dependencies."""


from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth.tokens import Principal, TokenError
from app.errors import Forbidden, Unauthorized

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    description="JWT access token from `POST /v1/auth/token` or `python -m app token`.",
)


# These dependencies are `async` although they do no I/O: short CPU work on the event loop is
# cheaper than the thread-pool hop FastAPI makes for every synchronous dependency.
async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """Verify the bearer token and return who is calling."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("A bearer token is required: send `Authorization: Bearer <token>`.")
    try:
        principal = request.app.state.token_verifier.verify(credentials.credentials)
    except TokenError as exc:
        raise Unauthorized(str(exc)) from exc
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require(*scopes: str) -> Callable[[Principal], Principal]:
    """Build a dependency that admits a token carrying any one of `scopes`."""
    wanted = frozenset(scopes)
    label = " or ".join(sorted(wanted))

    # Security(...) rather than Depends(...) so FastAPI lists the scopes in the operation's
    # OpenAPI security requirement, where generated clients and openapi.md read them.
    async def check(principal: Annotated[Principal, Security(get_principal, scopes=sorted(wanted))]) -> Principal:
        if not principal.scopes & wanted:
            raise Forbidden(f"This operation needs the scope {label}.", required_scopes=sorted(wanted))
        return principal

    check.__name__ = f"require_{'_'.join(sorted(wanted)).replace(':', '_').replace('-', '_')}"
    return check
