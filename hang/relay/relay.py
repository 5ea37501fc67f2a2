"""``hang relay``: accept moq-lite sessions and route broadcasts between them through one origin."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from hang.errors import ErrorCode, HangError, ProtocolError, Unauthorized
from hang.model.origin import Origin
from hang.relay.auth import Authenticator, Grants, guard
from hang.relay.http import HttpSide
from hang.relay.limits import RelayLimits
from hang.session.handshake import select_protocol
from hang.session.moqt07 import Moqt07Session
from hang.session.moqt07_base import Moqt07Options
from hang.session.session import MoqSession, new_origin_id
from hang.transport import tls
from hang.transport.base import Session
from hang.transport.peek import peek_first_stream
from hang.transport.quic import QuicServer, TransportConfig, bound_port, serve
from hang.wire import moqt07
from hang.wire.coding import normalize_path
from hang.wire.constants import ALL_VERSIONS, ALPN_H3, SetupParam, Version, alpns_for

log = logging.getLogger("hang.relay")

HANDSHAKE_TIMEOUT = 10.0
#: lite-05 SETUP Role values.
ROLE_PUBLISHER, ROLE_SUBSCRIBER = 1, 2

AnySession = MoqSession | Moqt07Session


@dataclass
class RelayConfig:
    """Where and how the relay listens."""

    host: str = "::"
    port: int = 4443
    certfile: Path | None = None
    keyfile: Path | None = None
    versions: tuple[Version, ...] = ALL_VERSIONS
    #: Also accept IETF MoQ Transport draft-07 sessions (ALPN ``moq-00``, or WebTransport whose
    #: first stream is a draft-07 CLIENT_SETUP).
    moqt07: bool = True
    #: Subscriptions a draft-07 session may hold open at once (its MAX_SUBSCRIBE_ID window).
    max_subscribes: int = 100
    #: Serve the HTTP side (certificate fingerprint, announced list, health) on TCP, same port.
    http: bool = True
    #: A short idle timeout (kept alive by PINGs) so a dropped peer is noticed, and its broadcasts
    #: unannounced, within about a second.
    transport: TransportConfig = field(default_factory=lambda: TransportConfig(idle_timeout=1.0))
    #: Token checks (``--auth-key`` / ``--public``); None: everyone may publish and subscribe anything.
    auth: Authenticator | None = None
    limits: RelayLimits = field(default_factory=RelayLimits)


def _listed(prefixes: tuple[str, ...]) -> str:
    return ",".join(p or "*" for p in prefixes) or "nothing"


class Relay:
    """A one-node relay: every session publishes into and subscribes from one shared origin.

    Upstream subscriptions are shared (a track is subscribed once however many sessions watch it),
    the newest groups are cached per track, and each subscriber is served at its own pace.
    """

    def __init__(self, config: RelayConfig | None = None) -> None:
        self.config = config or RelayConfig()
        self.origin = Origin()
        self.origin_id = new_origin_id()
        self.sessions: set[AnySession] = set()
        self.port = 0
        self.fingerprint = ""
        self._quic: QuicServer | None = None
        self._http: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._counts = {"sessions": 0, "sessions_total": 0}

    async def start(self) -> None:
        """Load or generate the certificate and start listening on UDP (and TCP for HTTP)."""
        cfg = self.config
        if cfg.certfile and cfg.keyfile:
            certfile, keyfile = cfg.certfile, cfg.keyfile
            self.fingerprint = tls.fingerprint_of(certfile)
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="hang-relay-")
            cert = tls.generate(Path(self._tmp.name))
            certfile, keyfile, self.fingerprint = cert.certfile, cert.keyfile, cert.fingerprint
        alpns = alpns_for(cfg.versions) + ([moqt07.ALPN] if cfg.moqt07 else []) + [ALPN_H3]
        if cfg.transport.max_streams is None:
            cfg.transport.max_streams = cfg.limits.session.streams
        # With port 0 the OS picks a free UDP port; TCP then wants the same number, which another
        # program may hold: pick again a few times.
        for attempt in range(10 if cfg.port == 0 else 1):
            self._quic = await serve(
                cfg.host, cfg.port, certfile=str(certfile), keyfile=str(keyfile), alpns=alpns,
                on_session=self._on_session,
                select_protocol=lambda offered: select_protocol(offered, cfg.versions), config=cfg.transport,
            )
            self.port = bound_port(self._quic)
            if not cfg.http:
                break
            side = HttpSide(self.origin, self.fingerprint, self._counts)
            host = None if cfg.host in ("::", "0.0.0.0", "") else cfg.host
            try:
                self._http = await asyncio.start_server(side.handle, host, self.port, reuse_address=True)
                break
            except OSError as exc:
                self._quic.close()
                if attempt == 9 or cfg.port != 0:
                    raise HangError(f"cannot listen on TCP port {self.port}: {exc.strerror}") from None
        log.info("relay listening on %s port %d (UDP: WebTransport + QUIC%s), versions %s%s",
                 cfg.host, self.port, ", TCP: HTTP" if cfg.http else "",
                 " ".join(v.label for v in cfg.versions), " draft-07" if cfg.moqt07 else "")
        log.info("certificate sha-256 %s", self.fingerprint)

    def _on_session(self, transport: Session) -> None:
        task = asyncio.ensure_future(self._run_session(transport))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_session(self, transport: Session) -> None:
        limit = self.config.limits.sessions
        if limit is not None and len(self._tasks) > limit:
            log.warning("session %s (%s) refused: over the limit of %d sessions", transport.remote,
                        transport.kind, limit)
            transport.close(ErrorCode.BOUNDS_EXCEEDED, "too many sessions")
            return
        opened = time.monotonic()
        try:
            session = await asyncio.wait_for(self._handshake(transport), HANDSHAKE_TIMEOUT)
        except Unauthorized as exc:
            log.warning("session %s (%s) refused: unauthorized: %s", transport.remote, transport.kind, exc)
            return
        except (TimeoutError, HangError) as exc:
            code = ErrorCode.TIMEOUT if isinstance(exc, TimeoutError) else 0
            if isinstance(exc, ProtocolError):
                code = exc.error_code
            log.warning("session %s (%s) failed its handshake: %s", transport.remote, transport.kind,
                        exc or "timed out")
            transport.close(code, "handshake failed")
            return
        self.sessions.add(session)
        self._counts["sessions"] = len(self.sessions)
        self._counts["sessions_total"] += 1
        log.info("session open %s %s %s path=%s", transport.remote, transport.kind,
                 session.version.label, urlsplit(session.path).path or "/")
        try:
            reason = await session.closed
        finally:
            self.sessions.discard(session)
            self._counts["sessions"] = len(self.sessions)
        log.info("session closed %s %s code=%d%s after %.1fs", transport.remote, session.version.label,
                 reason.code, f" ({reason.reason})" if reason.reason else "", time.monotonic() - opened)

    async def _handshake(self, transport: Session) -> AnySession:
        """Tell the protocol apart (ALPN, or the first stream on WebTransport) and run its setup."""
        draft07 = transport.protocol == moqt07.ALPN
        if self.config.moqt07 and transport.kind == "webtransport" and not transport.protocol:
            kind, transport = await peek_first_stream(transport)
            draft07 = kind == moqt07.MessageType.CLIENT_SETUP
        session: AnySession
        if draft07:
            session = Moqt07Session(transport, is_server=True, publish=self.origin, subscribe=self.origin,
                                    options=Moqt07Options(max_subscribes=self.config.max_subscribes),
                                    limits=self.config.limits.session)
        else:
            session = MoqSession(transport, is_server=True, versions=self.config.versions,
                                 publish=self.origin, subscribe=self.origin, origin_id=self.origin_id,
                                 limits=self.config.limits.session)
        session.on_ready = self._scope
        try:
            await session.start()
        except ProtocolError as exc:
            session.close(session.close_code(exc), "unauthorized" if isinstance(exc, Unauthorized) else
                          "handshake failed")
            raise
        return session

    def _scope(self, session: AnySession) -> None:
        # As the official relay does, the path a client connects to is the root of everything it
        # publishes and sees: "/anon" + "room/alice" is "anon/room/alice" on the relay.
        auth = self.config.auth
        grants = auth.authorize(session.path) if auth is not None else Grants.everything()
        setup = session.peer_setup if isinstance(session, MoqSession) else None
        role = setup.varint(SetupParam.ROLE) if setup is not None else None
        if (role == ROLE_PUBLISHER and not grants.publish) or (role == ROLE_SUBSCRIBER and not grants.subscribe):
            # As upstream: a lite-05 client that says it will only publish (or only subscribe)
            # is refused at once when its token grants nothing in that direction.
            raise Unauthorized(f"the token grants nothing for the client's role ({role})")
        root = normalize_path(urlsplit(session.path).path)
        view = self.origin.scope(root) if root else self.origin
        session.publish_origin, session.subscribe_origin = guard(view, grants)
        if auth is not None:
            log.info("session %s authorized at /%s: publish %s, subscribe %s", session.label, root,
                     _listed(grants.publish), _listed(grants.subscribe))
        left = grants.seconds_left()
        if left is not None:
            # As upstream: the token's exp bounds the whole session, not just its start.
            asyncio.get_running_loop().call_later(left, self._expire, session)

    @staticmethod
    def _expire(session: AnySession) -> None:
        if not session.closed.done():
            log.info("session %s: token expired, closing", session.label)
            session.close(session.close_code(Unauthorized()), "token expired")

    async def stop(self, timeout: float = 2.0) -> None:
        """Stop listening and close every session, waiting at most ``timeout`` seconds."""
        if self._http is not None:
            self._http.close()
        sessions = list(self.sessions)
        await asyncio.gather(*(s.send_goaway() for s in sessions), return_exceptions=True)
        if sessions:
            await asyncio.sleep(0.05)  # let the GOAWAYs leave before the close
        for session in sessions:
            session.close(0, "relay shutting down")
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=timeout)
        if self._quic is not None:
            await asyncio.sleep(0.05)  # let the close frames leave
            self._quic.close()
        if self._http is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._http.wait_closed(), timeout)
        if self._tmp is not None:
            self._tmp.cleanup()
        log.info("relay stopped")

    async def __aenter__(self) -> Relay:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
