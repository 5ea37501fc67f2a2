"""The player side: a Hang media track back into timestamped, keyframe-flagged payloads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from hang.catalog.models import Container
from hang.errors import MediaError
from hang.media import cmaf
from hang.media.container import decode_frame
from hang.model.track import TrackConsumer


@dataclass(frozen=True)
class MediaFrame:
    """One decodable unit: presentation time, whether a decoder can start here, and the codec payload."""

    timestamp_us: int
    keyframe: bool
    payload: bytes
    group: int


class MediaReader:
    """Unwraps frames of one rendition according to its catalog ``container``."""

    def __init__(self, container: Container | None = None) -> None:
        kind = container.kind if container else "legacy"
        if kind not in ("legacy", "cmaf"):
            raise MediaError(f"container kind {kind!r} is not supported")
        self.kind = kind
        self.scales = cmaf.timescales(container.init) if kind == "cmaf" and container and container.init else {}

    def unwrap(self, frame: bytes, group: int, first_in_group: bool) -> list[MediaFrame]:
        """The media units in one Hang frame (a legacy frame holds one; a CMAF fragment may hold several)."""
        if self.kind == "legacy":
            timestamp, payload = decode_frame(frame)
            if not payload:
                return []
            return [MediaFrame(timestamp, first_in_group, payload, group)]
        return [MediaFrame(s.timestamp_us, s.keyframe, s.payload, group)
                for s in cmaf.parse_fragment(frame, self.scales)]

    async def frames(self, track: TrackConsumer) -> AsyncIterator[MediaFrame]:
        """Every media unit of ``track`` in order, group by group (frame 0 of a group is the keyframe)."""
        while (group := await track.next_group()) is not None:
            first = True
            while (frame := await group.read_frame()) is not None:
                for unit in self.unwrap(frame.payload, group.sequence, first):
                    yield unit
                first = False
