"""Per-session limits: what one peer may hold open at once, and how big its messages may be."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from hang.wire.constants import MAX_FRAME_SIZE, MAX_MESSAGE_SIZE


@dataclass
class SessionLimits:
    """Bounds on what the peer of one session may make us hold; None means unbounded.

    A message or frame over its size closes the session (BoundsExceeded); a stream, subscription
    or announce request over its count is refused on its own stream (BoundsExceeded); announcing
    more broadcasts than allowed closes the session.
    """

    #: Streams the peer opened that are served at the same time.
    streams: int | None = None
    #: SUBSCRIBE requests from the peer served at the same time.
    subscriptions: int | None = None
    #: ANNOUNCE requests (announcement watchers) from the peer open at the same time.
    announce_requests: int | None = None
    #: Broadcasts the peer may have announced at the same time.
    announcements: int | None = None
    #: Largest control message, in bytes.
    message_size: int = MAX_MESSAGE_SIZE
    #: Largest media frame, in bytes.
    frame_size: int = MAX_FRAME_SIZE
    #: Bytes of recent groups kept per track subscribed from the peer; a single group larger than
    #: this is aborted (BoundsExceeded) instead of being cached. None: the track default
    #: (:data:`~hang.model.track.DEFAULT_CACHE_BYTES`), and the newest group is kept whatever its size.
    cache_bytes: int | None = None

    @staticmethod
    def over(count: int, limit: int | None) -> bool:
        """True when ``count`` items would exceed ``limit``."""
        return limit is not None and count > limit


class Usage:
    """What a session currently holds, counted against its :class:`SessionLimits`."""

    def __init__(self, limits: SessionLimits) -> None:
        self.limits = limits
        self.counts: Counter[str] = Counter()

    def acquire(self, what: str) -> bool:
        """Count one more ``what`` (a SessionLimits field name); False, and nothing counted, if over."""
        limit: int | None = getattr(self.limits, what)
        if SessionLimits.over(self.counts[what] + 1, limit):
            return False
        self.counts[what] += 1
        return True

    def release(self, what: str) -> None:
        """One ``what`` is gone."""
        self.counts[what] -= 1
