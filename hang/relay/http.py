"""The relay's plain HTTP side on TCP: certificate pinning, announced broadcasts, health."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from pathlib import Path
from urllib.parse import unquote, urlsplit

from hang.errors import InvalidPath
from hang.model.origin import Origin

log = logging.getLogger("hang.relay.http")

MAX_REQUEST = 8192
#: The watch page and, once built by ``.ci/setup`` (npm), the official player bundle in ``dist/``.
WEB_DIR = Path(__file__).with_name("web")
MISSING_BUNDLE = b"The player bundle is missing: run `bash .ci/setup` (it installs the pinned npm packages).\n"


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
            request = head[:MAX_REQUEST].decode("latin-1")
            status, body, kind = self.respond(request)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
            writer.close()
            return
        headers = (
            f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
            "Access-Control-Allow-Origin: *\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
        )
        if request.startswith("HEAD "):
            body = b""  # the headers carry the length; a HEAD reply has no body
        with contextlib.suppress(ConnectionError):
            writer.write(headers.encode() + body)
            await writer.drain()
        writer.close()

    def static(self, path: str) -> tuple[str, bytes, str]:
        """The watch page at ``/`` and its bundled player under ``/assets/`` (built by the set-up step)."""
        if path == "/":
            return "200 OK", (WEB_DIR / "index.html").read_bytes(), "text/html; charset=utf-8"
        name = path.removeprefix("/assets/")
        target = (WEB_DIR / "dist" / name).resolve()
        if target.parent != (WEB_DIR / "dist").resolve() or not target.is_file():
            hint = b"" if (WEB_DIR / "dist").is_dir() else MISSING_BUNDLE
            return "404 Not Found", b"not found\n" + hint, "text/plain"
        kinds = {".js": "text/javascript", ".css": "text/css", ".map": "application/json"}
        return "200 OK", target.read_bytes(), kinds.get(target.suffix, "application/octet-stream")

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
        if path == "/" or path.startswith("/assets/"):
            return self.static(path)
        return "404 Not Found", b"not found\n", "text/plain"
