"""Connecting to a relay: URL schemes, certificate pinning, and the session handshake."""

from __future__ import annotations

import asyncio
import contextlib
import re
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from hang.errors import ConnectError, HangError, SessionClosed
from hang.model.broadcast import BroadcastConsumer
from hang.model.origin import Announcement, Origin
from hang.model.track import TrackConsumer
from hang.session.moqt07 import Moqt07Session
from hang.session.moqt07_base import Moqt07Options
from hang.session.session import MoqSession
from hang.transport.base import Session
from hang.transport.quic import TlsOptions, TransportConfig, dial
from hang.wire import moqt07
from hang.wire.constants import ALL_VERSIONS, Version, alpns_for

DEFAULT_PORT = 443
#: ``--protocol`` values.
PROTOCOLS = ("moq-lite", "moqt-07")
#: ``--compat`` profiles (draft-07 only).
COMPAT_PROFILES = ("cloudflare",)


class VersionLabel(Protocol):
    """A negotiated version that can name itself."""

    @property
    def label(self) -> str: ...


class ClientSession(Protocol):
    """What a connected session offers, whichever protocol it speaks."""

    transport: Session
    closed: asyncio.Future[SessionClosed]

    @property
    def version(self) -> VersionLabel: ...

    def announced(self, prefix: str = "") -> AsyncIterator[Announcement]: ...

    async def subscribe(self, broadcast: str, track: str, *, priority: int = 0) -> TrackConsumer: ...

    def publish(self, path: str, broadcast: BroadcastConsumer) -> None: ...

    async def wait_closed(self) -> None: ...


@dataclass
class ClientConfig:
    """How a client connects: versions to offer and how to trust the server."""

    versions: tuple[Version, ...] = ALL_VERSIONS
    #: Lowercase hex SHA-256 fingerprints of acceptable server certificates.
    fingerprints: list[str] = field(default_factory=list)
    #: A PEM file of CA certificates to trust.
    tls_root: str | None = None
    #: Accept any certificate (development only).
    tls_disable_verify: bool = False
    timeout: float = 10.0
    transport: TransportConfig = field(default_factory=TransportConfig)
    #: "moq-lite" (negotiating one of ``versions``) or "moqt-07" (IETF MoQ Transport draft-07).
    protocol: str = "moq-lite"
    #: draft-07 only: "cloudflare" follows that relay's deviations.
    compat: str = ""


def fetch_fingerprint(host: str, port: int, timeout: float) -> str:
    """GET ``http://host:port/certificate.sha256`` (the development pinning shortcut)."""
    url = f"http://{host}:{port}/certificate.sha256"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            text = bytes(response.read(256)).decode().strip().lower()
    except OSError as exc:
        raise ConnectError(f"could not fetch {url}: {exc}") from None
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise ConnectError(f"{url} did not return a SHA-256 fingerprint")
    return text


@contextlib.asynccontextmanager
async def connect(url: str, config: ClientConfig | None = None, *,
                  publish: Origin | None = None) -> AsyncIterator[ClientSession]:
    """Open a session to ``url`` and close it on exit (moq-lite, or draft-07 with ``protocol="moqt-07"``).

    ``https://host:port/path`` runs WebTransport, ``moql://host:port/path`` (or ``moqt://``) raw
    QUIC, and ``http://host:port/path`` fetches the server's certificate fingerprint over plain
    HTTP first, then connects with WebTransport pinned to it::

        async with hang.connect("http://localhost:4443/") as session:
            async for announcement in session.announced("room"):
                print(announcement.path, announcement.active)
    """
    config = config or ClientConfig()
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        raise ConnectError(f"no host in URL {url!r}")
    port = parts.port or DEFAULT_PORT
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    tls = TlsOptions(list(config.fingerprints), config.tls_root, config.tls_disable_verify)
    scheme = parts.scheme.lower()
    if scheme == "http":
        if not (tls.fingerprints or tls.disable_verify or tls.root):
            fingerprint = await asyncio.to_thread(fetch_fingerprint, host, port, config.timeout)
            tls.fingerprints = [fingerprint]
        scheme = "https"
    if scheme not in ("https", "moql", "moqt"):
        raise ConnectError(f"unsupported URL scheme {parts.scheme!r} (use https, http, moql or moqt)")
    if config.protocol not in PROTOCOLS:
        raise ConnectError(f"unknown protocol {config.protocol!r} (use {' or '.join(PROTOCOLS)})")
    draft07 = config.protocol == "moqt-07"
    alpns = [moqt07.ALPN] if draft07 else alpns_for(config.versions)
    webtransport = scheme == "https"
    async with dial(host, port, alpns=alpns, webtransport_path=path if webtransport else None,
                    protocols=[] if draft07 else alpns, tls=tls, config=config.transport,
                    timeout=config.timeout) as transport:
        if not webtransport:
            transport.path = path
        session: MoqSession | Moqt07Session
        if draft07:
            options = Moqt07Options(cloudflare=config.compat == "cloudflare")
            session = Moqt07Session(transport, is_server=False, publish=publish, options=options)
        else:
            session = MoqSession(transport, is_server=False, versions=config.versions, publish=publish)
        try:
            await asyncio.wait_for(session.start(), config.timeout)
        except TimeoutError:
            session.close(0, "handshake timed out")
            raise ConnectError(f"{config.protocol} handshake with {host}:{port} timed out") from None
        except HangError:
            session.close(0, "handshake failed")
            raise
        try:
            yield session
        finally:
            session.close(0, "")
