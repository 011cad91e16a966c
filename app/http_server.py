"""The HTTP protocol the service runs under uvicorn: httptools with a bound on each request's head.

uvicorn's httptools parser buffers a request's line and headers, however long, before the
application sees them, so the 431 of `RequestContextMiddleware` came only after a 50 MB header had
been read into memory. `BoundedHttpToolsProtocol` counts the bytes of each request head as they
arrive and answers 431 (and closes the connection) once they pass `POLICY_MAX_HEADER_BYTES` plus
`HEAD_SLACK_BYTES` for the request line, so memory per connection stays bounded. Heads under that but
over the header limit still reach the middleware, which answers the same 431 with the exact count.

Every launcher passes it: ``uvicorn app.main:app --http app.http_server:BoundedHttpToolsProtocol``.
"""

from __future__ import annotations

import uuid
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.middleware import PROBLEM_HEADERS, headers_too_large, problem_document
from app.settings import get_settings

# What every launcher passes to uvicorn's --http (Makefile, Dockerfile, compose.yaml, the test server).
UVICORN_HTTP = "app.http_server:BoundedHttpToolsProtocol"

# Room for the request line (a long query string) on top of the header limit.
HEAD_SLACK_BYTES = 65_536


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing a request head longer than the configured bound."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_limit = get_settings().max_header_bytes
        self.head_limit = self.header_limit + HEAD_SLACK_BYTES
        self.head_bytes = 0
        self.reading_head = True  # bytes received now belong to a request head (not a body)

    def on_headers_complete(self) -> None:
        """Stop counting: what follows is the body."""
        self.reading_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        """Start counting the next request's head."""
        self.reading_head = True
        self.head_bytes = 0
        super().on_message_complete()

    def data_received(self, data: bytes) -> None:
        """Parse, then refuse the connection once an unfinished head has passed the bound."""
        super().data_received(data)
        if not self.reading_head or self.transport is None or self.transport.is_closing():
            return
        # A chunk that also ended the previous request's body is counted whole: the bound errs by
        # at most one read, never by an unbounded amount.
        self.head_bytes += len(data)
        if self.head_bytes > self.head_limit:
            self._refuse_head()

    def _refuse_head(self) -> None:
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined request is still being answered: a response now would interleave with it.
            self.transport.close()
            return
        request_id = uuid.uuid4().hex
        # The request line may be unfinished: no instance to name.
        body = problem_document(self.app, None, request_id, **headers_too_large(self.header_limit))
        head = [b"HTTP/1.1 431 Request Header Fields Too Large\r\n"]
        head += [name + b": " + value + b"\r\n" for name, value in PROBLEM_HEADERS]
        head += [
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"x-request-id: " + request_id.encode() + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()
