"""State shared by the halves of an IETF MoQ Transport draft-07 session, and path <-> namespace."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from hang.errors import InvalidPath, ProtocolError
from hang.model.origin import Origin
from hang.session.base import SessionBase, log
from hang.session.limits import SessionLimits
from hang.session.publisher import DEFAULT_SKIP_AFTER
from hang.transport.base import SendStream, Session
from hang.wire.coding import normalize_path
from hang.wire.moqt07 import ControlMessage, Draft, Namespace, encode_control


@dataclass
class Moqt07Options:
    """How a draft-07 session behaves."""

    #: Follow the Cloudflare relay's deviations (subgroup header with Subscribe ID, no PATH, no
    #: MAX_SUBSCRIBE_ID, no FETCH / SUBSCRIBE_ANNOUNCES / SUBSCRIBE_UPDATE, HTTP-like codes).
    cloudflare: bool = False
    #: Subscriptions (and fetches) the peer may have open at once: our MAX_SUBSCRIBE_ID window.
    max_subscribes: int = 100
    #: Seconds behind after which a subscriber skips to the newest group.
    skip_after: float = DEFAULT_SKIP_AFTER


def namespace_path(namespace: Namespace) -> str:
    """The broadcast path of a namespace tuple: its fields joined with ``/``."""
    if any(not part or "/" in part for part in namespace):
        raise InvalidPath(f"namespace {namespace!r} has an empty field or a field with '/'")
    return normalize_path("/".join(namespace))


def path_namespace(path: str) -> Namespace:
    """The namespace tuple of a broadcast path (one field per segment)."""
    path = normalize_path(path)
    if not path:
        raise InvalidPath("an empty path has no draft-07 namespace")
    return tuple(path.split("/"))


def to_draft_priority(priority: int) -> int:
    """moq-lite priority (higher first) to a draft-07 one (lower first), 0 -> 128."""
    return max(0, min(255, 128 - priority))


class Moqt07Base(SessionBase):
    """The control stream, options and origins of a draft-07 session."""

    def __init__(self, transport: Session, *, is_server: bool, publish: Origin | None,
                 subscribe: Origin | None, options: Moqt07Options, limits: SessionLimits | None = None) -> None:
        super().__init__(transport, publish=publish, subscribe=subscribe if subscribe is not None else Origin(),
                         origin_id=0, limits=limits)
        self.is_server = is_server
        self.options = options
        self.control: SendStream | None = None
        #: Path from the PATH setup parameter (raw QUIC) or the WebTransport URL.
        self.setup_path = ""
        self.goaway: str | None = None
        self.going_away = asyncio.Event()
        #: Paths the peer announced to us (never announced back to it).
        self.remote_paths: set[str] = set()

    @property
    def version(self) -> Draft:  # type: ignore[override]
        """The negotiated version (always draft-07)."""
        return Draft.DRAFT_07

    @property
    def cloudflare(self) -> bool:
        """True in the Cloudflare compatibility profile."""
        return self.options.cloudflare

    @property
    def learnt_origin(self) -> Origin:
        """Where broadcasts the peer announces are published."""
        assert self.subscribe_origin is not None
        return self.subscribe_origin

    def close_code(self, error: ProtocolError) -> int:
        return int(error.moqt_code)

    def send_control(self, message: ControlMessage) -> None:
        """Write a control message on the control stream."""
        if self.control is None or self.closed.done():
            return
        log.debug("%s: -> %s", self.label, message)
        self.control.write_nowait(encode_control(message))
