"""Pure-ASGI middleware: request ids, access logs, metrics, security headers, body limit.

Access logs carry method, route template, status, duration and request id: never bodies, query
strings, or the Authorization header.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PayloadTooLarge, problem_type

access_log = logging.getLogger("app.access")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class Metrics:
    """Prometheus collectors for one application instance (its own registry, so tests don't clash).

    With several workers, each is its own process with its own counters, and a scrape reaches one
    of them. `multiprocess_dir` (PROMETHEUS_MULTIPROC_DIR, which prometheus_client reads at import
    to write every value to a per-process file there) makes `exposition` a registry that sums the
    files of every worker, dead ones included: their requests happened, and counters must not go
    back down when a worker is replaced.
    """

    def __init__(self, multiprocess_dir: Path | None = None) -> None:
        self.registry = CollectorRegistry()
        self.exposition = self.registry
        if multiprocess_dir is not None:
            multiprocess_dir.mkdir(parents=True, exist_ok=True)
            self.exposition = CollectorRegistry()
            MultiProcessCollector(self.exposition, path=str(multiprocess_dir))
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Request latency by method and route template.",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


def _nul_in_url(scope: Scope) -> list[dict[str, str]]:
    """Name the path or query parameters that carry a NUL character (decoded)."""
    problem = {"message": "contains a NUL character (U+0000)", "type": "nul_character"}
    fields = []
    if "\x00" in scope.get("path", ""):
        fields.append({"field": "path", **problem})
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                fields.append({"field": "query." + name.replace("\x00", ""), **problem})
    return fields


PROBLEM_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-type", b"application/problem+json"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
)


def problem_document(app: Any, path: str | None, request_id: str, *, status: int, **members: Any) -> bytes:
    """Return the problem+json body of a refusal made before the application sees the request."""
    slug = members.pop("slug")
    document = {"type": problem_type(app, slug), "title": members.pop("title"), "status": status,
                "detail": members.pop("detail")}  # fmt: skip
    if path is not None:
        document["instance"] = path.replace("\x00", "")
    return json.dumps({**document, "request_id": request_id, **members}).encode()


def headers_too_large(limit_bytes: int) -> dict[str, Any]:
    """Return the members of the 431 problem for request headers over ``limit_bytes``."""
    return {
        "status": 431,
        "slug": "headers-too-large",
        "title": "Request Header Fields Too Large",
        "detail": f"The request headers are over the limit of {limit_bytes} bytes.",
        "limit_bytes": limit_bytes,
    }


async def _send_problem(scope: Scope, send: Send, request_id: str, *, status: int, **members: Any) -> None:
    """Answer with a problem+json before the application sees the request."""
    body = problem_document(scope.get("app"), scope["path"], request_id, status=status, **members)
    headers = [*PROBLEM_HEADERS, (b"content-length", str(len(body)).encode()), (b"x-request-id", request_id.encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LoopbackOnlyMiddleware:
    """Answer only loopback callers: installed in development while the repository's secrets are in use.

    Those secrets are public, so anyone who can reach the server can mint any token; `make run`
    binds 127.0.0.1, and this keeps a server started on 0.0.0.0 by hand just as closed.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a non-loopback caller with a 403 problem; pass everything else through."""
        client = scope.get("client")
        if scope["type"] == "http" and not _is_loopback(client[0] if client else None):
            await _send_problem(
                scope,
                send,
                scope.get("state", {}).get("request_id") or uuid.uuid4().hex,
                status=403,
                slug="development-server",
                title="Forbidden",
                detail="This development server uses the repository's published secrets, so it answers "
                "loopback callers only; set POLICY_JWT_SECRET and POLICY_SECRET_KEY to serve others.",
            )
            return
        await self.app(scope, receive, send)


class BodyTooLarge(PayloadTooLarge):
    """Raised while reading a body that grows past the limit."""


class RequestContextMiddleware:
    """Tag each request with an id, enforce the body limit, log it, count it, harden headers."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, metrics: Metrics, max_header_bytes: int = 16_384) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header_bytes = sum(len(name) + len(value) for name, value in scope["headers"])
        if header_bytes > self.max_header_bytes:
            # Before anything copies or decodes them: a 50 MB Authorization header is refused unread.
            request_id = uuid.uuid4().hex
            scope.setdefault("state", {})["request_id"] = request_id
            await _send_problem(scope, send, request_id, **headers_too_large(self.max_header_bytes))
            self._observe(scope, 431, time.perf_counter(), request_id)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        authenticated = "authorization" in headers
        started = time.perf_counter()
        status_holder: dict[str, int] = {"status": 500}
        limit = self.max_body_bytes

        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(scope, send, request_id, limit)
            self._observe(scope, 413, started, request_id)
            return

        nul_fields = _nul_in_url(scope)
        if nul_fields:
            # PostgreSQL cannot take a NUL in any text, so one in an id or a filter would be a 500
            # deep in a query; no route has a use for it, so refuse it here for every route.
            names = ", ".join(f["field"] for f in nul_fields)
            await _send_problem(
                scope,
                send,
                request_id,
                status=422,
                slug="validation-error",
                title="Unprocessable Content",
                detail=f"Invalid input: {names} contains a NUL character (U+0000).",
                errors=nul_fields,
            )
            self._observe(scope, 422, started, request_id)
            return

        received = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # The framework turns any error while reading into a 400; remember why, so
                    # send_wrapper can answer with the 413 the client needs to see.
                    too_large = True
                    raise BodyTooLarge(f"The request body is over the limit of {limit} bytes.")
            return message

        async def send_wrapper(message: Message) -> None:
            if too_large:
                if message["type"] == "http.response.start":
                    status_holder["status"] = 413
                    await self._too_large(scope, send, request_id, limit)
                return
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                out = list(message.get("headers", []))
                out.append((b"x-request-id", request_id.encode()))
                out.append((b"x-content-type-options", b"nosniff"))
                out.append((b"x-frame-options", b"DENY"))
                out.append((b"referrer-policy", b"no-referrer"))
                if authenticated or scope["path"].startswith("/v1/"):
                    if not any(k.lower() == b"cache-control" for k, _ in out):
                        out.append((b"cache-control", b"no-store"))
                message["headers"] = out
            await send(message)

        try:
            await self.app(scope, limited_receive, send_wrapper)
        finally:
            self._observe(scope, status_holder["status"], started, request_id)

    async def _too_large(self, scope: Scope, send: Send, request_id: str, limit: int) -> None:
        body = json.dumps(
            {
                "type": problem_type(scope.get("app"), "payload-too-large"),
                "title": "Content Too Large",
                "status": 413,
                "detail": f"The request body is over the limit of {limit} bytes.",
                "instance": scope["path"],
                "request_id": request_id,
                "limit_bytes": limit,
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-request-id", request_id.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"cache-control", b"no-store"),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _observe(self, scope: Scope, status: int, started: float, request_id: str) -> None:
        elapsed = time.perf_counter() - started
        route = _route_template(scope)
        method = scope.get("method", "")
        self.metrics.requests.labels(method, route, str(status)).inc()
        self.metrics.latency.labels(method, route).observe(elapsed)
        extra: dict[str, Any] = {
            "request_id": request_id,
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(elapsed * 1000, 2),
        }
        access_log.info("request", extra=extra)
