"""Discovery: participants appear when their broadcast is announced and go when it ends."""

from __future__ import annotations

import logging
from collections.abc import Callable

from hang.session.client import ClientSession
from hang.watch.participant import FrameSink, Limits, Participant, UnitSink

log = logging.getLogger("hang.watch")


class Room:
    """The participants under a prefix (or the one broadcast named)."""

    def __init__(self, session: ClientSession, prefix: str, *, only: str | None = None, limits: Limits | None = None,
                 sinks: list[FrameSink] | None = None, unit_sinks: list[UnitSink] | None = None,
                 on_change: Callable[[Room], None] | None = None) -> None:
        self.session = session
        self.prefix = prefix
        self.only = only
        self.limits = limits or Limits()
        self.sinks = sinks or []
        self.unit_sinks = unit_sinks or []
        self.on_change = on_change
        self.participants: dict[str, Participant] = {}

    async def run(self) -> None:
        """Follow announcements until the session ends."""
        try:
            async for announcement in self.session.announced(self.prefix):
                path = announcement.path
                if self.only is not None and path != self.only:
                    continue
                if announcement.active and path not in self.participants:
                    participant = Participant(self.session, path, self.limits, self.sinks, self.unit_sinks)
                    self.participants[path] = participant
                    participant.start()
                    log.info("%s joined", path)
                elif not announcement.active and path in self.participants:
                    self.participants.pop(path).stop()
                    log.info("%s left", path)
                else:
                    continue
                if self.on_change is not None:
                    self.on_change(self)
        finally:
            self.close()

    def close(self) -> None:
        """Stop every participant."""
        for participant in self.participants.values():
            participant.stop()
        self.participants.clear()

