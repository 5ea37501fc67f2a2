"""The relay's plain HTTP side on TCP: certificate pinning, announced broadcasts, health."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from urllib.parse import unquote, urlsplit

from hang.errors import InvalidPath
from hang.model.origin import Origin

log = logging.getLogger("hang.relay.http")

MAX_REQUEST = 8192


class HttpSide:
    """Answers ``GET /certificate.sha256``, ``/announced/<prefix>`` and ``/health``."""

    def __init__(self, origin: Origin, fingerprint: str, sessions: dict[str, int]) -> None:
        self.origin = origin
        self.fingerprint = fingerprint
        self.stats = sessions

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one connection (one request, then close)."""
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            status, body, kind = self.respond(head[:MAX_REQUEST].decode("latin-1"))
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
            writer.close()
            return
        headers = (
            f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
            "Access-Control-Allow-Origin: *\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(ConnectionError):
            writer.write(headers.encode() + body)
            await writer.drain()
        writer.close()

    def respond(self, head: str) -> tuple[str, bytes, str]:
        """Status line, body and content type for a request head."""
        parts = head.split("\r\n", 1)[0].split(" ")
        if len(parts) != 3 or parts[0] not in ("GET", "HEAD"):
            return "405 Method Not Allowed", b"only GET\n", "text/plain"
        path = unquote(urlsplit(parts[1]).path)
        if path == "/certificate.sha256":
            return "200 OK", self.fingerprint.encode(), "text/plain"
        if path == "/health":
            body = json.dumps({"status": "ok", **self.stats, "broadcasts": len(self.origin.paths())})
            return "200 OK", body.encode(), "application/json"
        if path == "/announced" or path.startswith("/announced/"):
            try:
                paths = self.origin.paths(path.removeprefix("/announced"))
            except InvalidPath as exc:
                return "400 Bad Request", f"{exc}\n".encode(), "text/plain"
            return "200 OK", "".join(p + "\n" for p in paths).encode(), "text/plain"
        return "404 Not Found", b"not found\n", "text/plain"
