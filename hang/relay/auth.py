"""Who may publish and subscribe what: a session's token (or public access) turned into grants.

The rules follow the official relay (``moq-relay`` ``auth.rs`` and ``moq-token`` ``claims.rs``):
the token rides as ``?jwt=`` in the URL (the WebTransport path, or the lite-05 SETUP Path on raw
QUIC); the connection path must extend the token's root or be a parent of it; grants are
rebased onto the connection path, which becomes the root of everything the session sees. With no
token, public prefixes (``--public``) apply if one of them overlaps the connection path.
Anything else refuses the whole session with Unauthorized.

:class:`Grants` and :meth:`Authenticator.authorize` do not depend on the session protocol, so
other session kinds (e.g. IETF drafts) can reuse them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from hang.errors import Unauthorized
from hang.model.broadcast import BroadcastConsumer
from hang.model.origin import AnnouncementConsumer, Origin
from hang.relay.token import Claims, Key, TokenError, normalize
from hang.wire.coding import strip_prefix

log = logging.getLogger("hang.relay")


def _under(prefixes: tuple[str, ...], path: str) -> bool:
    path = normalize(path)
    return any(strip_prefix(prefix, path) is not None for prefix in prefixes)


@dataclass(frozen=True)
class Grants:
    """What one session may do. Prefixes are relative to the path it connected to ("" = all)."""

    publish: tuple[str, ...] = ("",)
    subscribe: tuple[str, ...] = ("",)
    #: Unix time at which the grant ends (the session is then closed), if any.
    expires: float | None = None

    @classmethod
    def everything(cls) -> Grants:
        """Full access (a relay without ``--auth-key``)."""
        return cls()

    def can_publish(self, path: str) -> bool:
        """May the session announce a broadcast at ``path`` (relative to its connection path)?"""
        return _under(self.publish, path)

    def can_subscribe(self, path: str) -> bool:
        """May the session see and subscribe to the broadcast at ``path``?"""
        return _under(self.subscribe, path)

    def seconds_left(self, now: float | None = None) -> float | None:
        """Seconds until the grant expires (None: never)."""
        if self.expires is None:
            return None
        return max(0.0, self.expires - (time.time() if now is None else now))


def split_path(path_and_query: str) -> tuple[str, str | None]:
    """``"/room?a=1&jwt=TOKEN"`` -> ``("/room", "TOKEN")``; the last non-empty ``jwt`` wins."""
    parts = urlsplit(path_and_query)
    tokens = [value for key, value in parse_qsl(parts.query, keep_blank_values=True) if key == "jwt" and value]
    return parts.path or "/", tokens[-1] if tokens else None


class Authenticator:
    """Checks sessions against one verifying key and/or public prefixes."""

    def __init__(self, key: Key | None = None, public: Sequence[str] = ()) -> None:
        self.key = key
        #: Prefixes anyone may publish and subscribe under without a token.
        self.public = tuple(normalize(p) for p in public)

    @classmethod
    def from_file(cls, key_file: str | Path | None, public: Sequence[str] = ()) -> Authenticator:
        """Load the key file (JWK JSON or base64url JWK, as ``moq-token`` writes)."""
        try:
            key = Key.load(key_file) if key_file is not None else None
        except TokenError as exc:
            raise TokenError(f"{key_file}: {exc}") from None
        return cls(key, public)

    def authorize(self, path_and_query: str) -> Grants:
        """The grants of a session connected to ``path_and_query``, or :class:`Unauthorized`."""
        path, token = split_path(path_and_query)
        try:
            claims = self._claims(path, token)
            permissions = claims.authorize(path)
        except TokenError as exc:
            raise Unauthorized(str(exc)) from None
        return Grants(tuple(permissions.publish), tuple(permissions.subscribe),
                      float(claims.expires) if claims.expires is not None else None)

    def _claims(self, path: str, token: str | None) -> Claims:
        if token is not None:
            if self.key is None:
                raise TokenError("a token was given but the relay has no key")
            return self.key.verify(token)
        root = normalize(path)
        if any(strip_prefix(p, root) is not None or strip_prefix(root, p) is not None for p in self.public):
            return Claims("", list(self.public), list(self.public))
        raise TokenError("a token was expected")


class GuardedOrigin(Origin):
    """A view of an origin that only lets through the paths ``allow`` accepts.

    ``publish`` and ``consume`` raise :class:`Unauthorized` for other paths, and announcements of
    them are not shown.
    """

    def __init__(self, view: Origin, allow: Callable[[str], bool]) -> None:
        super().__init__()
        self._state = view._state
        self.root = view.root
        self._allow = allow

    def publish(self, path: str, broadcast: BroadcastConsumer, hops: tuple[int, ...] = ()) -> None:
        """Publish ``broadcast`` if the path is allowed."""
        if not self._allow(path):
            raise Unauthorized(f"publishing {path!r} is not granted")
        super().publish(path, broadcast, hops)

    def consume(self, path: str) -> BroadcastConsumer | None:
        """The broadcast at ``path`` if the path is allowed."""
        if not self._allow(path):
            raise Unauthorized(f"subscribing to {path!r} is not granted")
        return super().consume(path)

    def announced(self, prefix: str = "", allow: Callable[[str], bool] | None = None) -> AnnouncementConsumer:
        """Announcements under ``prefix``, only of allowed paths."""
        if allow is None:
            return super().announced(prefix, self._allow)
        outer = allow
        return super().announced(prefix, lambda path: self._allow(path) and outer(path))


def guard(view: Origin, grants: Grants) -> tuple[Origin, Origin | None]:
    """(what the session may see, where its announcements may go) for a relay session.

    The second is None when the session may publish nothing: the relay then does not even ask it
    for announcements.
    """
    publish = view if grants.subscribe == ("",) else GuardedOrigin(view, grants.can_subscribe)
    if not grants.publish:
        return publish, None
    subscribe = view if grants.publish == ("",) else GuardedOrigin(view, grants.can_publish)
    return publish, subscribe
