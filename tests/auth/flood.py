"""`python -m tests.auth.flood URL CLIENT_ID SECONDS CONCURRENCY`: wrong-secret requests, as fast as they go.

Runs in its own process so the flood's event loop does not delay the measuring client, and speaks
HTTP/1.1 over raw asyncio streams (keep-alive, one request in flight per connection): an httpx pool
of 150 connections spends more CPU choosing a connection than the server spends answering.
Prints one JSON object: the count of answers per status and of connection errors.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from urllib.parse import urlencode, urlsplit


def _request(host: str, client_id: str, n: int) -> bytes:
    body = urlencode({"grant_type": "client_credentials", "client_id": client_id, "client_secret": f"wrong-{n}"})
    return (
        f"POST /v1/auth/token HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


async def _answer(reader: asyncio.StreamReader) -> str:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next((int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")), 0)
    await reader.readexactly(length)
    return lines[0].split(" ", 2)[1]


async def flood(url: str, client_id: str, seconds: float, concurrency: int) -> Counter[str]:
    """Send wrong-secret token requests over `concurrency` connections for `seconds`."""
    target = urlsplit(url)
    host, port = target.hostname or "127.0.0.1", target.port or 80
    counts: Counter[str] = Counter()
    deadline = time.monotonic() + seconds

    async def worker(n: int) -> None:
        request = _request(f"{host}:{port}", client_id, n)
        while time.monotonic() < deadline:
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError as exc:
                counts[type(exc).__name__] += 1
                await asyncio.sleep(0.05)
                continue
            try:
                while time.monotonic() < deadline:
                    writer.write(request)
                    counts[await _answer(reader)] += 1
            except (OSError, asyncio.IncompleteReadError) as exc:
                counts[type(exc).__name__] += 1
            finally:
                writer.close()

    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return counts


if __name__ == "__main__":
    target_url, cid, duration, width = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    print(json.dumps(asyncio.run(flood(target_url, cid, duration, width))))
